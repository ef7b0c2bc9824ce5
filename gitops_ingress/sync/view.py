"""The engine as the web layer sees it: ``core.status.ControlPlaneView`` and ``WebhookReceiver``.

Kept apart from the engine's machinery so the read side is easy to audit: every method here is
cheap and synchronous (memory or one indexed SQLite query, never git), as the Protocol requires,
because the dashboard and the API call them on every request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from gitops_ingress.core.diff import RouteDiff, diff_environments
from gitops_ingress.core.routing import RouteTable, RoutingState
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import BranchStatus, SyncRecord, SyncState
from gitops_ingress.sync.events import EventBus, Subscription
from gitops_ingress.sync.metrics import SyncMetrics
from gitops_ingress.sync.records import BranchRecord, UrlFor, to_status
from gitops_ingress.sync.routebook import RouteBook
from gitops_ingress.sync.store import Store
from gitops_ingress.sync.watcher import Watcher


class ViewMixin:
    _settings: Settings
    _records: dict[str, BranchRecord]
    _book: RouteBook
    _store: Store
    _url_for: UrlFor
    _watcher: Watcher
    bus: EventBus
    metrics: SyncMetrics
    remote_error: str | None

    # -- ControlPlaneView -----------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._settings

    def _status(self, record: BranchRecord) -> BranchStatus:
        status = to_status(record, self._settings.preview_domain, self._url_for)
        if self.remote_error and record.state is not SyncState.DELETED:
            note = f"remote unavailable ({self.remote_error}); last good routes keep serving"
            message = f"{note}; {status.message}" if status.message else note
            status = status.model_copy(update={"state": SyncState.ERROR, "message": message})
        return status

    def branches(self) -> Sequence[BranchStatus]:
        ordered = sorted(self._records.values(), key=lambda r: (not r.stable, r.name))
        return [self._status(record) for record in ordered]

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
        return self._book.state

    def subscribe(self) -> Subscription:
        return self.bus.subscribe()

    # -- WebhookReceiver ------------------------------------------------------------------

    def seen_delivery(self, delivery_id: str) -> bool:
        return not self._store.record_delivery(delivery_id, "", datetime.now(UTC).isoformat())

    def record_delivery(self, forge: str, result: str, delivery_id: str | None = None) -> None:
        """Count a delivery by outcome (accepted, ignored, replayed, unauthorized, ...)."""
        self.metrics.webhook_deliveries.labels(forge, result).inc()
        if delivery_id:
            self._store.delivery_result(delivery_id, result, forge)

    async def push(self, branch: str | None, deleted: bool) -> None:
        # deleted or not, the fetch decides: the remote is the truth, never the payload
        self._watcher.request(branch)
