"""The in-process route source: the proxy worker inside ``serve``, fed by the engine directly.

``serve --target local`` runs the same proxy worker as ``gitops-ingress proxy`` (listeners, admin
port, metrics, drain), with this source in place of files or the control-plane stream: the
engine's routing state is already in memory, so there is no socket hop and no JSON between the
control plane and its own proxy. Separate proxies still follow the stream. The htpasswd Secrets of
basic-auth routes come from ``serve --secret-dir`` (proxy/secrets.py), read with each new state:
a few small files, only when a route names one; a refused entry is logged and left out.

The feed is ``core.status.RoutingFeed``, which ``sync.Engine`` satisfies by shape (the proxy
imports no other adapter). Listeners run on the event loop: building a snapshot here is a
pairing of the state with the backend map, not a compile, so it never stalls the loop.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.routing import RoutingState
from gitops_ingress.core.status import RoutingFeed
from gitops_ingress.proxy import secrets
from gitops_ingress.proxy.snapshot import Snapshot
from gitops_ingress.proxy.sources import Publish

log = logging.getLogger("gitops_ingress.proxy.sources.inprocess")


class InProcessSource:
    name = "serve"

    def __init__(self, feed: RoutingFeed, backends: BackendMap, secret_dir: Path | None = None) -> None:
        self._feed = feed
        self._backends = backends
        self._secret_dir = secret_dir
        self._wanted = secrets.WantedByTable()  # a burst publishes often: per table, not per route

    def snapshot(self, state: RoutingState) -> Snapshot:
        credentials, findings = secrets.from_folder(self._secret_dir, state, self._wanted)
        for finding in findings:
            log.warning("serve: %s", finding.one_line(hint=False))
        return Snapshot.from_backend_map(state, self._backends, self.name, credentials)

    async def run(self, publish: Publish) -> None:
        """Publish the current state, then every new one, until cancelled."""
        unsubscribe = self._feed.subscribe_routes(lambda state: publish(self.snapshot(state)))
        try:
            publish(self.snapshot(self._feed.routing_state()))
            await asyncio.Event().wait()  # the feed calls us; nothing to do until cancelled
        finally:
            unsubscribe()
