"""The forge around the config repository: links to files, PR comments and commit statuses.

Links: when the repository URL points at a known forge (github.com, gitlab.com, codeberg.org, or a
host whose name says gitea/forgejo), findings and routes link to the file and line at the exact
commit, so a reviewer lands on the YAML that was validated, not on whatever the branch holds now.
Credentials in the URL are dropped before anything is shown.

Publishing: a preview summary is posted to a pull request as one comment that is edited on every
push (found again by a hidden marker) rather than a new comment per push, and the head commit gets
a status whose link opens the branch's dashboard page. GitHub's REST API is spoken with httpx at a
configurable base URL (GitHub Enterprise, or a local stand-in in tests); transport and HTTP errors
become ``ForgeError`` at this boundary (``forge_request``, which the GitLab and Gitea clients of
forgestatus.py share). On GitHub each preview branch is also a deployment (an environment
``preview/<branch>`` with the preview URL), marked ``inactive`` when the preview goes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from gitops_ingress.core.errors import GitopsIngressError
from gitops_ingress.web.options import ForgeOptions

COMMENT_MARKER = "<!-- gitops-ingress:preview -->"
MAX_COMMENT_PAGES = 10
_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
STATUS_STATES = ("error", "failure", "pending", "success")
DEPLOYMENT_ENVIRONMENT = "preview/{branch}"


class ForgeError(GitopsIngressError):
    """The forge refused a request or could not be reached."""


@dataclass(frozen=True, slots=True)
class RepoLinks:
    """Builds links to files at a commit for one repository on a known forge."""

    web_url: str  # https://host/owner/name, without credentials or .git
    style: str  # "github" | "gitlab" | "gitea"

    def file_url(self, commit: str, path: str, line: int = 0) -> str:
        if not commit or not path or not _SHA.match(commit):
            return ""
        quoted = quote(path.lstrip("/"), safe="/")
        if self.style == "github":
            url = f"{self.web_url}/blob/{commit}/{quoted}"
        elif self.style == "gitlab":
            url = f"{self.web_url}/-/blob/{commit}/{quoted}"
        else:
            url = f"{self.web_url}/src/commit/{commit}/{quoted}"
        return f"{url}#L{line}" if line > 0 else url

    def commit_url(self, commit: str) -> str:
        if not _SHA.match(commit or ""):
            return ""
        return f"{self.web_url}/{'-/commit' if self.style == 'gitlab' else 'commit'}/{commit}"


def forge_style(host: str) -> str | None:
    host = host.lower()
    if host in ("github.com", "www.github.com"):
        return "github"
    if host == "gitlab.com" or host.startswith("gitlab."):
        return "gitlab"
    if host == "codeberg.org" or any(word in host for word in ("gitea", "forgejo")):
        return "gitea"
    return None


def repo_links(repo_url: str) -> RepoLinks | None:
    """``RepoLinks`` for a clone URL (https, ssh:// or scp-like ``git@host:o/r.git``), or None."""
    url = repo_url.strip()
    if not url:
        return None
    scp = _SCP_LIKE.match(url)
    if "://" not in url and scp:
        host, path = scp.group(1), scp.group(2)
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh", "git"):
            return None
        host, path = parts.hostname or "", parts.path
    style = forge_style(host)
    path = path.strip("/").removesuffix(".git")
    if style is None or path.count("/") < 1 or ".." in path.split("/"):
        return None
    return RepoLinks(f"https://{host.lower()}/{path}", style)


class GitHubClient:
    """PR comments and commit statuses through the GitHub REST API (v3)."""

    def __init__(self, options: ForgeOptions, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not _REPOSITORY.match(options.repository):
            raise ForgeError(f"forge repository {options.repository!r}: expected OWNER/NAME")
        self._options = options
        self._transport = transport

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self._options.api_url.rstrip("/") + f"/repos/{self._options.repository}",
            headers={
                "Authorization": f"Bearer {self._options.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "gitops-ingress",
            },
            timeout=self._options.timeout,
            transport=self._transport,
        )

    async def upsert_comment(self, pull_request: int, body: str) -> str:
        """Post ``body`` on the PR, or edit our earlier comment; returns the comment's URL."""
        text = f"{COMMENT_MARKER}\n{body}"
        async with self._client() as client:
            existing = await self._find_comment(client, pull_request)
            if existing is None:
                answer = await self._send(client, "POST", f"/issues/{pull_request}/comments", {"body": text})
            else:
                answer = await self._send(client, "PATCH", f"/issues/comments/{existing}", {"body": text})
        return str(answer.get("html_url") or answer.get("url") or "")

    async def set_status(self, sha: str, state: str, description: str, target_url: str = "") -> None:
        if not _SHA.match(sha) or state not in STATUS_STATES:
            raise ForgeError(f"commit status: bad commit {sha!r} or state {state!r}")
        payload: dict[str, Any] = {
            "state": state,
            "description": description[:140],  # GitHub's limit
            "context": self._options.status_context,
        }
        if target_url:
            payload["target_url"] = target_url
        async with self._client() as client:
            await self._send(client, "POST", f"/statuses/{sha}", payload)

    async def deploy(self, branch: str, sha: str, environment_url: str, description: str) -> int:
        """A deployment of ``sha`` to the branch's transient environment, marked ``success`` with
        the preview URL (GitHub marks the environment's older deployments inactive); its id."""
        if not _SHA.match(sha):
            raise ForgeError(f"deployment: bad commit {sha!r}")
        payload: dict[str, Any] = {
            "ref": sha,
            "environment": DEPLOYMENT_ENVIRONMENT.format(branch=branch),
            "description": description[:140],
            "auto_merge": False,  # a preview deploys the commit as it is
            "required_contexts": [],  # and does not wait for the checks our own status is one of
            "transient_environment": True,
            "production_environment": False,
        }
        async with self._client() as client:
            created = await self._send(client, "POST", "/deployments", payload)
            if not isinstance(created, dict) or not isinstance(created.get("id"), int):
                raise ForgeError("GitHub API: the deployment answer has no id")
            status = {"state": "success", "environment_url": environment_url, "description": description[:140]}
            await self._send(client, "POST", f"/deployments/{created['id']}/statuses", status)
        return int(created["id"])

    async def deactivate(self, branch: str, description: str) -> int | None:
        """Mark the branch environment's newest deployment ``inactive`` (the preview went); its
        id, or None when the environment has none."""
        environment = DEPLOYMENT_ENVIRONMENT.format(branch=branch)
        async with self._client() as client:
            found = await self._send(client, "GET", "/deployments", params={"environment": environment, "per_page": 1})
            if not isinstance(found, list):
                raise ForgeError("GitHub API: deployment list was not a list")
            if not found:
                return None
            newest = int(found[0]["id"])
            status = {"state": "inactive", "description": description[:140]}
            await self._send(client, "POST", f"/deployments/{newest}/statuses", status)
        return newest

    async def _find_comment(self, client: httpx.AsyncClient, pull_request: int) -> int | None:
        for page in range(1, MAX_COMMENT_PAGES + 1):
            comments = await self._send(
                client, "GET", f"/issues/{pull_request}/comments", params={"per_page": 100, "page": page}
            )
            if not isinstance(comments, list):
                raise ForgeError("GitHub API: comment list was not a list")
            for comment in comments:
                if isinstance(comment, dict) and COMMENT_MARKER in str(comment.get("body") or ""):
                    return int(comment["id"])
            if len(comments) < 100:
                return None
        return None

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        return await forge_request(client, "GitHub", method, path, payload, params)


async def forge_request(
    client: httpx.AsyncClient,
    forge: str,
    method: str,
    path: str,
    payload: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """One JSON request to a forge's API; transport and HTTP errors become ``ForgeError`` (with
    the answer's first 200 characters, never the request's headers)."""
    try:
        response = await client.request(method, path, json=payload, params=params)
    except httpx.HTTPError as exc:
        raise ForgeError(f"{forge} API {method} {path}: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        reason = response.text[:200].replace("\n", " ")
        raise ForgeError(f"{forge} API {method} {path}: HTTP {response.status_code}: {reason}")
    try:
        return response.json()
    except ValueError as exc:
        raise ForgeError(f"{forge} API {method} {path}: answer is not JSON") from exc
