"""The control plane's state as the web layer sees it: the contract between ``sync`` and ``web``.

``sync`` implements ``ControlPlaneView``; ``web`` (API, dashboard, webhooks) depends only on this
module, and ``cli`` wires the two. Status objects are frozen pydantic models so they serialise
straight into the JSON API and its OpenAPI document.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from gitops_ingress.core.annotations.usage import AnnotationUse
from gitops_ingress.core.diff import RouteDiff
from gitops_ingress.core.findings import Finding
from gitops_ingress.core.routing import RouteTable, RoutingState, ServiceRef
from gitops_ingress.core.settings import Settings

# Whether the proxy has a ready endpoint for a Service port: the dashboard marks the Services it
# has none for (their requests answer 503 whatever the sync state says). The cli passes one when
# it knows (the local target's backend map); without one nothing is marked.
EndpointCheck = Callable[[ServiceRef], bool]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class SyncState(str, enum.Enum):
    PENDING = "pending"  # seen, not reconciled yet
    APPLIED = "applied"  # the head commit is live
    REFUSED = "refused"  # the head commit failed validation; the last good state keeps serving
    ERROR = "error"  # the target or the repository failed; retrying with back-off
    STANDBY = "standby"  # another replica leads and applies; this one waits (nothing to fix)
    DELETED = "deleted"  # the branch is gone; its previews are removed (after deleted_preview_grace)
    EXPIRED = "expired"  # no push for preview_ttl: its previews are removed until the next push
    CAPPED = "capped"  # refused by max_previews: its previews wait for room (or the next push)


class CommitInfo(_Frozen):
    sha: str
    author: str = ""
    email: str = ""
    message: str = ""
    time: str = ""  # ISO 8601


class PreviewURL(_Frozen):
    environment: str
    host: str  # the preview host
    url: str
    stable_host: str  # the rule host it previews ("" for host-less rules)


class EnvironmentStatus(_Frozen):
    """One environment of a branch. A commit is one unit: an error in any environment refuses it
    in all of them, so each environment says which commit it is about, which one is live in it,
    and, when they differ, why."""

    environment: str
    # of ``commit`` here: applied, refused (by this environment's errors or another's: see
    # ``refused_by``), pending (a newer head not synced yet), error or standby (its sync failed or
    # waits for the leader); ``findings`` are ``commit``'s findings in this environment
    state: SyncState
    commit: str | None = None  # the head this state is about (None: not known yet)
    applied_commit: str | None = None  # the commit live in this environment (None: nothing is)
    route_count: int = 0  # routes live in this environment (of ``applied_commit``)
    findings: tuple[Finding, ...] = ()
    reason: str = ""  # why ``commit`` is not live here, in one line ("" when it is)
    refused_by: tuple[str, ...] = ()  # the environments whose errors refused ``commit``
    # ``commit``'s ingress-nginx annotations here and how they are treated (core/reports/annotation_table.py)
    annotations: tuple[AnnotationUse, ...] = ()


class BranchStatus(_Frozen):
    name: str
    slug: str
    stable: bool = False
    state: SyncState = SyncState.PENDING
    head: CommitInfo | None = None
    applied_commit: str | None = None
    message: str = ""  # why the head was refused, or what failed
    environments: tuple[EnvironmentStatus, ...] = ()
    preview_urls: tuple[PreviewURL, ...] = ()
    updated_at: str = ""
    deleted_at: str | None = None

    @property
    def findings(self) -> list[Finding]:
        return [finding for env in self.environments for finding in env.findings]


class SyncRecord(_Frozen):
    id: int
    branch: str
    commit: str
    environment: str = ""
    started_at: str
    duration_ms: float
    result: str  # "applied" | "unchanged" | "refused" | "error" | "removed" | "expired" | "capped"
    message: str = ""
    findings: tuple[Finding, ...] = ()
    files_parsed: int = 0
    # when the control plane noticed the push that brought the commit (its webhook delivery, else
    # the fetch that found it; "" when unknown, e.g. rows older than this field)
    noticed_at: str = ""
    # from noticed_at until the commit's routes went live; None when they did not (refused,
    # error) or the time is unknown
    push_to_live_ms: float | None = None


class ControlPlaneEvent(_Frozen):
    sequence: int
    # "branch" (status changed), "sync" (a sync finished), "deleted", "routes" (the routing
    # state changed: data["version"]), "remote" (fetching failed or recovered: data["error"])
    type: str
    branch: str
    data: dict[str, Any] = Field(default_factory=dict)


class RoutingFeed(Protocol):
    """The engine's one routing state and its changes: what the control-plane stream and the
    proxy embedded in ``serve`` follow. Implemented by ``sync``."""

    def routing_state(self) -> RoutingState: ...

    def subscribe_routes(self, listener: Callable[[RoutingState], None]) -> Callable[[], None]:
        """Call ``listener`` on the loop, without blocking, with every new routing state until
        the returned function is called."""


class ControlPlaneView(RoutingFeed, Protocol):
    """What the web layer reads. Implemented by ``sync``; every method is cheap (no git I/O)."""

    @property
    def settings(self) -> Settings: ...

    def branches(self) -> Sequence[BranchStatus]: ...

    def branch_names(self) -> Sequence[str]:
        """Every branch's name in the order of ``branches()`` (the stable branch first, then by
        name), without building the statuses: what a page of them is chosen from."""

    def branch(self, name: str) -> BranchStatus | None: ...

    def routes(self, branch: str) -> Mapping[str, RouteTable] | None:
        """The applied route tables of a branch, by environment."""

    def diff(self, branch: str) -> RouteDiff | None:
        """The branch's applied routes against the stable branch's."""

    def history(self, branch: str | None = None, limit: int = 50) -> Sequence[SyncRecord]: ...

    @property
    def remote_error(self) -> str | None:
        """Why the config repository cannot be fetched now (git's whole message), or None."""

    def subscribe(self) -> AsyncIterator[ControlPlaneEvent]:
        """Live events from now on, for Server-Sent Events. The subscription is registered when
        this is called, and has ``aclose()`` to unregister it."""


class WebhookReceiver(Protocol):
    """What the webhook endpoints call once a delivery is authenticated and parsed."""

    async def seen_delivery(self, delivery_id: str) -> bool:
        """Record a delivery id; True when it was seen before (a replay)."""

    async def record_delivery(self, forge: str, result: str, delivery_id: str | None = None) -> None:
        """Count a delivery's outcome ("accepted", "ignored", "replayed", "unauthorized",
        "malformed", "too_large") for metrics and the delivery log."""

    async def push(self, branch: str | None, deleted: bool, received: float | None = None) -> None:
        """Fetch ``branch`` (None: every branch) from the configured remote, debounced.
        ``received``: when the delivery arrived, on ``time.monotonic()`` (None: now), the moment
        its push counts as noticed for push-to-live."""
