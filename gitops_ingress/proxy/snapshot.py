"""What the proxy routes with: one immutable snapshot, swapped atomically.

A snapshot pairs the routing state (stable and preview route tables) with the endpoint resolver
that says where each Service lives. Route sources (files, the control plane, Kubernetes) build a
new snapshot off the request path and hand it to ``SnapshotHolder.swap``; the request path reads
``holder.current`` once per request and keeps that object for the whole request, so a swap never
changes the routing of a request in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gitops_ingress.core.backends import BackendMap, Endpoint
from gitops_ingress.core.htpasswd import Htpasswd
from gitops_ingress.core.routing import RoutingState, ServiceRef

EndpointResolver = Callable[[ServiceRef], tuple[Endpoint, ...]]


def _no_endpoints(ref: ServiceRef) -> tuple[Endpoint, ...]:
    return ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    state: RoutingState = field(default_factory=RoutingState)
    endpoints: EndpointResolver = _no_endpoints
    source: str = ""  # where it came from, for logs and /readyz ("files", "controller", ...)
    # a Service's own address (its cluster IP), for routes with service-upstream; () where the
    # source knows none (the backend map: its URLs already are where the Service lives)
    addresses: EndpointResolver = _no_endpoints
    # the htpasswd of each Secret an auth-type: basic route names, by BasicAuth.secret_key
    # (proxy/secrets.py); a route whose Secret is missing here answers 503
    credentials: Mapping[tuple[str, str, str], Htpasswd] = field(default_factory=dict)

    @classmethod
    def from_backend_map(
        cls,
        state: RoutingState,
        backends: BackendMap,
        source: str = "",
        credentials: Mapping[tuple[str, str, str], Htpasswd] | None = None,
    ) -> Snapshot:
        return cls(state, backends.endpoints, source, credentials=credentials or {})


class SnapshotHolder:
    """The current snapshot. Swapping is one attribute assignment, atomic under the GIL; the
    listeners (metrics, readiness) are called from the swapping thread or task."""

    def __init__(self, initial: Snapshot | None = None) -> None:
        self.current: Snapshot = initial or Snapshot()
        self.ready: bool = initial is not None
        self.reloads: int = 0
        self._listeners: list[Callable[[Snapshot], None]] = []
        self._lock = threading.Lock()

    def swap(self, snapshot: Snapshot) -> None:
        with self._lock:
            self.current = snapshot
            self.ready = True
            self.reloads += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener(snapshot)

    def subscribe(self, listener: Callable[[Snapshot], None]) -> None:
        with self._lock:
            self._listeners.append(listener)
