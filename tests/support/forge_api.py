"""Local stand-ins for the forge APIs that commit statuses use: the server they share, GitLab's
and Gitea's (Forgejo speaks Gitea's API). GitHub's, with PR comments and deployments, is
github_api.py, on the same server.

Real HTTP on 127.0.0.1 (a ThreadingHTTPServer in a thread), so a client goes through httpx,
sockets, headers and JSON as against the real forge. Each stand-in records every request and
checks it as the forge's API documents it: the path (GitLab's project id URL-encoded), the
token header (GitLab ``PRIVATE-TOKEN``, Gitea ``Authorization: token``), a JSON body with the
required fields and a state the forge knows. A wrong token gets 401, anything else the forge
would refuse 400/404/422, and ``fail_with`` makes every answer an error.

    with GitLabStandIn(token="glpat", project="acme/routes") as api:
        ForgeOptions(kind="gitlab", api_url=api.url + "/api/v4", repository="acme/routes", token="glpat")
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, quote, urlsplit

Answer = tuple[int, Any]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ForgeStandIn:
    """The server every stand-in runs on; a subclass says who may call (``authorized``) and
    answers (``route``), under the lock, with the request recorded first."""

    token: str = "test-token"
    fail_with: int | None = None
    requests: list[Recorded] = field(default_factory=list)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> bodies
    _lock: threading.Condition = field(default_factory=threading.Condition)  # notified per request
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("start the stand-in first (use it as a context manager)")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="forge-stand-in", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def authorized(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        raise NotImplementedError

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Block until ``condition()`` holds (re-checked after every request) or ``timeout``."""
        with self._lock:
            return self._lock.wait_for(condition, timeout)

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> Answer:
        with self._lock:
            try:
                return self._handle(method, raw_path, headers, body)
            finally:
                self._lock.notify_all()

    def _handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> Answer:
        parts = urlsplit(raw_path)
        self.requests.append(Recorded(method, parts.path, headers, body))
        if self.fail_with is not None:
            return self.fail_with, {"message": "stand-in told to fail"}
        if not self.authorized(headers):
            return 401, {"message": "401 Unauthorized"}
        if body is not None and not headers.get("content-type", "").startswith("application/json"):
            return 415, {"message": "JSON bodies only"}
        return self.route(method, parts.path, parse_qs(parts.query), body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = stand_in.handle(self.command, self.path, headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def _status(self, sha: str, body: Any, states: tuple[str, ...], refused: int) -> Answer:
        """A commit status as a forge stores it: a dict body whose ``state`` it knows."""
        if not isinstance(body, dict) or body.get("state") not in states:
            return refused, {"message": f"state is missing or not one of {', '.join(states)}"}
        self.statuses.setdefault(sha, []).append(body)
        return 201, {"id": len(self.statuses[sha]), "sha": sha, **body}


_GITLAB_STATUS = re.compile(r"^/api/v4/projects/([^/]+)/statuses/([0-9a-f]{7,64})$")
_GITEA_STATUS = re.compile(r"^/api/v1/repos/([^/]+/[^/]+)/statuses/([0-9a-f]{7,64})$")


@dataclass
class GitLabStandIn(ForgeStandIn):
    """``POST /api/v4/projects/:id/statuses/:sha`` (``:id`` numeric or the URL-encoded path),
    ``PRIVATE-TOKEN``, states pending/running/success/failed/canceled (else 400)."""

    project: str = "acme/routes"
    project_id: int = 42

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("private-token") == self.token

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        found = _GITLAB_STATUS.match(path)
        if not found or method != "POST" or found.group(1) not in (quote(self.project, safe=""), str(self.project_id)):
            return 404, {"message": "404 Project Not Found"}
        return self._status(found.group(2), body, ("pending", "running", "success", "failed", "canceled"), 400)


@dataclass
class GiteaStandIn(ForgeStandIn):
    """``POST /api/v1/repos/{owner}/{repo}/statuses/{sha}``, ``Authorization: token``, states
    pending/success/error/failure/warning (else 422)."""

    repository: str = "acme/routes"

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"token {self.token}"

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        found = _GITEA_STATUS.match(path)
        if not found or method != "POST" or found.group(1) != self.repository:
            return 404, {"message": "Not Found"}
        return self._status(found.group(2), body, ("pending", "success", "error", "failure", "warning"), 422)
