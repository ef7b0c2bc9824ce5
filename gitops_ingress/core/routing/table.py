"""The compiled route table and request matching (docs/routing.md, rules 2-7).

Matching is on every proxied request, so the table is shaped at build time for the lookup:

* hosts: one dict for exact hosts and one for wildcards keyed by the parent domain
  (``*.foo.com`` is stored under ``foo.com``), so choosing a host group is one or two dict
  lookups whatever the number of hosts;
* paths, per host group: a dict of Exact paths and a dict of Prefix paths keyed by their compared
  form (no trailing ``/``). A request walks its own path from the longest prefix to the root, one
  dict lookup per path element, so the first hit is the longest match. Exact is tried before the
  Prefix walk because an Exact hit can never be shorter than a Prefix hit on the same request,
  and on equal length Exact wins (rule 5).

Ties between identical rules (validation rejects them, but a table may still be built from them)
are broken when the table is built: a Prefix written with a trailing ``/`` beats the same Prefix
without it (types.go), then ``namespace/name`` ascending (rule 6).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import Any

from gitops_ingress.core.routing.groups import GroupEntry, GroupMemo, PathTable, build_group
from gitops_ingress.core.routing.model import (
    NO_MATCH,
    Backend,
    Route,
    RouteMatch,
    TLSEntry,
    backend_from_dict,
)


def normalize_host(raw: str) -> str:
    """Host header to the name matched against rules: port dropped, lowercase, one trailing
    dot dropped. IPv6 literals keep their brackets so they never equal a rule host."""
    host = raw.strip()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1].lower() if end > 0 else host.lower()
    colon = host.rfind(":")
    if colon >= 0:
        host = host[:colon]
    if host.endswith("."):
        host = host[:-1]
    return host.lower()


def is_ip_literal(host: str) -> bool:
    if not host:
        return False
    if host[0] == "[":
        return True
    if not host[-1].isdigit():
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class RouteTable:
    """A compiled, immutable route table for one routing set (a branch's environment or more)."""

    __slots__ = (
        "_exact",
        "_hostless",
        "_no_group",
        "_wildcard",
        "default_backend",
        "routes",
        "tls",
        "version",
    )

    def __init__(
        self,
        routes: Iterable[Route] = (),
        default_backend: Route | None = None,
        tls: Iterable[TLSEntry] = (),
        catch_alls: Iterable[tuple[str, Backend | None]] = (),
        groups: GroupMemo | None = None,
    ) -> None:
        """``groups``: host groups built for other tables, to take those this table has too
        (core/routing/groups.py); None builds every group."""
        # each route's compared path and kind once (both are properties that compute): a burst
        # builds a table per branch, and sorting, grouping and the fingerprint each asked again;
        # the position breaks ties as the stable sort did, and keeps routes from being compared
        ordered = sorted(((r.host, r.match_path, r.kind, r.ingress, n), r) for n, r in enumerate(routes))
        self.routes: tuple[Route, ...] = tuple(route for _, route in ordered)
        self.default_backend = default_backend
        self.tls: tuple[TLSEntry, ...] = tuple(tls)
        self._exact: dict[str, PathTable] = {}
        self._wildcard: dict[str, PathTable] = {}
        self._hostless: PathTable | None = None
        by_host: dict[str, list[GroupEntry]] = {}
        for (host, path, kind, _, _), route in ordered:
            by_host.setdefault(host, []).append((kind, path, route))
        catch: dict[str, Backend | None] = {}
        for host, backend in catch_alls:  # a host with no paths still has its group
            by_host.setdefault(host, [])
            if catch.get(host) is None:
                catch[host] = backend  # the first one given
        for host, entries in by_host.items():
            group = build_group(host, entries, catch.get(host), default_backend, groups)
            if not host:
                self._hostless = group
            elif host.startswith("*."):
                self._wildcard[host[2:]] = group
            else:
                self._exact[host] = group
        self._no_group = (
            RouteMatch(default_backend.backend, None, None, via_default=True, protocol=default_backend.protocol)
            if default_backend is not None
            else NO_MATCH
        )
        if groups is None:
            lines = [_fingerprint_line((host, kind, path), route) for (host, path, kind, _, _), route in ordered]
        else:  # a route's line is made once for every table that holds it (core/routing/groups.py)
            lines = [groups.line(route, _route_line) for route in self.routes]
        self.version = self._fingerprint(lines)

    def _fingerprint(self, lines: list[bytes]) -> str:
        """``lines``: each route's ``_fingerprint_line``, in the order of ``self.routes``."""
        digest = hashlib.sha256(b"".join(lines))
        if self.default_backend is not None:
            default = self.default_backend
            digest.update(f"default {default.backend}{f' {default.protocol}' if default.protocol else ''}".encode())
        for entry in self.tls:
            digest.update(f"tls {entry.hosts} {entry.secret_name}".encode())
        return digest.hexdigest()[:16]

    @property
    def hosts(self) -> list[str]:
        """Every rule host, wildcards as ``*.foo.com``; the host-less group as ``""``."""
        names = sorted(self._exact) + sorted(f"*.{parent}" for parent in self._wildcard)
        return names + ([""] if self._hostless is not None else [])

    def effective_routes(self) -> dict[tuple[str, str, str], Route]:
        """Every route that can be matched, by key; a route that lost a tie is not here."""
        winners: dict[tuple[str, str, str], Route] = {}
        for _, group in self._all_groups():
            for route in group.routes():
                winners[route.key] = route
        return winners

    def winner(self, key: tuple[str, str, str]) -> Route | None:
        """The route that answers for a rule ``key`` (``Route.key``), or None when none has it."""
        host, kind, path = key
        if not host:
            group = self._hostless
        else:
            group = self._wildcard.get(host[2:]) if host.startswith("*.") else self._exact.get(host)
        found = None if group is None else (group.exact if kind == "Exact" else group.prefix).get(path)
        return None if found is None else found.route

    def host_group(self, host: str) -> tuple[str | None, PathTable | None]:
        """The group that a normalised request host selects (rule 3): exact, wildcard, host-less."""
        group = self._exact.get(host) or self._wildcard_or_hostless(host)
        return (group.name, group) if group is not None else (None, None)

    def match(self, host: str, path: str) -> RouteMatch:
        """Match a normalised host and a request path (the query, if any, is ignored)."""
        cut = path.find("?")
        if cut >= 0:
            path = path[:cut]
        group = self._exact.get(host)
        if group is None:
            group = self._wildcard_or_hostless(host)
            if group is None:
                return self._no_group
        return group.match(path or "/") or group.fallback

    def _wildcard_or_hostless(self, host: str) -> PathTable | None:
        dot = host.find(".")
        if dot > 0 and self._wildcard:
            group = self._wildcard.get(host[dot + 1 :])
            if group is not None and not is_ip_literal(host):
                return group
        return self._hostless

    def tls_hosts(self) -> dict[str, TLSEntry]:
        hosts: dict[str, TLSEntry] = {}
        for entry in sorted(self.tls, key=lambda e: e.ingress):
            for host in entry.hosts:
                hosts.setdefault(host, entry)
        return hosts

    def to_dict(self) -> dict[str, object]:
        return {"version": self.version, "routes": [route.to_dict() for route in self.routes], **self._wire_rest()}

    def _wire_rest(self) -> dict[str, object]:
        """The wire form but its version and routes."""
        return {
            "defaultBackend": None if self.default_backend is None else self.default_backend.to_dict(),
            "tls": [entry.to_dict() for entry in self.tls],
            "catchAlls": [{"host": host, "backend": backend.to_dict()} for host, backend in self.catch_alls()],
        }

    @classmethod
    def merge(cls, tables: Mapping[str, RouteTable], groups: GroupMemo | None = None) -> RouteTable:
        """Environments' tables as one routing set (what one local proxy serves): every route,
        TLS entry and catch-all; the default backend of the first environment, by name, that has
        one. The one rule for merging environments, used by the local target and ``routes``.
        ``groups``: as the constructor's, for a caller that merges many branches' tables."""
        if len(tables) == 1:
            return next(iter(tables.values()))
        ordered = [tables[name] for name in sorted(tables)]
        return cls(
            [route for table in ordered for route in table.routes],
            next((t.default_backend for t in ordered if t.default_backend is not None), None),
            [entry for table in ordered for entry in table.tls],
            [pair for table in ordered for pair in table.catch_alls()],
            groups,
        )

    def catch_alls(self) -> list[tuple[str, Backend]]:
        """(rule host, backend) of every host group with a catch-all, as the constructor takes them."""
        return [(host, group.catch_all) for host, group in self._all_groups() if group.catch_all is not None]

    def named_groups(self) -> Iterable[tuple[str, PathTable]]:
        """(rule host, group) of every exact and wildcard host group; not the host-less one."""
        yield from self._exact.items()
        yield from ((f"*.{parent}", group) for parent, group in self._wildcard.items())

    def _all_groups(self) -> Iterable[tuple[str, PathTable]]:
        yield from self.named_groups()
        if self._hostless is not None:
            yield "", self._hostless

    @classmethod
    def from_dict(cls, data: dict[str, Any], groups: GroupMemo | None = None) -> RouteTable:
        """The wire form back; routes may already be Route objects (a JSON ``object_hook`` that
        builds them while decoding keeps a proxy's peak memory near the table's own size).
        ``groups``: as the constructor's (a stream receiver's, core/stream.py)."""
        routes = [_route(item) for item in data.get("routes") or []]
        default = data.get("defaultBackend")
        tls = [TLSEntry.from_dict(item) for item in data.get("tls") or []]
        catch_alls = [(str(item["host"]), backend_from_dict(item["backend"])) for item in data.get("catchAlls") or []]
        return cls(routes, _route(default) if default else None, tls, catch_alls, groups)

    def to_json(self, memo: WireMemo | None = None) -> str:
        """``to_dict`` as compact JSON with sorted keys, made of each route's own text: with a
        ``memo``, a route's text is made once for every table that holds that route object
        (without one, one encoder call for the whole table is the quicker way to the same text)."""
        if memo is None:
            return _dumps(self.to_dict())
        rest = self._wire_rest()
        return (
            f'{{"catchAlls":{_dumps(rest["catchAlls"])},"defaultBackend":{_dumps(rest["defaultBackend"])},'
            f'"routes":[{",".join(memo.route(route) for route in self.routes)}],'
            f'"tls":{_dumps(rest["tls"])},"version":{_dumps(self.version)}}}'
        )

    def __len__(self) -> int:
        return len(self.routes)

    def __repr__(self) -> str:
        return f"RouteTable(routes={len(self.routes)}, version={self.version!r})"


def _fingerprint_line(key: tuple[str, str, str], route: Route) -> bytes:
    """A route's part of its table's version; ``key`` is its ``Route.key``."""
    # the protocol only when set, so tables without one keep their versions
    protocol = f" {route.protocol}" if route.protocol else ""
    return f"{key}{route.backend}{route.ingress}{route.effects or ''}{protocol}\n".encode()


def _route_line(route: Route) -> bytes:
    return _fingerprint_line(route.key, route)


EMPTY_TABLE = RouteTable()


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _route_json(route: Route) -> str:
    return _dumps(route.to_dict())


class WireMemo:
    """Each route's JSON (``RouteTable.to_json``) kept by route object, for a writer of many
    tables that share routes: the store writes a table per branch, and a file a branch shares
    with main gives it main's very Route objects (the parse cache), so a burst of 500 new
    branches serialises main's routes once instead of once per branch. An entry holds its
    route, so its id is not reused while kept; past ``capacity`` routes it starts again."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._entries: dict[int, tuple[Route, str]] = {}

    def route(self, route: Route) -> str:
        hit = self._entries.get(id(route))
        if hit is not None and hit[0] is route:
            return hit[1]
        text = _route_json(route)
        if len(self._entries) >= self._capacity:
            self._entries.clear()
        self._entries[id(route)] = (route, text)
        return text

    def __len__(self) -> int:
        return len(self._entries)


def _route(item: object) -> Route:
    return item if isinstance(item, Route) else Route.from_dict(item)  # type: ignore[arg-type]
