"""A local stand-in for the parts of the GitHub REST API that PR previews use.

Real HTTP on 127.0.0.1 (the server of forge_api.py), so the client under test goes through
httpx, sockets, headers and JSON exactly as against api.github.com. It records every request and
keeps state like GitHub does: issue comments per pull request (listed with ``per_page``/``page``,
created with POST, edited with PATCH on ``/issues/comments/{id}``), commit statuses, and
deployments (``POST /deployments`` needs ``ref``; ``GET /deployments?environment=`` lists the
newest first; ``POST /deployments/{id}/statuses`` needs a deployment state, ``inactive`` among
them). A wrong token (``Authorization: Bearer``) gets 401, an unknown repository 404;
``fail_with`` makes every answer an error.

    with GitHubStandIn(token="t0k", repository="acme/routes") as api:
        ForgeOptions(api_url=api.url, repository="acme/routes", token="t0k")
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.support.forge_api import Answer, ForgeStandIn, Recorded

__all__ = ["GitHubStandIn", "Recorded"]

_COMMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_COMMENT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
_STATUSES = re.compile(r"^/repos/([^/]+/[^/]+)/statuses/([0-9a-f]{7,64})$")
_DEPLOYMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/deployments$")
_DEPLOYMENT_STATUSES = re.compile(r"^/repos/([^/]+/[^/]+)/deployments/(\d+)/statuses$")
DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


@dataclass
class GitHubStandIn(ForgeStandIn):
    repository: str = "acme/routes"
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    _next_id: int = 1000

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.token}"

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        for pattern in (_COMMENTS, _COMMENT, _STATUSES, _DEPLOYMENTS, _DEPLOYMENT_STATUSES):
            found = pattern.match(path)
            if found and found.group(1) != self.repository:
                return 404, {"message": "Not Found"}
        if (found := _COMMENTS.match(path)) and method == "GET":
            per_page = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
            items = self.comments.get(int(found.group(2)), [])
            return 200, items[(page - 1) * per_page : page * per_page]
        if (found := _COMMENTS.match(path)) and method == "POST":
            self._next_id += 1
            number = int(found.group(2))
            comment = {
                "id": self._next_id,
                "body": body["body"],
                "html_url": f"https://github.example/{self.repository}/pull/{number}#issuecomment-{self._next_id}",
            }
            self.comments.setdefault(number, []).append(comment)
            return 201, comment
        if (found := _COMMENT.match(path)) and method == "PATCH":
            for items in self.comments.values():
                for comment in items:
                    if comment["id"] == int(found.group(2)):
                        comment["body"] = body["body"]
                        return 200, comment
            return 404, {"message": "Not Found"}
        if (found := _STATUSES.match(path)) and method == "POST":
            return self._status(found.group(2), body, ("error", "failure", "pending", "success"), 422)
        if _DEPLOYMENTS.match(path):
            return self._deployments(method, query, body)
        if (found := _DEPLOYMENT_STATUSES.match(path)) and method == "POST":
            number = int(found.group(2))
            if not any(d["id"] == number for d in self.deployments):
                return 404, {"message": "Not Found"}
            if not isinstance(body, dict) or body.get("state") not in DEPLOYMENT_STATES:
                return 422, {"message": "Validation Failed"}
            self.deployment_statuses.setdefault(number, []).append(body)
            return 201, {"id": len(self.deployment_statuses[number]), **body}
        return 404, {"message": "Not Found"}

    def _deployments(self, method: str, query: dict[str, list[str]], body: Any) -> Answer:
        if method == "GET":
            environment = query.get("environment", [None])[0]
            per_page = int(query.get("per_page", ["30"])[0])
            found = [d for d in reversed(self.deployments) if environment in (None, d["environment"])]
            return 200, found[:per_page]
        if method != "POST":
            return 404, {"message": "Not Found"}
        if not isinstance(body, dict) or not isinstance(body.get("ref"), str) or not body["ref"]:
            return 422, {"message": "Validation Failed: ref is required"}
        self._next_id += 1
        deployment = {"id": self._next_id, **body, "environment": body.get("environment") or "production"}
        self.deployments.append(deployment)
        return 201, deployment
