"""What a proxy serves: the stable route table plus one table per previewed branch.

A request's Host picks the table. Preview hosts are one DNS label under the preview domain
(``{branch}--{host}``, DESIGN section 3); because folding a host into a label is lossy, they are
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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitops_ingress.core.naming import preview_host, wildcard_preview_upstream_host
from gitops_ingress.core.routing.model import NO_MATCH, RouteMatch
from gitops_ingress.core.routing.table import EMPTY_TABLE, RouteTable, normalize_host


@dataclass(frozen=True, slots=True)
class PreviewTarget:
    branch: str
    upstream_host: str | None  # None: keep the preview host (host-less rules)


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where one request goes and under which names."""

    match: RouteMatch
    host: str  # the normalised request host
    branch: str | None  # None for the stable routes
    upstream_host: str  # the Host header to send upstream
    unknown_preview: bool = False

    @property
    def is_preview(self) -> bool:
        return self.branch is not None


class RoutingState:
    __slots__ = ("stable", "previews", "preview_domain", "version", "_index", "_suffix")

    def __init__(
        self,
        stable: RouteTable = EMPTY_TABLE,
        previews: Mapping[str, RouteTable] | None = None,
        preview_domain: str = "preview.localhost",
        version: int = 0,
    ) -> None:
        self.stable = stable
        self.previews: dict[str, RouteTable] = dict(previews or {})
        self.preview_domain = preview_domain.lower().strip(".")
        self.version = version
        self._suffix = "." + self.preview_domain
        self._index = self._build_index()

    def _build_index(self) -> dict[str, PreviewTarget]:
        index: dict[str, PreviewTarget] = {}
        for branch in sorted(self.previews):
            for host in self.previews[branch].hosts:
                name = preview_host(branch, host or None, self.preview_domain)
                upstream = wildcard_preview_upstream_host(host) if host else None
                index.setdefault(name, PreviewTarget(branch, upstream))
        return index

    def preview_hosts(self, branch: str) -> dict[str, str]:
        """Preview host -> rule host ("" for host-less) for one branch."""
        table = self.previews.get(branch)
        if table is None:
            return {}
        return {preview_host(branch, host or None, self.preview_domain): host for host in table.hosts}

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

    def to_dict(self) -> dict[str, Any]:
        """The wire form the control plane streams to proxies."""
        return {
            "version": self.version,
            "previewDomain": self.preview_domain,
            "stable": self.stable.to_dict(),
            "previews": {branch: table.to_dict() for branch, table in sorted(self.previews.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingState:
        return cls(
            RouteTable.from_dict(data.get("stable") or {}),
            {str(b): RouteTable.from_dict(t) for b, t in (data.get("previews") or {}).items()},
            str(data.get("previewDomain") or "preview.localhost"),
            int(data.get("version") or 0),
        )

    def with_branch(self, branch: str, table: RouteTable | None, stable_branch: str) -> RoutingState:
        """A new state with one branch's table replaced (None removes the branch)."""
        previews = dict(self.previews)
        stable = self.stable
        if branch == stable_branch:
            stable = table if table is not None else EMPTY_TABLE
        elif table is None:
            previews.pop(branch, None)
        else:
            previews[branch] = table
        return RoutingState(stable, previews, self.preview_domain, self.version + 1)
