"""Branch overlays: which stable hosts a branch changes, for routing keys on the real host.

A request to a stable host that carries a routing key (docs/previews.md) is routed with the
branch's table *for that host only*, and with the stable table for every host the branch leaves
as it is. So each branch's overlay is the set of rule hosts whose routes differ between the
branch's table and the stable table, decided once per routing state, never per request:

* a host group differs when its routes differ (host, match kind, compared path, path type,
  backend and Ingress; the file and line a route was written at do not count), or its fallback
  (catch-all or default backend) differs, or it exists on one side only;
* only named hosts (exact and ``*.`` wildcards) are overlaid. The host-less group and the default
  backend match every host, so overlaying them would steer hosts the branch never names; they
  stay visible on the branch's host-less preview host.

``BranchOverlay.covers`` answers for one normalised request host whether the branch's table
routes it; ``by_slug`` finds the overlay a key names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from operator import attrgetter

from gitops_ingress.core.naming import branch_slug
from gitops_ingress.core.routing.groups import PathTable
from gitops_ingress.core.routing.model import Route
from gitops_ingress.core.routing.table import RouteTable

GroupSignature = tuple[frozenset[tuple[object, ...]], object]
# every field of a Route but where it was written (a field added to Route is compared too)
_ROUTING_FIELDS = attrgetter(*(item.name for item in fields(Route) if item.name not in ("file", "line")))


def _signature(group: PathTable) -> GroupSignature:
    """What a host group routes, without where it was written."""
    return frozenset(_ROUTING_FIELDS(route) for route in group.routes()), group.fallback.backend


@dataclass(frozen=True, slots=True)
class StableGroup:
    """A stable host group as branches are compared with it: its signature, and its routes as
    the group lists them. A file a branch shares with the stable branch is parsed once, so the
    branch's routes of it are the very same objects (sync/parsecache.py): a branch group of the
    same objects in the same order, with the same fallback, routes alike without its signature
    being made (most groups of most branches, in a burst of new branches)."""

    routes: list[Route]
    fallback: object
    signature: GroupSignature

    def same_objects(self, group: PathTable) -> bool:
        # list equality tries identity first, in C; routes equal in every field (where they
        # were written too) route alike as well, so a miss only means "compare signatures"
        return group.fallback.backend == self.fallback and group.routes() == self.routes


Signatures = Mapping[str, StableGroup]  # rule host -> what its group routes


def signatures(table: RouteTable) -> dict[str, StableGroup]:
    """Every named host group's signature; made once per stable table and shared by every
    branch's comparison (a thousand branches against a large stable table stay linear)."""
    return {
        host: StableGroup(group.routes(), group.fallback.backend, _signature(group))
        for host, group in table.named_groups()
    }


def changed_hosts(stable: Signatures, branch: RouteTable) -> frozenset[str]:
    """Named rule hosts (``*.foo.com`` for wildcards) whose routing differs between the tables."""
    changed = set(stable)
    for host, group in branch.named_groups():
        known = stable.get(host)
        if known is not None and (known.same_objects(group) or known.signature == _signature(group)):
            changed.discard(host)
        else:
            changed.add(host)
    return frozenset(changed)


@dataclass(frozen=True, slots=True)
class BranchOverlay:
    branch: str
    slug: str
    table: RouteTable
    hosts: frozenset[str]  # rule hosts the branch changes

    def covers(self, host: str, stable: RouteTable) -> bool:
        """Whether the branch's table routes this normalised request host: the host group it
        selects in the branch's table, or in the stable table (a host the branch removed), is
        one the branch changes."""
        if not self.hosts:
            return False
        for table in (self.table, stable):
            name, _ = table.host_group(host)
            if name and name in self.hosts:
                return True
        return False


def overlay_of(branch: str, table: RouteTable, stable: Signatures) -> BranchOverlay:
    return BranchOverlay(branch, branch_slug(branch), table, changed_hosts(stable, table))


def by_slug(overlays: Mapping[str, BranchOverlay]) -> dict[str, BranchOverlay]:
    """Overlays (given by branch) by the slug a key names. Every branch is here, also one that
    changes no stable host: its key still travels in baggage. A slug claimed twice (a 24-bit hash
    collision, core/naming.py) goes to the first branch by name, as preview hosts do."""
    found: dict[str, BranchOverlay] = {}
    for branch in sorted(overlays):
        found.setdefault(overlays[branch].slug, overlays[branch])
    return found


def by_slug_after(
    found: Mapping[str, BranchOverlay],
    before: Mapping[str, BranchOverlay],
    after: Mapping[str, BranchOverlay],
    changed: Iterable[str],
) -> dict[str, BranchOverlay]:
    """``by_slug(after)``, from ``found`` (``by_slug(before)``) and the branches whose overlay
    changed between the two: work in proportion to those (a burst publishes a few dozen states of
    1,500 branches each, and sorting them all per publication showed in its profile). A slug
    claimed twice, before or after, needs the rule "first branch by name": then the whole build.

    Why the length check is enough: every entry left is one of ``after``'s overlays under its own
    slug (a changed or removed branch's old entry is gone), so as many entries as ``after`` has
    overlays means every slug is claimed once, which is what ``by_slug(after)`` holds then."""
    result = dict(found)
    for branch in changed:
        old = before.get(branch)
        if old is not None and result.get(old.slug) is old:
            del result[old.slug]
    for branch in changed:
        new = after.get(branch)
        if new is not None:
            result.setdefault(new.slug, new)
    return result if len(result) == len(after) else by_slug(after)
