"""What a proxy serves: the stable route table plus one table per previewed branch.

A request's Host picks the table. Preview hosts are one DNS label under the preview domain
(``{branch}--{host}``, docs/concepts.md); because folding a host into a label is lossy, they are
not parsed back but looked up in an index built here, once per state, from every branch's rule
hosts. The index maps a preview host to the branch and to the Host that is sent upstream:

* an exact rule host ``shop.example.com`` is previewed at ``{branch}--shop-example-com`` and the
  upstream sees ``Host: shop.example.com``;
* a wildcard rule host ``*.apps.example.com`` is previewed at
  ``{branch}--wildcard-apps-example-com``; it is matched, and sent upstream, as
  ``wildcard.apps.example.com`` (one concrete label stands in for the wildcard);
* host-less rules are previewed at ``{branch}.{preview_domain}``; the upstream sees the preview
  host, since there is no stable host to restore.

A name under the preview domain that is in no index is an unknown preview: the proxy answers 404
and says so. States are immutable; a proxy swaps a whole new state in atomically.

Each state also holds every branch's overlay (core/routing/overlay.py): the stable hosts a branch
changes, which a routing key on the real host routes with the branch's table (docs/previews.md).
They are derived from the tables here, so the wire form does not carry them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from gitops_ingress.core.naming import preview_hosts, wildcard_preview_upstream_host
from gitops_ingress.core.routing.groups import GroupMemo
from gitops_ingress.core.routing.model import NO_MATCH, RouteMatch
from gitops_ingress.core.routing.overlay import (
    BranchOverlay,
    Signatures,
    by_slug,
    by_slug_after,
    overlay_of,
    signatures,
)
from gitops_ingress.core.routing.table import EMPTY_TABLE, RouteTable, normalize_host


@dataclass(frozen=True, slots=True)
class PreviewTarget:
    branch: str
    upstream_host: str | None  # None: keep the preview host (host-less rules)


class Resolution(NamedTuple):
    """Where one request goes and under which names.

    A NamedTuple rather than a frozen dataclass: one is built per proxied request, and a frozen
    dataclass's ``__init__`` (``object.__setattr__`` per field) cost 0.94 us against 0.33 us."""

    match: RouteMatch
    host: str  # the normalised request host
    branch: str | None  # None for the stable routes
    upstream_host: str  # the Host header to send upstream
    unknown_preview: bool = False

    @property
    def is_preview(self) -> bool:
        return self.branch is not None


def _preview_entries(branch: str, table: RouteTable, domain: str) -> Iterator[tuple[str, PreviewTarget]]:
    """(preview host, target) for every rule host of one branch's table."""
    hosts = list(table.hosts)
    for name, host in zip(preview_hosts(branch, hosts, domain), hosts, strict=True):
        upstream = wildcard_preview_upstream_host(host) if host else None
        yield name, PreviewTarget(branch, upstream)


def _build_index(previews: Mapping[str, RouteTable], domain: str) -> tuple[dict[str, PreviewTarget], bool]:
    """The preview index, and whether some preview name is claimed by more than one branch (the
    first branch by name wins it)."""
    index: dict[str, PreviewTarget] = {}
    shared = False
    for branch in sorted(previews):
        for name, target in _preview_entries(branch, previews[branch], domain):
            shared = shared or name in index
            index.setdefault(name, target)
    return index, shared


class RoutingState:
    __slots__ = (
        "_branch_overlays",
        "_index",
        "_shared",
        "_stable_signatures",
        "_suffix",
        "overlays",
        "preview_domain",
        "previews",
        "stable",
        "version",
    )

    def __init__(
        self,
        stable: RouteTable = EMPTY_TABLE,
        previews: Mapping[str, RouteTable] | None = None,
        preview_domain: str = "preview.localhost",
        version: int = 0,
        *,
        index: tuple[dict[str, PreviewTarget], bool] | None = None,
        overlays: Mapping[str, BranchOverlay] | None = None,
        stable_signatures: Signatures | None = None,
        slugs: dict[str, BranchOverlay] | None = None,
        owned: bool = False,
    ) -> None:
        """``index``: what ``_build_index`` returns for exactly these previews, when the caller
        already has it (``with_branch``); None builds it. ``overlays``: likewise, every branch's
        overlay against this stable table, by branch, and the stable table's signatures; ``slugs``:
        ``by_slug(overlays)``, when the caller has it. ``owned``: ``previews`` is a dict made for
        this state alone (``with_changes``'), kept as it is rather than copied once more: a burst
        publishes a few dozen states of 1,500 branches, and each copy showed in its profile."""
        self.stable = stable
        self.previews: dict[str, RouteTable] = (
            previews if owned and isinstance(previews, dict) else dict(previews or {})
        )
        self.preview_domain = preview_domain.lower().strip(".")
        self.version = version
        self._suffix = "." + self.preview_domain
        self._index, self._shared = index or _build_index(self.previews, self.preview_domain)
        self._stable_signatures = stable_signatures if stable_signatures is not None else signatures(stable)
        if overlays is None:
            overlays = {b: overlay_of(b, table, self._stable_signatures) for b, table in self.previews.items()}
        self._branch_overlays = overlays
        self.overlays = slugs if slugs is not None else by_slug(overlays)  # slug -> overlay, what a key looks up

    def preview_hosts(self, branch: str) -> dict[str, str]:
        """Preview host -> rule host ("" for host-less) for one branch."""
        table = self.previews.get(branch)
        if table is None:
            return {}
        hosts = list(table.hosts)
        return dict(zip(preview_hosts(branch, hosts, self.preview_domain), hosts, strict=True))

    def overlaid_hosts(self, branch: str) -> list[str]:
        """The stable rule hosts a routing key for this branch routes with its table, sorted."""
        overlay = self._branch_overlays.get(branch)
        return sorted(overlay.hosts) if overlay is not None else []

    def resolve(self, raw_host: str, path: str) -> Resolution:
        host = normalize_host(raw_host)
        target = self._index.get(host)
        if target is not None:
            table = self.previews[target.branch]
            upstream = target.upstream_host
            # host-less preview: match with a host no rule names, so only the host-less group applies
            match = table.match(upstream if upstream is not None else "", path)
            return Resolution(match, host, target.branch, upstream or host)
        if host.endswith(self._suffix):
            return Resolution(NO_MATCH, host, None, host, unknown_preview=True)
        return Resolution(self.stable.match(host, path), host, None, host)

    def resolve_overlay(self, overlay: BranchOverlay, raw_host: str, path: str) -> Resolution | None:
        """A request to a stable host with ``overlay``'s routing key: the branch's routing when
        the branch changes that host, upstream Host unchanged; None (stable routing) for a host
        it leaves alone and for preview hosts, whose name alone decides the branch."""
        host = normalize_host(raw_host)
        if host in self._index or host.endswith(self._suffix) or not overlay.covers(host, self.stable):
            return None
        return Resolution(overlay.table.match(host, path), host, overlay.branch, host)

    def to_dict(self) -> dict[str, Any]:
        """The wire form the control plane streams to proxies."""
        return {
            "version": self.version,
            "previewDomain": self.preview_domain,
            "stable": self.stable.to_dict(),
            "previews": {branch: table.to_dict() for branch, table in sorted(self.previews.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], groups: GroupMemo | None = None) -> RoutingState:
        """``to_dict``'s form back; ``groups``: host groups the tables share (``RouteTable``)."""
        return cls(
            RouteTable.from_dict(data.get("stable") or {}, groups),
            {str(b): RouteTable.from_dict(t, groups) for b, t in (data.get("previews") or {}).items()},
            str(data.get("previewDomain") or "preview.localhost"),
            int(data.get("version") or 0),
        )

    def with_branch(self, branch: str, table: RouteTable | None, stable_branch: str) -> RoutingState:
        """A new state with one branch's table replaced (None removes the branch)."""
        if branch == stable_branch:
            return self.with_changes(table if table is not None else EMPTY_TABLE, {}, self.version + 1)
        return self.with_changes(None, {branch: table}, self.version + 1)

    def with_changes(
        self, stable: RouteTable | None, previews: Mapping[str, RouteTable | None], version: int
    ) -> RoutingState:
        """A new state at ``version`` with ``stable`` replaced (None: kept) and each of
        ``previews`` replaced (None: the branch removed): the engine's one change per branch and
        a control-plane stream delta (``core/stream.py``) both end here.

        The preview index is updated for the changed branches only: a control plane with a
        thousand branches changes one at a time, and rebuilding every branch's preview names per
        change made its cold start quadratic. Only when two branches claim one preview name (where
        the full build's rule "first branch by name wins" applies) is the index rebuilt."""
        merged = dict(self.previews)
        names = dict(self._index)
        rebuild = self._shared
        # routing-key overlays are against the stable table: a new one makes every overlay anew
        overlays = dict(self._branch_overlays) if stable is None else None
        for branch, table in previews.items():
            old = merged.pop(branch, None)
            if table is not None:
                merged[branch] = table
            if overlays is not None:
                overlays.pop(branch, None)
                if table is not None:
                    overlays[branch] = overlay_of(branch, table, self._stable_signatures)
            rebuild = rebuild or not _swap_names(names, branch, old, table, self.preview_domain)
        slugs = None if overlays is None else by_slug_after(self.overlays, self._branch_overlays, overlays, previews)
        return RoutingState(
            self.stable if stable is None else stable,
            merged,
            self.preview_domain,
            version,
            index=None if rebuild else (names, False),
            overlays=overlays,
            stable_signatures=self._stable_signatures if stable is None else None,
            slugs=slugs,
            owned=True,
        )


def _swap_names(
    names: dict[str, PreviewTarget], branch: str, old: RouteTable | None, new: RouteTable | None, domain: str
) -> bool:
    """Swap one branch's preview names in ``names``; False when a new name is already claimed (the
    index must then be rebuilt whole)."""
    if old is not None:
        for name, _ in _preview_entries(branch, old, domain):
            names.pop(name, None)
    if new is not None:
        for name, target in _preview_entries(branch, new, domain):
            if name in names:
                return False
            names[name] = target
    return True
