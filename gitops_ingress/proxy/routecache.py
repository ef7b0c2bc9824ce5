"""The route cache: what a (Host, path) pair resolves to under one snapshot, and what a request's
routing key stands for, remembered per server (ServerState.routes) for proxy/decide.py.

What a (Host, path) pair resolves to is remembered in a ``RouteCache`` per server, keyed by the
raw Host bytes and the target without its query (matching ignores the query), and valid for one
snapshot object only: the first request after a swap finds a different snapshot and starts an
empty cache. Resolving (decoding, ``normalize_host``, two table lookups, a Resolution, the
endpoint lookup with its dataclass hashes) was about a fifth of the proxy's own time per request;
a hit is one tuple and one dict lookup, whatever the size of the route table. Snapshots are
immutable (proxy/snapshot.py), so nothing else can make an entry stale. The cache is bounded
and simply emptied when full, so a flood of distinct hosts or paths costs a miss each, nothing
more. The TLS redirect is decided per request after it (certificates change apart from snapshots,
and a route's ``ssl-redirect: "false"`` opts out); annotated routes go through proxy/annotated.py.

Routing keys (docs/previews.md, proxy/routingkey.py) are looked at only when the request has a
header that may hold one (X-Preview-Branch, baggage, a Cookie with ours in it: a browser's other
cookies change from request to request, and remembered each would be an entry that never hits and
a tracked tuple more for the cyclic collector, as proxy/repeats.py says), or the link parameter: then the
cache says, once per raw Host, whether keys apply there at all (a stable host that is not
protected), and a followed key is cached as (raw Host, path, slug), so a keyed request costs one
more dict lookup than a plain one plus reading its key. A key is read on stable hosts no branch
overlays too: the request is routed stable, but still carries the branch in baggage, so the
services behind it keep the preview on their calls back through the proxy.
"""

from __future__ import annotations

from time import time
from typing import TYPE_CHECKING, Any, Final, TypeVar

from gitops_ingress.core.naming import branch_slug
from gitops_ingress.core.routing import ServiceRef, normalize_host
from gitops_ingress.core.routing.paths import normalize_path
from gitops_ingress.proxy import annotated
from gitops_ingress.proxy.routingkey import forward_lines, key_of

if TYPE_CHECKING:
    from gitops_ingress.core.annotations import RouteEffects
    from gitops_ingress.core.backends import Endpoint
    from gitops_ingress.core.previewkeys import PreviewKeyPolicy
    from gitops_ingress.core.routing import Resolution
    from gitops_ingress.core.routing.overlay import BranchOverlay
    from gitops_ingress.proxy.counting import RequestSeries
    from gitops_ingress.proxy.forwarding import RequestHead
    from gitops_ingress.proxy.observe import ProxyObserver
    from gitops_ingress.proxy.snapshot import Snapshot

# kind, branch, host group, where requests with those labels are counted, Service (None: no
# Service to proxy to), its endpoints, upstream Host bytes, the Resolution itself (404 page), and
# the route's annotation effects (None for a plain route: proxy/annotated.py is never called), the
# normalised path to forward (None: the path as sent is already normal; core/routing/paths.py),
# and the annotation plan for that path (annotated.Plan: its rewrite-target, the steps that act)
Routed = tuple[
    str,
    str,
    str,
    "RequestSeries",
    "ServiceRef | None",
    "tuple[Endpoint, ...]",
    bytes,
    "Resolution",
    "RouteEffects | None",
    "bytes | None",
    "annotated.Plan",
]
DEFAULT_CACHE_ENTRIES = 4096
# key header values longer than this together are judged every time rather than remembered, so a
# flood of 10 KB cookies cannot fill the cache with 40 MB
MAX_REMEMBERED_KEY_BYTES: Final = 1024
# what a routing key stands for: the overlay (None: none), why it is ignored (""), token expiry
KeyFound = tuple["BranchOverlay | None", str, int]
# where a Host stands for routing keys (RouteCache.key_place)
KEYS_OFF: Final = 0  # protected, keys off, or an unknown preview name: keys and link ignored
KEYS_ON: Final = 1  # a stable host: the link and keys work
KEYS_PREVIEW_HOST: Final = 2  # a preview host: its name decides the branch, a key is ignored


Key = TypeVar("Key")
Value = TypeVar("Value")


def _bounded_put(table: dict[Key, Value], key: Key, value: Value, max_entries: int) -> None:
    """``table[key] = value``, emptying ``table`` first when it holds ``max_entries``: a flood of
    distinct keys costs a miss each and never more memory (every table of RouteCache)."""
    if len(table) >= max_entries:
        table.clear()
    table[key] = value


class RouteCache:
    """(raw Host, target path) -> ``Routed``, for one snapshot object at a time; keyed requests
    under (raw Host, target path, slug).

    A miss, once the route is known, looks in ``_per_route`` first: (raw Host, the RouteMatch's
    id) -> its ``Routed``, for a route without effects and a path that normalising leaves as it
    is, where every path the route takes gets the same answer. Many distinct paths (ids in the
    URL) miss the first table every time; this spares each of them all but the match itself. The
    entry holds the RouteMatch (``Routed``'s resolution), so its id is its own while it is kept."""

    __slots__ = ("_entries", "_keys", "_per_route", "_places", "_slugs", "_snapshot", "max_entries")

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[bytes, ...], Routed] = {}
        self._per_route: dict[tuple[bytes, int], Routed] = {}
        self._places: dict[bytes, int] = {}
        self._slugs: dict[str, tuple[bytes, bytes]] = {}
        self._keys: dict[tuple[bytes, bytes, bytes], KeyFound] = {}
        self._snapshot: Snapshot | None = None

    def _follow(self, snapshot: Snapshot) -> None:
        if snapshot is not self._snapshot:  # a swap: nothing cached so far holds any more
            self._entries = {}
            self._per_route = {}
            self._places = {}
            self._slugs = {}
            self._keys = {}
            self._snapshot = snapshot

    def route(self, snapshot: Snapshot, raw_host: bytes, path: bytes, observer: ProxyObserver) -> Routed:
        """``path``: the target without its query (matching ignores the query)."""
        self._follow(snapshot)
        key = (raw_host, path)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._resolve(snapshot, raw_host, path, observer)
            _bounded_put(self._entries, key, entry, self.max_entries)
        return entry

    def _resolve(self, snapshot: Snapshot, raw_host: bytes, path: bytes, observer: ProxyObserver) -> Routed:
        """Raises UnsafePath for a path that cannot be normalised safely (never cached)."""
        host_text = raw_host.decode("ascii")  # valid_host admitted ASCII only
        sent = path.decode("utf-8", "surrogateescape")  # every byte survives the round trip
        normal = normalize_path(sent)
        resolution = snapshot.state.resolve(host_text, normal)
        match = resolution.match
        plain = normal is sent and (match.route is None or match.route.effects is None)
        if plain:  # the answer does not depend on the path (the class docstring)
            found = self._per_route.get((raw_host, id(match)))
            if found is not None and found[7].match is match:
                return found
        upstream_host = resolution.upstream_host.encode() if resolution.branch is not None else raw_host
        entry = _routed(snapshot, resolution, upstream_host, observer, path, _changed(normal, sent))
        if plain:
            _bounded_put(self._per_route, (raw_host, id(match)), entry, self.max_entries)
        return entry

    def route_keyed(
        self, snapshot: Snapshot, raw_host: bytes, path: bytes, overlay: BranchOverlay, observer: ProxyObserver
    ) -> Routed:
        """Like ``route`` for a request with ``overlay``'s key: the branch's routes where the
        branch changes the host, the stable ones elsewhere."""
        self._follow(snapshot)
        key = (raw_host, path, overlay.slug.encode())
        entry = self._entries.get(key)
        if entry is None:
            sent = path.decode("utf-8", "surrogateescape")
            normal = normalize_path(sent)  # UnsafePath: never cached
            resolution = snapshot.state.resolve_overlay(overlay, raw_host.decode("ascii"), normal)
            if resolution is None:
                entry = self.route(snapshot, raw_host, path, observer)
            else:
                entry = _routed(snapshot, resolution, raw_host, observer, path, _changed(normal, sent))
            _bounded_put(self._entries, key, entry, self.max_entries)
        return entry

    def key_place(self, snapshot: Snapshot, raw_host: bytes, policy: PreviewKeyPolicy) -> int:
        """What routing keys can do on this Host (KEYS_*), decided once per Host and snapshot."""
        self._follow(snapshot)
        place = self._places.get(raw_host)
        if place is None:
            state = snapshot.state
            host = normalize_host(raw_host.decode("ascii"))
            if host.endswith("." + state.preview_domain):
                place = KEYS_PREVIEW_HOST if state.resolve(host, "/").is_preview else KEYS_OFF
            else:
                place = KEYS_OFF if policy.protects(host) else KEYS_ON
            _bounded_put(self._places, raw_host, place, self.max_entries)
        return place

    def key(self, snapshot: Snapshot, head: RequestHead, policy: PreviewKeyPolicy) -> tuple[BranchOverlay | None, str]:
        """The overlay the head's routing key names and why a key is ignored ("" when it is not,
        or when there is none: (None, "")). Remembered by the header values, since a browser
        sends the same cookie with every request; a signed token's expiry is checked each time."""
        if not head.keyed:
            # a browser's cookies without ours, new on every request once analytics count in
            # them: nothing to judge, and nothing worth a cache entry each
            return None, ""
        self._follow(snapshot)
        values = (head.preview_key, head.baggage, head.cookie)
        found = self._keys.get(values)
        if found is None:
            found = _find_key(snapshot, values, policy)
            if len(head.preview_key) + len(head.baggage) + len(head.cookie) <= MAX_REMEMBERED_KEY_BYTES:
                _bounded_put(self._keys, values, found, self.max_entries)
        overlay, refused, expires = found
        if expires and expires <= time():
            return None, "expired"
        return overlay, refused

    def preview_lines(self, branch: str, baggage: bytes) -> bytes:
        """What a request routed to ``branch``'s preview carries upstream (routingkey.py); made
        once per branch and snapshot for the usual request without baggage of its own."""
        found = self._slugs.get(branch)
        if found is None:
            slug = branch_slug(branch).encode()
            found = self._slugs[branch] = (slug, forward_lines(slug, b""))
        return forward_lines(found[0], baggage) if baggage else found[1]

    def __len__(self) -> int:
        return len(self._entries)


def _changed(normal: str, sent: str) -> bytes | None:
    """The normalised path to forward, or None when it is the path as sent."""
    return None if normal is sent else normal.encode("utf-8", "surrogateescape")


def _routed(
    snapshot: Snapshot,
    resolution: Resolution,
    upstream_host: bytes,
    observer: ProxyObserver,
    path: bytes,
    normal: bytes | None,
) -> Routed:
    """``path``: as sent, without the query; ``normal``: what it normalised to (None: itself)."""
    match = resolution.match
    backend: Any = match.backend
    service = backend if isinstance(backend, ServiceRef) else None
    kind = "preview" if resolution.branch is not None else "stable"
    branch, host_group = resolution.branch or "", match.host_group or ""
    effects = match.route.effects if match.route is not None else None
    endpoints = endpoints_of(snapshot, service, match.protocol, effects)
    plan = annotated.plan(effects, path if normal is None else normal) if effects is not None else annotated.NO_PLAN
    return (
        kind,
        branch,
        host_group,
        observer.request_counter(kind, branch, host_group),
        service,
        endpoints,
        upstream_host,
        resolution,
        effects,
        normal,
        plan,
    )


def endpoints_of(
    snapshot: Snapshot, service: ServiceRef | None, protocol: str, effects: RouteEffects | None
) -> tuple[Endpoint, ...]:
    """Where ``service`` is reached for a route: its endpoints, or with ``service-upstream`` its
    own address where the route source knows one (proxy/sources/cluster.py), spoken to in the
    route's backend-protocol (core/protocols.py) when it sets one."""
    if service is None:
        return ()
    found = snapshot.endpoints(service)
    if effects is not None and effects.service_upstream:
        found = snapshot.addresses(service) or found
    if protocol:
        found = tuple(endpoint.speaking(protocol) for endpoint in found)
    return found


def _find_key(snapshot: Snapshot, values: tuple[bytes, bytes, bytes], policy: PreviewKeyPolicy) -> KeyFound:
    value = key_of(*values)
    if value is None:
        return None, "", 0
    verdict = policy.judge(value.decode("latin-1"), time())
    if verdict.refused:
        return None, verdict.refused, 0
    overlay = snapshot.state.overlays.get(verdict.slug)
    return overlay, "" if overlay is not None else "unknown-branch", verdict.expires
