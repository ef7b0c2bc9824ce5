"""The engine as the web layer sees it: ``core.status.ControlPlaneView`` and ``WebhookReceiver``.

Kept apart from the engine's machinery so the read side is easy to audit: every view method here
is cheap and synchronous (memory or one indexed SQLite query on the store's reading connection,
never git), as the Protocol requires, because the dashboard and the API call them on every
request. The webhook receiver's delivery log is written, so those two methods are async and run
on the store's thread like every other write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from gitops_ingress.core.diff import RouteDiff, diff_environments
from gitops_ingress.core.routing import RouteTable, RoutingState
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import BranchStatus, SyncRecord, SyncState
from gitops_ingress.sync.events import EventBus, Subscription
from gitops_ingress.sync.metrics import SyncMetrics
from gitops_ingress.sync.protocols import RepoSource
from gitops_ingress.sync.records import BranchRecord, UrlFor
from gitops_ingress.sync.routebook import RouteBook
from gitops_ingress.sync.store import Store
from gitops_ingress.sync.storewriter import StoreWriter
from gitops_ingress.sync.watcher import Noticed, Watcher

T = TypeVar("T")


class ViewMixin:
    _settings: Settings
    _records: dict[str, BranchRecord]
    _book: RouteBook
    _store: Store
    _url_for: UrlFor
    _watcher: Watcher
    bus: EventBus
    metrics: SyncMetrics
    _remote_error: str | None
    _repo: RepoSource
    _set_remote_error: Callable[[str | None], None]  # the engine's: publishes the change
    _writer: StoreWriter  # one thread: the store's writes, in order, grouped per burst

    async def _in_store(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store call on the store's own thread: a write is a transaction and disk work, which
        must not hold up the loop (the web app and the proxy of ``serve`` run on it)."""
        return await self._writer.run(call, *args, **kwargs)

    # -- ControlPlaneView -----------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._settings

    def _status(self, record: BranchRecord) -> BranchStatus:
        status = record.status(self._settings.preview_domain, self._url_for)  # cached until it changes
        if self._remote_error and record.state is not SyncState.DELETED:
            note = f"remote unavailable ({self._remote_error}); last good routes keep serving"
            message = f"{note}; {status.message}" if status.message else note
            status = status.model_copy(update={"state": SyncState.ERROR, "message": message})
        return status

    @property
    def remote_error(self) -> str | None:
        """The repository's fault, or None. Reading it (the readiness probe does, on the loop)
        checks the mirror with one stat: a mirror deleted under the running service is reported
        at once and fetched again at once (that fetch makes it anew), not at the next poll."""
        missing = self._repo.missing()
        if missing is not None and self._remote_error is None:
            self._set_remote_error(missing)
            self._watcher.request(None)
        return self._remote_error

    def branches(self) -> Sequence[BranchStatus]:
        return [self._status(self._records[name]) for name in self.branch_names()]

    def branch_names(self) -> Sequence[str]:
        return sorted(self._records, key=lambda name: (not self._records[name].stable, name))

    def branch(self, name: str) -> BranchStatus | None:
        record = self._records.get(name)
        return self._status(record) if record is not None else None

    def routes(self, branch: str) -> Mapping[str, RouteTable] | None:
        record = self._records.get(branch)
        return record.applied_tables if record is not None else None

    def diff(self, branch: str) -> RouteDiff | None:
        head = self.routes(branch)
        if head is None:
            return None
        base = self.routes(self._settings.stable_branch) or {}
        return diff_environments(base, head)

    def history(self, branch: str | None = None, limit: int = 50) -> Sequence[SyncRecord]:
        return self._store.history(branch, limit)

    def routing_state(self) -> RoutingState:
        return self._book.published  # what the proxies serve, never ahead of them

    def subscribe_routes(self, listener: Callable[[RoutingState], None]) -> Callable[[], None]:
        """Call ``listener`` (on the loop, without blocking) with every new routing state: the
        engine's one state, which the control-plane stream and the embedded proxy follow."""
        return self._book.subscribe(listener)

    def subscribe(self) -> Subscription:
        return self.bus.subscribe()

    # -- WebhookReceiver ------------------------------------------------------------------

    def known_delivery(self, delivery_id: str) -> bool:
        return self._store.delivery_known(delivery_id)

    async def seen_delivery(self, delivery_id: str) -> bool:
        received_at = datetime.now(UTC).isoformat()
        return not await self._in_store(self._store.record_delivery, delivery_id, "", received_at)

    async def record_delivery(self, forge: str, result: str, delivery_id: str | None = None) -> None:
        """Count a delivery by outcome (accepted, ignored, replayed, unauthorized, ...)."""
        self.metrics.webhook_deliveries.labels(forge, result).inc()
        if delivery_id:
            await self._in_store(self._store.delivery_result, delivery_id, result, forge)

    async def push(self, branch: str | None, deleted: bool, received: float | None = None) -> None:
        # deleted or not, the fetch decides: the remote is the truth, never the payload
        self._watcher.request(branch, None if received is None else Noticed.at_clock(received))
