"""Host groups: the paths of one rule host, merged over every Ingress that names it.

``PathTable`` is what a request's host selects in a route table (core/routing/table.py); this module
builds one from the routes of its host, and ``GroupMemo`` keeps built groups for a builder of
many tables, which share them.

Why share: the branches of a burst are made from main and change a file or two, so of each new
branch's 20 host groups 19 hold the very Route objects of main's groups (a file a branch shares
with main is parsed once, sync/parsecache.py), and building them again per branch (a PathTable, a
RouteMatch per route, the fallback) was most of a table's construction. A group is a function of
its host, its routes (in table order), its catch-all and the default backend, so a group made
from the same route objects and the same two backends is the same group, and one object serves
every table that has it: groups are never changed once built. The memo keys a group by its
routes' ids and holds the routes, so an id is not reused while its entry lives; the backends
count by value. Past ``capacity`` groups it starts again: a miss only costs a build. The memo
also keeps each route's line of a table's version (``line``), which a table of kept groups
would otherwise format again for every route. The bound is
what a memo may keep alive of tables no longer used (a group is some kilobyte): 1,500 branches of
20 files made from main have about 1,520 distinct groups, well below it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from gitops_ingress.core.routing.model import Backend, Route, RouteMatch

GroupEntry = tuple[str, str, Route]  # a route's kind (Exact or Prefix), its compared path, the route
GroupKey = tuple[object, ...]


def _preferred(a: Route, b: Route) -> Route:
    """Of two routes with the same key, the one that wins the tie."""
    a_slash, b_slash = a.path.endswith("/"), b.path.endswith("/")
    if a_slash != b_slash and a.kind == "Prefix":
        return a if a_slash else b
    return a if (a.ingress, a.environment) <= (b.ingress, b.environment) else b


class PathTable:
    """The paths of one host group, merged over every Ingress that names the host.

    Each entry holds its ready-made RouteMatch, so a hit allocates nothing on the request path.
    """

    __slots__ = ("catch_all", "exact", "fallback", "name", "prefix", "regex")

    def __init__(self, name: str) -> None:
        self.name = name
        self.exact: dict[str, RouteMatch] = {}
        self.prefix: dict[str, RouteMatch] = {}
        # Rules with this host and no ``http`` block: the host's catch-all (its Ingress's
        # defaultBackend), consulted after every path.
        self.catch_all: Backend | None = None
        # What an unmatched path of this group gets: the catch-all, the default backend, or 404.
        self.fallback: RouteMatch = RouteMatch(None, None, name)
        # A host with regex paths (an Ingress of it sets use-regex or rewrite-target): every
        # non-Exact path, as ingress-nginx's ``location ~*``, longest first; None for plain hosts.
        self.regex: tuple[tuple[re.Pattern[str], RouteMatch], ...] | None = None

    def use_regex(self) -> None:
        """Match every Prefix path of this group as a case-insensitive, start-anchored regular
        expression, first match in order of path length, longest first (ingress-nginx sorts its
        locations so, and nginx takes the first regex location that matches)."""
        entries = sorted(self.prefix.values(), key=lambda m: (-len(m.route.path), m.route.path))  # type: ignore[union-attr]
        compiled: list[tuple[re.Pattern[str], RouteMatch]] = []
        for entry in entries:
            path = entry.route.path  # type: ignore[union-attr]
            try:
                pattern = re.compile(path, re.IGNORECASE)
            except re.error:  # validation refuses it (annotation/invalid-regex); match it literally
                pattern = re.compile(re.escape(path), re.IGNORECASE)
            compiled.append((pattern, entry))
        self.regex = tuple(compiled)

    def add(self, route: Route, kind: str, key: str) -> None:
        """Add ``route``, whose ``kind`` and ``match_path`` (``key``) the table computed once."""
        bucket = self.exact if kind == "Exact" else self.prefix
        current = bucket.get(key)
        winner = route if current is None else _preferred(current.route, route)  # type: ignore[arg-type]
        if current is None or winner is not current.route:
            bucket[key] = RouteMatch(route.backend, route, self.name, protocol=route.protocol)

    def routes(self) -> list[Route]:
        return [m.route for m in (*self.exact.values(), *self.prefix.values())]  # type: ignore[misc]

    def match(self, path: str) -> RouteMatch | None:
        found = self.exact.get(path)
        if found is not None:
            return found
        if self.regex is not None:
            return next((entry for pattern, entry in self.regex if pattern.match(path)), None)
        prefix = self.prefix
        if not prefix:
            return None
        candidate = path.rstrip("/") if path.endswith("/") else path
        while True:
            found = prefix.get(candidate)
            if found is not None:
                return found
            if not candidate:
                return None
            candidate = candidate[: candidate.rfind("/")]
            if candidate.endswith("/"):
                candidate = candidate.rstrip("/")


class GroupMemo:
    """Built host groups by what they were built from (module docstring); safe to share between
    threads: a race builds a group twice, and either copy is right."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._groups: dict[GroupKey, tuple[tuple[Route, ...], PathTable]] = {}
        self._lines: dict[int, tuple[Route, bytes]] = {}  # id of a route -> it, its part of a table version

    def line(self, route: Route, make: Callable[[Route], bytes]) -> bytes:
        """``make(route)``, made once per route object: a table's version hashes a line per
        route (core/routing/table.py), and a burst's tables share most of their routes."""
        hit = self._lines.get(id(route))
        if hit is not None and hit[0] is route:
            return hit[1]
        made = make(route)
        if len(self._lines) >= 4 * self._capacity:
            self._lines.clear()
        self._lines[id(route)] = (route, made)  # the route held: its id stays its own
        return made

    def get(self, key: GroupKey) -> PathTable | None:
        hit = self._groups.get(key)
        return None if hit is None else hit[1]

    def put(self, key: GroupKey, routes: tuple[Route, ...], group: PathTable) -> None:
        if len(self._groups) >= self._capacity:
            self._groups.clear()
        self._groups[key] = (routes, group)  # the routes held: their ids in ``key`` stay theirs

    def __len__(self) -> int:
        return len(self._groups)


def build_group(
    host: str,
    entries: Sequence[GroupEntry],
    catch_all: Backend | None,
    default_backend: Route | None,
    memo: GroupMemo | None = None,
) -> PathTable:
    """The group of ``host``: its routes in table order (each with its kind and compared path),
    its catch-all, and what an unmatched path gets (the catch-all, else the default backend)."""
    key: GroupKey = ()
    if memo is not None:
        default = None if default_backend is None else (default_backend.backend, default_backend.protocol)
        key = (host, catch_all, default, *(id(route) for _, _, route in entries))
        found = memo.get(key)
        if found is not None:
            return found
    group = PathTable(host)
    regex = False
    for kind, path, route in entries:
        group.add(route, kind, path)
        regex = regex or (route.effects is not None and route.effects.regex)
    if regex:  # use-regex applies to every path of the host (docs/migrating-from-ingress-nginx.md)
        group.use_regex()
    group.catch_all = catch_all
    if catch_all is not None:
        group.fallback = RouteMatch(catch_all, None, group.name, via_default=True)
    elif default_backend is not None:
        group.fallback = RouteMatch(
            default_backend.backend, None, group.name, via_default=True, protocol=default_backend.protocol
        )
    if memo is not None:
        memo.put(key, tuple(route for _, _, route in entries), group)
    return group
