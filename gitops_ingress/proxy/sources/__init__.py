"""Route sources: where the proxy's snapshots come from (files, the control plane, Kubernetes).

The interface is one method on purpose, so that a Kubernetes watch can plug in beside the two
sources here without the proxy knowing more than this: ``await source.run(publish)`` runs until
cancelled and calls ``publish(snapshot)`` with each new, fully built ``Snapshot``. A source does
its slow work (reading files, parsing, compiling, network) off the request path and publishes only
finished snapshots; ``SnapshotHolder.swap`` is the usual ``publish``. A source that loses its
upstream keeps quiet, so the proxy keeps serving the last snapshot it was given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from gitops_ingress.proxy.snapshot import Snapshot

Publish = Callable[[Snapshot], None]


class RouteSource(Protocol):
    name: str

    async def run(self, publish: Publish) -> None:
        """Publish snapshots until cancelled."""
