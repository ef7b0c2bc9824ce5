"""Route-level diff between two route tables: what the proxy now does differently per request.

The diff compares compiled tables, never YAML text, so moving a rule to another file or reordering
paths is not a change. What it compares is the proxy's answer to a request
(``core/routing/answer.py``): the backend it reaches, or the redirect (status and Location), the
path and Host it is sent upstream under, and how a canary shares it. It never hides a change and
never shows one that is not there:

* every entry carries an example request, and the answer to it before and now, both found by
  matching it against the two tables with the proxy's own decision code, differ;
* every request whose answer differs is covered by an entry: the diff matches one request of every
  class of requests the two tables tell apart (``core/routing/probes.py``) and makes one entry per
  pair of (what answered before, what answers now) among those whose answer changed, a pair being a
  rule by its host, match kind and path, a host's catch-all, the default backend or nothing (404).

So ``/api`` changed from Prefix to Exact is one entry whose example is ``GET host/api/any``
(which left ``/api`` for whatever now catches it), a host rule that lost its ``http`` section shows
its requests going to the default backend, and a new Exact ``/api`` that answers as ``/api``
did is no entry at all. The kind of an entry says why the request moved: the rule that answers
now was added, the one that answered was removed, a rule changed its pathType, its backend or
the Ingress that wins it (shadowed), the host is now decided by another host group, or the default
backend or a host's catch-all changed; ``annotation``: the same backend answers, but the answer
changed (a redirect added or changed, another rewritten path or upstream Host, a canary's split;
also a host that gained or lost TLS, whose plain-HTTP requests are now redirected, or no longer).
TLS entries are the one exception: they are about certificates, and carry no request. tests/core/test_diff_property.py holds the rules over random
tables and requests.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_ingress.core.routing import Backend, RouteTable, ServiceRef
from gitops_ingress.core.routing.answer import Answer, TLSHosts, answer, table_tls
from gitops_ingress.core.routing.model import Route
from gitops_ingress.core.routing.probes import (
    DEFAULT,
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
    ANNOTATION = "annotation"
    TLS = "tls"


@dataclass(frozen=True, slots=True)
class ExampleRequest:
    host: str
    path: str
    method: str = "GET"
    scheme: str = "http"  # https when only a request over TLS is answered differently

    def __str__(self) -> str:
        return f"{self.method} {'https://' if self.scheme == 'https' else ''}{self.host}{self.path}"


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
    before_answer: Answer | None = None  # what the proxy did with the request; None only for TLS
    after_answer: Answer | None = None

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
        was, now = self.before_answer, self.after_answer
        if self.kind is ChangeKind.ANNOTATION and was is not None and now is not None and _same_but_shared(was, now):
            return f"{self.request} goes to {now.backend}: {self.detail}"
        if (
            was is not None
            and now is not None
            and (self.kind is ChangeKind.ANNOTATION or not (_plain(was) and _plain(now)))
        ):
            text = f"{self.request} now {now.phrase} (was: {was})"
        else:
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
            "beforeAnswer": None if self.before_answer is None else self.before_answer.to_dict(),
            "afterAnswer": None if self.after_answer is None else self.after_answer.to_dict(),
            "message": self.message,
        }


def _plain(side: Answer) -> bool:
    """An answer that is a backend alone: its words are the backend's name."""
    return not (side.location or side.path or side.host or side.prefix or side.canary or side.split)


def _same_but_shared(was: Answer, now: Answer) -> bool:
    """Two answers that send the request to the same place and differ in how it is shared."""
    where = (was.status, was.backend, was.location, was.path, was.host, was.prefix)
    return where == (now.status, now.backend, now.location, now.path, now.host, now.prefix)


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
    answer differs (``core/routing/probes.py``): so every request whose answer changes is covered,
    and no entry is without a request whose answer changes."""
    found: dict[tuple[Decider, Decider], RouteChange] = {}
    sides = _Sides(base, head, table_tls(base), table_tls(head))
    for probe in probes(base, head):
        before = outcome(base, probe.host, probe.path)
        after = outcome(head, probe.host, probe.path)
        if (before.decided_by, after.decided_by) in found:
            continue
        for scheme in SCHEMES:
            was, now = sides.answers(probe, scheme)
            if was != now:
                request = ExampleRequest(probe.host, probe.path, scheme=scheme)
                found[before.decided_by, after.decided_by] = sides.change(environment, request, before, after, was, now)
                break
    changes = sorted(found.values(), key=_order)
    return changes + _tls_changes(base, head, environment)


# a request over plain HTTP first; over TLS when only that one is answered differently (a TLS
# host's plain-HTTP requests are all redirected alike)
SCHEMES = ("http", "https")
_KIND_ORDER = {kind: rank for rank, kind in enumerate(ChangeKind)}


def _order(change: RouteChange) -> tuple[int, str, str, str, str]:
    return (_KIND_ORDER[change.kind], change.host, change.path, change.path_type, str(change.request))


@dataclass(frozen=True, slots=True)
class _Sides:
    """Both tables: what the kind of a change is decided from."""

    base: RouteTable
    head: RouteTable
    base_tls: TLSHosts
    head_tls: TLSHosts

    def answers(self, probe: Probe, scheme: str) -> tuple[Answer, Answer]:
        return (
            answer(self.base, probe.host, probe.path, self.base_tls, scheme),
            answer(self.head, probe.host, probe.path, self.head_tls, scheme),
        )

    def change(
        self, env: str, request: ExampleRequest, before: Outcome, after: Outcome, was: Answer, now: Answer
    ) -> RouteChange:
        if before.backend == after.backend:
            kind, subject, detail = (
                ChangeKind.ANNOTATION,
                after.route or before.route,
                self._answer_note(request.host, was, now),
            )
        else:
            kind, subject, detail = self._explain(before, after)
        notes = [text for text in (detail, _port_note(before.backend, after.backend)) if text]
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
            was,
            now,
        )

    def _answer_note(self, host: str, was: Answer, now: Answer) -> str:
        """What changed in an answer whose backend did not, when the two answers' words alone do
        not say it: a canary's share or rules, how endpoints are chosen, TLS that came or went."""
        notes = []
        if not (was.location or now.location):
            if was.canary == now.canary and was.rules == now.rules and was.share != now.share:
                notes.append(f"canary split {was.share:g} % -> {now.share:g} % {now.canary}")
            elif (was.canary, was.rules) != (now.canary, now.rules):
                notes.append(f"canary {was.canary_words or 'none'} -> {now.canary_words or 'none'}")
            if was.split != now.split:
                notes.append(f"endpoints {was.split or 'as usual'} -> {now.split or 'as usual'}")
        if self.base_tls(host) != self.head_tls(host):
            notes.append(f"TLS {'added for' if self.head_tls(host) else 'removed from'} {host}")
        return "; ".join(notes)

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
