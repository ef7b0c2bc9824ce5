"""Where a request goes: the proxy's own answer, or a Service and the names to send it under.

This is the routing step of every request, kept apart from the byte-moving in exchange.py: it
reads the current snapshot once (so a reload never changes a request half-way), asks the core
``RoutingState.resolve`` (the proxy has no matching of its own), and turns every outcome that
needs no upstream into a finished page: 405 for CONNECT, 400 for a bad absolute-form target,
308 to https for TLS hosts reached over plain HTTP, 404 of the built-in default backend (and for
``resource`` backends, which an L7 proxy cannot serve), 503 when a Service has no endpoint.

What a (Host, path) pair resolves to is remembered in a ``RouteCache`` per server, keyed by the
raw Host bytes and the target without its query (matching ignores the query), and valid for one
snapshot object only: the first request after a swap finds a different snapshot and starts an
empty cache. Resolving (decoding, ``normalize_host``, two table lookups, a Resolution, the
endpoint lookup with its dataclass hashes) was about a fifth of the proxy's own time per request;
a hit is one tuple and one dict lookup, whatever the size of the route table. Snapshots are
immutable (proxy/snapshot.py), so nothing else can make an entry stale. The cache is bounded
and simply emptied when full, so a flood of distinct hosts or paths costs a miss each, nothing
more. The TLS redirect is decided before it (certificates change apart from snapshots).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from httptools import HttpParserInvalidURLError, parse_url

from gitops_ingress.core.routing import ServiceRef, normalize_host
from gitops_ingress.proxy import pages
from gitops_ingress.proxy.forwarding import valid_host

if TYPE_CHECKING:
    from gitops_ingress.core.backends import Endpoint
    from gitops_ingress.core.routing import Resolution
    from gitops_ingress.proxy.exchange import Exchange
    from gitops_ingress.proxy.observe import ProxyObserver, RequestCounter
    from gitops_ingress.proxy.snapshot import Snapshot

log = logging.getLogger("gitops_ingress.proxy")

LocalAnswer = tuple[bytes, bool]  # (whole response, close the connection after it)
# kind, branch, host group, where requests with those labels are counted, Service (None: no
# Service to proxy to), its endpoints, upstream Host bytes, and the Resolution itself (404 page)
Routed = tuple[str, str, str, "RequestCounter", "ServiceRef | None", "tuple[Endpoint, ...]", bytes, "Resolution"]
DEFAULT_CACHE_ENTRIES = 4096


class RouteCache:
    """(raw Host, target path) -> ``Routed``, for one snapshot object at a time."""

    __slots__ = ("_entries", "_snapshot", "max_entries")

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[bytes, bytes], Routed] = {}
        self._snapshot: Snapshot | None = None

    def route(self, snapshot: Snapshot, raw_host: bytes, target: bytes, observer: ProxyObserver) -> Routed:
        if snapshot is not self._snapshot:  # a swap: nothing cached so far holds any more
            self._entries = {}
            self._snapshot = snapshot
        cut = target.find(b"?")  # not ``in``: bytes.__contains__ raises and clears a TypeError first
        key = (raw_host, target if cut < 0 else target[:cut])
        entry = self._entries.get(key)
        if entry is None:
            entry = _resolve(snapshot, raw_host, key[1], observer)
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = entry
        return entry

    def __len__(self) -> int:
        return len(self._entries)


def _resolve(snapshot: Snapshot, raw_host: bytes, path: bytes, observer: ProxyObserver) -> Routed:
    host_text = raw_host.decode("ascii")  # valid_host admitted ASCII only
    resolution = snapshot.state.resolve(host_text, path.decode("utf-8", "surrogateescape"))
    match = resolution.match
    backend: Any = match.backend
    preview = resolution.branch is not None
    service = backend if isinstance(backend, ServiceRef) else None
    kind, branch, host_group = "preview" if preview else "stable", resolution.branch or "", match.host_group or ""
    return (
        kind,
        branch,
        host_group,
        observer.request_counter(kind, branch, host_group),
        service,
        snapshot.endpoints(service) if service is not None else (),
        resolution.upstream_host.encode() if preview else raw_host,
        resolution,
    )


def decide(ex: Exchange) -> LocalAnswer | None:
    """Fill in where ``ex`` goes (Service, endpoints, names, origin-form target), or return the
    proxy's own answer."""
    head = ex.head
    if head.method == b"CONNECT":
        return pages.error(405, "CONNECT is not supported by a reverse proxy"), True
    raw_host = head.host
    target = head.target
    if target[:1] != b"/" and target != b"*":  # absolute-form: its authority replaces Host
        try:
            # Any: httptools' stub says port is an int, but it is None when the target has none,
            # and compiled code (setup.py) would enforce the stub's type
            url: Any = parse_url(target)
        except HttpParserInvalidURLError:
            return pages.error(400, "invalid request target"), True
        if url.host:
            raw_host = url.host + (b":%d" % url.port if url.port else b"")
            if not valid_host(raw_host):
                return pages.error(400, "invalid host in request target"), True
        target = (url.path or b"/") + (b"?" + url.query if url.query else b"")
        ex.target = target  # the head is shared (proxy/repeats.py): the origin-form is this request's
    ctx = ex.ctx
    if ctx.tls_redirect_hosts is not None:
        host = normalize_host(raw_host.decode("ascii"))
        if ctx.tls_redirect_hosts(host):
            close = not ex.reusable()
            return pages.redirect(b"https://" + host.encode() + target, close=close), close
    snapshot = ctx.holder.current
    kind, branch, host_group, counter, service, endpoints, upstream_host, resolution = ctx.state.routes.route(
        snapshot, raw_host, target, ctx.observer
    )
    ex.kind = kind
    ex.branch = branch
    ex.host_group = host_group
    # the cached counter is the HTTP/1.1 one: an HTTP/2 request asks for its own (one dict lookup)
    ex.counter = counter if not ex.h2 else ctx.observer.request_counter(kind, branch, host_group, "h2")
    if service is None:
        backend = resolution.match.backend
        if backend is not None:
            log.warning("resource backend %s cannot be proxied; answering 404 for %s", backend, raw_host.decode())
        close = not ex.reusable()
        page = pages.not_found(
            resolution.host,
            unknown_preview=resolution.unknown_preview,
            preview_domain=snapshot.state.preview_domain,
            want_html=head.want_html,
            close=close,
        )
        return page, close
    if not endpoints:
        ctx.observer.upstream_error("no-endpoint")
        close = not ex.reusable()
        log.warning("no ready endpoint for service %s (host %s)", service, raw_host.decode("latin-1"))
        return pages.service_error(
            503, "no ready endpoint", service, debug=ctx.settings.debug_pages, close=close
        ), close
    ex.endpoints = endpoints
    ex.key = service
    ex.forwarded_host = raw_host
    ex.upstream_host = upstream_host
    ex.request_id = head.request_id or ctx.state.request_ids.next()
    return None
