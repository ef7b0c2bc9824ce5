"""Route-level diff between two route tables: what requests now go elsewhere.

The diff compares compiled tables, never YAML text, so moving a rule to another file or reordering
paths is not a change. It never hides a change and never shows one that is not there:

* every entry carries an example request, and the backend that request reached before and
  reaches now, both found by matching it against the two tables, differ;
* every request whose backend differs is covered by an entry: the diff matches one request of every
  class of requests the two tables tell apart (``core/routing/probes.py``) and makes one entry per
  pair of (what answered before, what answers now) among those that moved, a pair being a rule by
  its host, match kind and path, a host's catch-all, the default backend or nothing (404).

So ``/api`` changed from Prefix to Exact is one entry whose example is ``GET host/api/any``
(which left ``/api`` for whatever now catches it), a host rule that lost its ``http`` section shows
its requests going to the default backend, and a new Exact ``/api`` that answers as ``/api``
did is no entry at all. The kind of an entry says why the request moved: the rule that answers
now was added, the one that answered was removed, a rule changed its pathType, its backend or
the Ingress that wins it (shadowed), the host is now decided by another host group, or the default
backend or a host's catch-all changed. TLS entries are the one exception: they are about
certificates, and carry no request. tests/core/test_diff_property.py holds the rules over random
tables and requests.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_ingress.core.routing import Backend, RouteTable, ServiceRef
from gitops_ingress.core.routing.model import Route
from gitops_ingress.core.routing.probes import (
    DEFAULT,
    FRESH_LABEL,
    OTHER_HOST_PARENT,
    Decider,
    Outcome,
    Probe,
    outcome,
    probes,
)
from gitops_ingress.core.routing.table import EMPTY_TABLE


class ChangeKind(str, enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    RETARGETED = "retargeted"
    PATH_TYPE = "path-type"
    SHADOWED = "shadowed"
    HOST = "host"
    DEFAULT_BACKEND = "default-backend"
    TLS = "tls"


@dataclass(frozen=True, slots=True)
class ExampleRequest:
    host: str
    path: str
    method: str = "GET"

    def __str__(self) -> str:
        return f"{self.method} {self.host}{self.path}"


@dataclass(frozen=True, slots=True)
class RouteChange:
    kind: ChangeKind
    environment: str
    host: str  # the rule host of the rule that explains the change ("" host-less)
    path: str  # "" with path_type "": no single rule explains it (a default or a host group)
    path_type: str
    request: ExampleRequest | None = None  # None only for TLS
    before: str | None = None  # backend the example request reached before; None = 404
    after: str | None = None
    before_source: str = ""
    after_source: str = ""
    detail: str = ""

    @property
    def rule(self) -> str:
        """The rule the change is about, as ``host/path (Type)``; "" when there is none."""
        if self.kind is ChangeKind.HOST:
            return self.host or "(host-less rules)"
        if not self.path_type or self.kind is ChangeKind.TLS:
            return ""
        return f"{self.host or '*'}{self.path} ({self.path_type})"

    @property
    def message(self) -> str:
        if self.request is None:
            return self.detail
        if self.before == self.after and self.detail:  # a canary's share moved, no single request did
            return f"{self.request}: {self.detail}"
        text = f"{self.request} now goes to {self.after or '404'} instead of {self.before or '404'}"
        return f"{text}; {self.detail}" if self.detail else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "environment": self.environment,
            "host": self.host,
            "path": self.path,
            "pathType": self.path_type,
            "request": None if self.request is None else str(self.request),
            "before": self.before,
            "after": self.after,
            "beforeSource": self.before_source,
            "afterSource": self.after_source,
            "detail": self.detail,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class RouteDiff:
    changes: tuple[RouteChange, ...] = ()
    environments: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {
            "environments": list(self.environments),
            "counts": dict(self.counts),
            "changes": [change.to_dict() for change in self.changes],
        }


def diff_tables(base: RouteTable, head: RouteTable, environment: str = "") -> list[RouteChange]:
    """One entry per pair of (what decided before, what decides now) among the probes whose
    backend differs (``core/routing/probes.py``): so every request that moves is covered, and no
    entry is without a request that moves."""
    found: dict[tuple[Decider, Decider], RouteChange] = {}
    sides = _Sides(base, head)
    for probe in probes(base, head):
        before = outcome(base, probe.host, probe.path)
        after = outcome(head, probe.host, probe.path)
        if before.backend == after.backend or (before.decided_by, after.decided_by) in found:
            continue
        found[before.decided_by, after.decided_by] = sides.change(environment, probe, before, after)
    changes = sorted(found.values(), key=_order)
    return changes + _split_changes(base, head, environment) + _tls_changes(base, head, environment)


def _split(route: Route) -> str:
    """Where a route's requests go when a canary takes some of them (core/annotations/canary.py),
    and how its Service's endpoints are chosen when an annotation decides that: a sticky cookie
    (core/annotations/affinity.py) or the Service's cluster IP (service-upstream), and where when
    its Service has no ready endpoint (the default-backend annotation)."""
    effects = route.effects
    canary = effects.canary if effects is not None else None
    how = ""
    if effects is not None and effects.affinity is not None:
        how += f", each client kept on one endpoint by cookie {effects.affinity.name}"
    if effects is not None and effects.service_upstream:
        how += ", through the Service's cluster IP"
    if canary is None:
        where = f"100 % to {route.backend}{how}"
    else:
        where = f"{100 - 100 * canary.weight / canary.weight_total:g} % to {route.backend}, {canary.split}{how}"
    backend = route.backend
    if effects is not None and effects.default_backend and isinstance(backend, ServiceRef):
        fallback = ServiceRef(backend.namespace, effects.default_backend, backend.port)
        pages = ", ".join(map(str, effects.custom_errors))
        where += f" ({fallback} when it has no ready endpoint{f', and for the pages of {pages}' if pages else ''})"
    return where


def _split_changes(base: RouteTable, head: RouteTable, env: str) -> list[RouteChange]:
    """A canary's share or a default-backend changing moves requests, though no one request's main
    backend changed (so no probe sees it): one entry per route whose split differs, with both."""
    old, new = base.effective_routes(), head.effective_routes()
    found = []
    for key in sorted(old.keys() & new.keys()):
        was, route = old[key], new[key]
        if was.backend != route.backend or (before := _split(was)) == (after := _split(route)):
            continue
        request = ExampleRequest(_example_host(route.host), route.path or "/")
        backend = str(route.backend)
        found.append(
            RouteChange(
                ChangeKind.RETARGETED,
                env,
                route.host,
                route.path,
                route.path_type,
                request,
                backend,
                backend,
                was.source,
                route.source,
                f"split {before} -> {after}",
            )
        )
    return found


def _example_host(host: str) -> str:
    """A request host a rule host answers: itself, a name under a wildcard, any name for none."""
    if not host:
        return f"{FRESH_LABEL}.{OTHER_HOST_PARENT}"
    return f"{FRESH_LABEL}.{host[2:]}" if host.startswith("*.") else host


_KIND_ORDER = {kind: rank for rank, kind in enumerate(ChangeKind)}


def _order(change: RouteChange) -> tuple[int, str, str, str, str]:
    return (_KIND_ORDER[change.kind], change.host, change.path, change.path_type, str(change.request))


@dataclass(frozen=True, slots=True)
class _Sides:
    """Both tables: what the kind of a change is decided from."""

    base: RouteTable
    head: RouteTable

    def change(self, env: str, probe: Probe, before: Outcome, after: Outcome) -> RouteChange:
        kind, subject, detail = self._explain(before, after)
        notes = [text for text in (detail, _port_note(before.backend, after.backend)) if text]
        request = ExampleRequest(probe.host, probe.path)
        if subject is not None:
            host, path, path_type = subject.host, subject.path, subject.path_type
        else:  # a host group or a default: the host group the example request chose
            host, path, path_type = after.group if after.group is not None else before.group or "", "", ""
        return RouteChange(
            kind,
            env,
            host,
            path,
            path_type,
            request,
            before.target,
            after.target,
            self._source(self.base, before),
            self._source(self.head, after),
            "; ".join(notes),
        )

    def _explain(self, before: Outcome, after: Outcome) -> tuple[ChangeKind, Route | None, str]:
        """Why a request moved: the rule that appeared, went, changed its pathType or its backend,
        or the host group or default that answers it now."""
        added = after.route if after.route is not None and self.base.winner(after.route.key) is None else None
        removed = before.route if before.route is not None and self.head.winner(before.route.key) is None else None
        for route, other, was_added in ((added, self.base, True), (removed, self.head, False)):
            twin = _retyped(route, other) if route is not None else None
            if route is not None and twin is not None:
                old, new = (twin, route) if was_added else (route, twin)
                detail = f"{new.host or '*'}{new.path or '/'}: pathType {old.path_type} -> {new.path_type}"
                return ChangeKind.PATH_TYPE, new, detail
        if added is not None:
            return ChangeKind.ADDED, added, ""
        if removed is not None:
            return ChangeKind.REMOVED, removed, ""
        if before.route is not None and after.route is not None and before.route.key == after.route.key:
            old, new = before.route, after.route
            if old.ingress != new.ingress and any(
                r.key == old.key and r.ingress == old.ingress for r in self.head.routes
            ):
                return (
                    ChangeKind.SHADOWED,
                    new,
                    f"{old.ingress} ({old.source}) is shadowed by {new.ingress} ({new.source})",
                )
            return ChangeKind.RETARGETED, new, ""
        if before.group != after.group:
            detail = f"this host is now decided by {_group_name(after)} instead of {_group_name(before)}"
            return ChangeKind.HOST, None, detail
        detail = f"{_fallback_name(after)}: {before.target or 'none (404)'} -> {after.target or 'none (404)'}"
        return ChangeKind.DEFAULT_BACKEND, None, detail

    @staticmethod
    def _source(table: RouteTable, side: Outcome) -> str:
        if side.route is not None:
            return side.route.source
        if side.decided_by == DEFAULT and table.default_backend is not None:
            return table.default_backend.source
        return f"rule for {side.group} without paths" if side.decided_by[0] == "catch-all" else ""


def _retyped(route: Route, other: RouteTable) -> Route | None:
    """The same host and path under the other match kind in ``other``, if that is what changed."""
    if route.kind == "Prefix":
        return other.winner((route.host, "Exact", route.path))
    return other.winner((route.host, "Prefix", route.path.rstrip("/")))


def _group_name(side: Outcome) -> str:
    if side.group is None:
        return "no rule (the default backend)"
    if side.decided_by[0] == "catch-all":
        return f"a rule for {side.group} without paths"
    return "the host-less rules" if side.group == "" else f"the rules for {side.group}"


def _fallback_name(side: Outcome) -> str:
    return f"catch-all of {side.group}" if side.decided_by[0] == "catch-all" else "default backend"


def _port_note(before: Backend | None, after: Backend | None) -> str:
    """A port written as a name on one side and a number on the other may be the same port."""
    if not (isinstance(before, ServiceRef) and isinstance(after, ServiceRef)):
        return ""
    same_service = (before.namespace, before.name) == (after.namespace, after.name)
    if not same_service or before.port.isdigit() == after.port.isdigit():
        return ""
    return (
        f"port {before.port} -> {after.port}: a port name and a number; whether this is a change depends "
        f"on the Service {after.namespace}/{after.name}'s port mapping"
    )


def _tls_changes(base: RouteTable, head: RouteTable, env: str) -> list[RouteChange]:
    old = {host: entry.secret_name for host, entry in base.tls_hosts().items()}
    new = {host: entry.secret_name for host, entry in head.tls_hosts().items()}
    changes = []
    for host in sorted(old.keys() | new.keys()):
        before, after = old.get(host), new.get(host)
        if before == after:
            continue
        if before is None:
            detail = f"TLS added for {host} (secret {after})"
        elif after is None:
            detail = f"TLS removed for {host} (was secret {before})"
        else:
            detail = f"TLS secret for {host}: {before} -> {after}"
        changes.append(RouteChange(ChangeKind.TLS, env, host, "", "", None, before, after, detail=detail))
    return changes


def diff_environments(base: Mapping[str, RouteTable], head: Mapping[str, RouteTable]) -> RouteDiff:
    """Diff every environment present on either side; a missing side counts as empty."""
    names = tuple(sorted(base.keys() | head.keys()))
    changes: list[RouteChange] = []
    for name in names:
        changes.extend(diff_tables(base.get(name, EMPTY_TABLE), head.get(name, EMPTY_TABLE), name))
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.kind.value] = counts.get(change.kind.value, 0) + 1
    return RouteDiff(tuple(changes), names, counts)
