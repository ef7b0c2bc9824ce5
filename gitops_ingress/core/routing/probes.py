"""The finite set of requests that tells route tables apart, and what decides each answer.

Matching (``table.py``) depends on a request only through a few comparisons, so any set of
tables splits every possible request into finitely many classes that each table answers alike:

* the host selects a host group: an exact rule host, a wildcard ``*.P`` (one label before ``P``,
  never an IP literal), else the host-less group, else none. So the classes of hosts are each exact
  rule host, one fresh label under each wildcard parent, and one host no rule names;
* within a group, the path is first looked up among the Exact paths, then walked from itself
  toward the root, one element at a time, among the Prefix paths (compared without their trailing
  ``/``). A path that is not an Exact path is therefore answered by the first Prefix key on its
  walk, and the walk after a key ``K`` is the same whatever came before ``K``. So the classes of
  paths are each Exact path and, for each Prefix key ``K``, the paths whose walk meets ``K``
  first: ``K`` itself and ``K/<fresh>`` stand for them, and ``/<fresh>`` for the paths no Prefix
  key catches.

``probes(a, b)`` lists one or more requests of every class of both tables together, so two tables
answer every request alike exactly when they answer every probe alike. It skips what cannot
differ: a host whose group is equal in both tables, and, when a host's two groups fall back
alike, every path whose walk meets no Exact or Prefix key that changed (the first changed key on
the walk decides, so ``K`` and ``K/<fresh>`` still stand for all of them); the diff (``core/diff.py``)
is built from the probes that differ. ``outcome(table, host, path)`` is one table's answer with what
decided it: a route (by its key, so the same rule in both tables is recognised), a host's catch-all,
the default backend, or nothing (404).

Annotations make the answer more than the backend (core/routing/answer.py), and the probes follow:
a path key counts as changed when its route's effects changed, not only its backend; a host that
gains or loses TLS (its plain-HTTP requests are redirected, or no longer) is probed on every path,
and TLS names are host classes of their own; a host group with regex paths (``use-regex``,
``rewrite-target``) is probed with sample paths each regex matches (core/routing/sample.py), a
longer one under it (regexes are anchored at the start only) and the same in capitals (they match
case-insensitively), since its prefix keys are no paths at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from gitops_ingress.core.annotations.model import RouteEffects
from gitops_ingress.core.routing.answer import table_tls
from gitops_ingress.core.routing.groups import PathTable
from gitops_ingress.core.routing.model import Backend, Route, RouteMatch
from gitops_ingress.core.routing.paths import UnsafePath, normalize_path
from gitops_ingress.core.routing.sample import samples
from gitops_ingress.core.routing.table import RouteTable

FRESH_LABEL = "any"  # the first label tried for a host or path element no rule names
OTHER_HOST_PARENT = "example"  # parent domain of the host no rule names

Decider = tuple[str, ...]
DEFAULT: Decider = ("default",)
NOTHING: Decider = ("none",)


@dataclass(frozen=True, slots=True)
class Probe:
    host: str
    path: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one table does with one request, and which part of the table decided it."""

    backend: Backend | None  # None: 404
    decided_by: Decider  # ("route", host, kind, path), ("catch-all", host), DEFAULT or NOTHING
    route: Route | None
    group: str | None  # the rule host of the host group chosen (``""``: host-less), None: none

    @property
    def target(self) -> str | None:
        return None if self.backend is None else str(self.backend)


def outcome(table: RouteTable, host: str, path: str) -> Outcome:
    match = table.match(host, path)
    if match.route is not None:
        return Outcome(match.backend, ("route", *match.route.key), match.route, match.host_group)
    if match.backend is None:
        return Outcome(None, NOTHING, None, match.host_group)
    _, group = table.host_group(host)
    if group is not None and group.catch_all is not None:
        return Outcome(match.backend, ("catch-all", group.name), None, match.host_group)
    return Outcome(match.backend, DEFAULT, None, match.host_group)


def _fresh(taken: AbstractSet[str], make: str) -> str:
    """``make`` with ``{}`` filled by the first of any, any-2, any-3 ... that is not taken."""
    label, number = FRESH_LABEL, 1
    while make.format(label) in taken:
        number += 1
        label = f"{FRESH_LABEL}-{number}"
    return make.format(label)


def _hosts(tables: tuple[RouteTable, ...]) -> list[str]:
    names = sorted({host for table in tables for host in (*table.hosts, *table.tls_hosts())})
    exact = [host for host in names if host and not host.startswith("*.")]
    parents = sorted({host[2:] for host in names if host.startswith("*.")})
    taken = set(exact)
    wildcards = [_fresh(taken, "{}." + parent) for parent in parents]
    # one host that no exact rule names and no wildcard catches: its parent is no wildcard's
    parent = OTHER_HOST_PARENT
    while parent in parents:
        parent = "x-" + parent
    other = _fresh(taken, "{}-host." + parent)
    return [*exact, *wildcards, other]


def _paths(groups: list[PathTable], everything: bool) -> list[str]:
    exact = {path for group in groups for path in group.exact}
    prefixes = {key for group in groups for key in group.prefix}
    keys = exact | prefixes
    everything = everything or len(groups) != 2 or groups[0].fallback != groups[1].fallback
    if not everything:  # two groups, one fallback: only a path whose walk meets a changed key moves
        first, second = groups
        exact = {path for path in exact if _answer(first.exact, path) != _answer(second.exact, path)}
        prefixes = {key for key in prefixes if _answer(first.prefix, key) != _answer(second.prefix, key)}
    found = [path for path in sorted(exact) if path.startswith("/") and "?" not in path]
    if any(group.regex is not None for group in groups):  # first, so that examples are real paths
        found += _regex_paths(groups)
    for key in sorted(prefixes):
        found.append(key or "/")
        found.append(_fresh(keys, key + "/{}"))
    if everything:
        found += ["/", _fresh(keys, "/{}")]
    return list(dict.fromkeys(found))


# what is appended to a regex's sample when a longer regex or an Exact path takes the sample
# itself, and tried for a path that no regex of a group matches (the group's fallback)
_SUFFIXES = ("0", "_", "~", "-", FRESH_LABEL, "/" + FRESH_LABEL)


def _regex_paths(groups: list[PathTable]) -> list[str]:
    """Paths each regex path of ``groups`` matches, one longer, and the same in capitals; for each
    regex route one path it decides in its group, when one of a few candidates is; and one path
    none of a group's regexes matches, when one of a few is."""
    found = ["/"]
    for group in groups:
        for _, entry in group.regex or ():
            path = entry.route.path if entry.route is not None else ""
            tried = samples(path) or [path]
            for sample in tried:
                found += [sample, sample + FRESH_LABEL, sample.upper()]
            candidates = (*tried, *(sample + suffix for sample in tried for suffix in _SUFFIXES))
            found += [next((c for c in candidates if _normal(c) and group.match(c) is entry), tried[0])]
        if group.regex:
            unmatched = ("/" + suffix for suffix in _SUFFIXES)
            found += [next((c for c in unmatched if not any(p.match(c) for p, _ in group.regex)), "/")]
    return found


def _normal(path: str) -> bool:
    try:
        return normalize_path(path) == path
    except UnsafePath:
        return False


def probes(*tables: RouteTable) -> Iterator[Probe]:
    """At least one request of every class that ``tables`` may tell apart (see the module
    docstring). A host whose group holds the same paths and fallback in every table, and whose
    TLS is the same, is answered alike on every path, so it gets no probes: a diff costs what
    changed, not the whole table."""
    tls = [table_tls(table) for table in tables]
    for host in _hosts(tables):
        chosen = [table.host_group(host)[1] for table in tables]
        groups = [group for group in chosen if group is not None]
        secure = len({covers(host) for covers in tls}) > 1
        if not secure and len(groups) == len(chosen) and all(_alike(groups[0], group) for group in groups[1:]):
            continue
        for path in _paths(groups, secure):
            yield Probe(host, path)


def _answer(bucket: Mapping[str, RouteMatch], key: str) -> tuple[Backend, RouteEffects | None] | None:
    """What a path key answers: its backend and effects (the rule's file and line do not matter)."""
    found = bucket.get(key)
    if found is None:
        return None
    return found.backend, None if found.route is None else found.route.effects  # type: ignore[return-value]


def _alike(a: PathTable, b: PathTable) -> bool:
    return a is b or (a.exact, a.prefix, a.fallback) == (b.exact, b.prefix, b.fallback)
