"""The forge told of every preview's life as it happens: commit statuses and GitHub deployments.

``POST /api/v1/previews/publish`` (previews.py) is asked for by CI; this follows the control
plane's events instead, because a preview also goes when nobody pushes (it expired, the cap
refused it, its branch was deleted) and the forge should say so:

* every change of a preview branch's state at its head commit becomes a commit status
  (forgestatus.py: GitHub, GitLab, Gitea/Forgejo), linking to the branch's dashboard page; a
  repeated event for the same commit and state sends nothing. The stable branch gets none: the
  status is the preview's, and a new branch starts at the stable head, whose status it would
  overwrite under the same context;
* on GitHub (``ForgeOptions.deployments``), a preview branch that is applied with preview URLs
  is deployed to its environment ``preview/<branch>`` with the first preview URL, and marked
  ``inactive`` when its previews go (expired, capped, deleted).

A forge that fails is logged and never stops the service; the next change is sent again.
"""

from __future__ import annotations

import contextlib
import logging

from gitops_ingress.core.status import ControlPlaneEvent, ControlPlaneView, SyncState
from gitops_ingress.web.forge import ForgeError, GitHubClient
from gitops_ingress.web.forgestatus import STATUS_OF, StatusClient, status_client
from gitops_ingress.web.options import WebOptions
from gitops_ingress.web.previews import dashboard_url

log = logging.getLogger("gitops_ingress.web")
GONE = (SyncState.EXPIRED, SyncState.CAPPED)


class ForgeNotifier:
    def __init__(
        self,
        view: ControlPlaneView,
        options: WebOptions,
        *,
        statuses: StatusClient | None = None,
        deployments: GitHubClient | None = None,
    ) -> None:
        forge = options.forge
        self._view = view
        self._public_url = options.public_url
        self._statuses = statuses or status_client(forge)
        github = forge.kind == "github" and forge.deployments
        self._deployments = deployments or (GitHubClient(forge) if github else None)
        self._sent: dict[str, tuple[str, SyncState]] = {}  # branch -> what the forge was last told

    async def run(self) -> None:
        """Follow the events until cancelled."""
        async with contextlib.aclosing(self._view.subscribe()) as events:  # type: ignore[type-var]
            async for event in events:
                try:
                    await self._tell(event)
                except ForgeError as exc:
                    log.warning("forge: branch %r: %s", event.branch, exc)

    async def _tell(self, event: ControlPlaneEvent) -> None:
        name = event.branch
        if event.type == "deleted":
            self._sent.pop(name, None)
            if self._deployments is not None:
                await self._deployments.deactivate(name, "the branch was deleted; its previews were removed")
            return
        if event.type != "branch":
            return
        status = self._view.branch(name)
        if (
            status is None
            or status.stable
            or status.head is None
            or self._sent.get(name) == (status.head.sha, status.state)
        ):
            return
        self._sent[name] = (status.head.sha, status.state)
        state, description = STATUS_OF[status.state]
        # a forge wants an absolute link: without the dashboard's public URL there is none to give
        link = dashboard_url(self._public_url, name) if self._public_url else ""
        await self._statuses.set_status(status.head.sha, state, description, link)
        if self._deployments is None:
            return
        if status.state is SyncState.APPLIED and status.preview_urls:
            await self._deployments.deploy(name, status.head.sha, status.preview_urls[0].url, description)
        elif status.state in GONE:
            await self._deployments.deactivate(name, status.message)
