"""Route sources: where the proxy's snapshots come from (files, the control plane, Kubernetes).

The interface is one method on purpose, so that a Kubernetes watch can plug in beside the two
sources here without the proxy knowing more than this: ``await source.run(publish)`` runs until
cancelled and calls ``publish(snapshot)`` with each new, fully built ``Snapshot``. A source does
its slow work (reading files, parsing, compiling, network) off the request path and publishes only
finished snapshots; ``SnapshotHolder.swap`` is the usual ``publish``. A source that loses its
upstream keeps quiet, so the proxy keeps serving the last snapshot it was given.

Each source lives in its own module, imported only by the worker that uses it (proxy/app.py's
``make_source``); ``FileSourceError`` is here so that the command line can catch it without
importing the Ingress build that the file source needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from gitops_ingress.core.errors import SourceError
from gitops_ingress.proxy.snapshot import Snapshot

if TYPE_CHECKING:
    from gitops_ingress.core.findings import Finding

Publish = Callable[[Snapshot], None]


class RouteSource(Protocol):
    name: str

    async def run(self, publish: Publish) -> None:
        """Publish snapshots until cancelled."""


class FileSourceError(SourceError):
    """The folders hold errors; ``findings`` says where."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        shown = "; ".join(f.one_line(hint=False) for f in self.findings[:5])
        more = f" (and {len(self.findings) - 5} more)" if len(self.findings) > 5 else ""
        super().__init__(f"ingress files have errors: {shown}{more}")
