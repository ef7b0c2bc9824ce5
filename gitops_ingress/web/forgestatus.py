"""Commit statuses on every forge the dashboard links to: GitHub, GitLab, Gitea and Forgejo.

The dashboard speaks one vocabulary of states (GitHub's: pending, success, failure, error); each
client maps it to its forge's as that forge's API documents it, and sends what that API requires:

* GitHub (forge.py's ``GitHubClient``): ``POST /repos/{owner}/{repo}/statuses/{sha}``,
  ``Authorization: Bearer``, states as they are.
* GitLab: ``POST /projects/:id/statuses/:sha`` (``:id`` the numeric id or the URL-encoded path),
  ``PRIVATE-TOKEN``, states pending/running/success/failed/canceled: failure and error are both
  ``failed`` (GitLab has no "error"); the label is ``name``.
* Gitea and Forgejo: ``POST /repos/{owner}/{repo}/statuses/{sha}``, ``Authorization: token``,
  states pending/success/error/failure/warning, as they are.

``status_client`` picks the client for ``ForgeOptions.kind``; errors are ``ForgeError`` from the
shared ``forge_request``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol
from urllib.parse import quote

import httpx

from gitops_ingress.core.status import SyncState
from gitops_ingress.web.forge import _SHA, STATUS_STATES, ForgeError, GitHubClient, forge_request
from gitops_ingress.web.options import ForgeOptions

_GITLAB_PROJECT = re.compile(r"^(?:\d+|[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+)$")
_GITEA_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# a branch's state as a commit status: (state, description) in the dashboard's vocabulary
STATUS_OF = {
    SyncState.APPLIED: ("success", "routes applied; previews are live"),
    SyncState.PENDING: ("pending", "waiting to be reconciled"),
    SyncState.REFUSED: ("failure", "refused: validation found errors"),
    SyncState.ERROR: ("error", "the control plane could not apply it"),
    SyncState.STANDBY: ("pending", "waiting for the leading replica to apply it"),
    SyncState.DELETED: ("error", "the branch was deleted"),
    SyncState.EXPIRED: ("error", "the preview expired; push to bring it back"),
    SyncState.CAPPED: ("failure", "preview refused: max_previews reached"),
}
GITLAB_STATES = {"pending": "pending", "success": "success", "failure": "failed", "error": "failed"}


def _names_a_repository(repository: str, pattern: re.Pattern[str]) -> bool:
    """``pattern`` matched, and no ``.``/``..`` segment that would walk the API's path."""
    return bool(pattern.match(repository)) and not {".", ".."} & set(repository.split("/"))


class StatusClient(Protocol):
    async def set_status(self, sha: str, state: str, description: str, target_url: str = "") -> None: ...


class _StatusClient:
    """What the GitLab and Gitea clients share: one request per status, checked first; each
    forge says its path, its token header, its label field and its states."""

    forge = ""
    label = "context"  # the body field that names the status
    states: ClassVar[Mapping[str, str]] = {state: state for state in STATUS_STATES}
    repository: ClassVar[tuple[re.Pattern[str], str]]  # what names a repository, and its words

    def __init__(self, options: ForgeOptions, transport: httpx.AsyncBaseTransport | None = None) -> None:
        pattern, expected = self.repository
        if not _names_a_repository(options.repository, pattern):
            raise ForgeError(f"{self.forge} repository {options.repository!r}: expected {expected}")
        self._options = options
        self._transport = transport

    def _path(self, sha: str) -> str:
        raise NotImplementedError

    def _auth(self) -> dict[str, str]:
        raise NotImplementedError

    async def set_status(self, sha: str, state: str, description: str, target_url: str = "") -> None:
        if not _SHA.match(sha) or state not in STATUS_STATES:
            raise ForgeError(f"commit status: bad commit {sha!r} or state {state!r}")
        payload: dict[str, Any] = {
            "state": self.states[state],
            self.label: self._options.status_context,
            "description": description[:255],
        }
        if target_url:
            payload["target_url"] = target_url
        async with httpx.AsyncClient(
            base_url=self._options.api_url.rstrip("/"),
            headers={**self._auth(), "Accept": "application/json", "User-Agent": "gitops-ingress"},
            timeout=self._options.timeout,
            transport=self._transport,
        ) as client:
            await forge_request(client, self.forge, "POST", self._path(sha), payload)


class GitLabClient(_StatusClient):
    forge = "GitLab"
    label = "name"
    states = GITLAB_STATES
    repository = (_GITLAB_PROJECT, "GROUP/PROJECT or a numeric project id")

    def _path(self, sha: str) -> str:
        return f"/projects/{quote(self._options.repository, safe='')}/statuses/{sha}"

    def _auth(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self._options.token}


class GiteaClient(_StatusClient):
    forge = "Gitea"
    repository = (_GITEA_REPOSITORY, "OWNER/NAME")

    def _path(self, sha: str) -> str:
        return f"/repos/{self._options.repository}/statuses/{sha}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self._options.token}"}


def status_client(options: ForgeOptions, transport: httpx.AsyncBaseTransport | None = None) -> StatusClient:
    """The commit-status client of ``options.kind``."""
    if options.kind == "gitlab":
        return GitLabClient(options, transport)
    if options.kind == "gitea":
        return GiteaClient(options, transport)
    return GitHubClient(options, transport)
