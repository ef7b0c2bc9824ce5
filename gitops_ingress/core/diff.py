"""Route-level diff between two route tables: what requests now go elsewhere.

The diff compares compiled tables, never YAML text, so moving a rule to another file or reordering
paths is not a change. Every change carries an example request, and the backend that request
reached before and reaches after is computed by matching it against both tables, so the answer
accounts for precedence: an added ``/api/v2`` shows what ``GET host/api/v2`` used to hit (the
``/api`` prefix, say), and a new exact host shows that it takes over from a wildcard.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_ingress.core.routing import Route, RouteMatch, RouteTable
from gitops_ingress.core.routing.table import EMPTY_TABLE

HOSTLESS_EXAMPLE = "any-host.example"
WILDCARD_EXAMPLE_LABEL = "any"


class ChangeKind(str, enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    RETARGETED = "retargeted"
    SHADOWED = "shadowed"
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
    host: str
    path: str
    path_type: str
    request: ExampleRequest | None = None
    before: str | None = None  # backend the example request reached before; None = 404
    after: str | None = None
    before_source: str = ""
    after_source: str = ""
    detail: str = ""

    @property
    def message(self) -> str:
        if self.kind is ChangeKind.TLS or (self.request is None and self.detail):
            return self.detail
        before = self.before or "404"
        after = self.after or "404"
        text = f"{self.request} now goes to {after}"
        text += f" instead of {before}" if before != after else " (unchanged)"
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


def example_host(host: str) -> str:
    if not host:
        return HOSTLESS_EXAMPLE
    if host.startswith("*."):
        return f"{WILDCARD_EXAMPLE_LABEL}.{host[2:]}"
    return host


def example_request(route: Route) -> ExampleRequest:
    return ExampleRequest(example_host(route.host), route.path or "/")


def _target(match: RouteMatch) -> tuple[str | None, str]:
    if match.backend is None:
        return None, ""
    source = match.route.source if match.route is not None else "default backend"
    return str(match.backend), source


def _change(
    kind: ChangeKind, env: str, route: Route, base: RouteTable, head: RouteTable, detail: str = ""
) -> RouteChange:
    request = example_request(route)
    before, before_source = _target(base.match(request.host, request.path))
    after, after_source = _target(head.match(request.host, request.path))
    return RouteChange(
        kind, env, route.host, route.path, route.path_type, request, before, after, before_source, after_source, detail
    )


def _split(route: Route) -> str:
    """Where a route's requests go when a canary takes some of them (core/annotations/canary.py)."""
    canary = route.effects.canary if route.effects is not None else None
    if canary is None:
        return f"100 % to {route.backend}"
    return f"{100 - 100 * canary.weight / canary.weight_total:g} % to {route.backend}, {canary.split}"


def diff_tables(base: RouteTable, head: RouteTable, environment: str = "") -> list[RouteChange]:
    changes: list[RouteChange] = []
    old = base.effective_routes()
    new = head.effective_routes()
    for key in sorted(new.keys() - old.keys()):
        changes.append(_change(ChangeKind.ADDED, environment, new[key], base, head))
    for key in sorted(old.keys() - new.keys()):
        changes.append(_change(ChangeKind.REMOVED, environment, old[key], base, head))
    for key in sorted(old.keys() & new.keys()):
        if old[key].backend != new[key].backend:
            changes.append(_change(ChangeKind.RETARGETED, environment, new[key], base, head))
        elif (split := _split(new[key])) != (was := _split(old[key])):
            changes.append(_change(ChangeKind.RETARGETED, environment, new[key], base, head, f"split {was} -> {split}"))
    changes.extend(_shadowed(base, head, environment, old, new))
    changes.extend(_default_change(base, head, environment))
    changes.extend(_tls_changes(base, head, environment))
    return changes


def _shadowed(
    base: RouteTable,
    head: RouteTable,
    env: str,
    base_winners: Mapping[tuple[str, str, str], Route],
    winners: Mapping[tuple[str, str, str], Route],
) -> list[RouteChange]:
    """Routes of the head that can never be reached because an identical rule wins the tie."""
    old_losers = {(r.key, r.ingress) for r in base.routes if base_winners.get(r.key) is not r}
    found = []
    for route in head.routes:
        winner = winners.get(route.key)
        if winner is None or winner is route or (route.key, route.ingress) in old_losers:
            continue
        detail = f"{route.ingress} ({route.source}) is shadowed by {winner.ingress} ({winner.source})"
        found.append(_change(ChangeKind.SHADOWED, env, route, base, head, detail))
    return found


def _default_change(base: RouteTable, head: RouteTable, env: str) -> list[RouteChange]:
    old = base.default_backend
    new = head.default_backend
    old_backend = str(old.backend) if old else None
    new_backend = str(new.backend) if new else None
    if old_backend == new_backend:
        return []
    detail = f"default backend: {old_backend or 'none (404)'} -> {new_backend or 'none (404)'}"
    return [
        RouteChange(
            ChangeKind.DEFAULT_BACKEND,
            env,
            "",
            "",
            "Default",
            None,
            old_backend,
            new_backend,
            old.source if old else "",
            new.source if new else "",
            detail,
        )
    ]


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
