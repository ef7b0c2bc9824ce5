"""A local stand-in for the parts of the GitHub REST API that PR previews use.

Real HTTP on 127.0.0.1 (a ThreadingHTTPServer in a thread), so the client under test goes through
httpx, sockets, headers and JSON exactly as against api.github.com. It records every request and
keeps state like GitHub does: issue comments per pull request (listed with ``per_page``/``page``,
created with POST, edited with PATCH on ``/issues/comments/{id}``) and commit statuses. A wrong
token gets 401, an unknown repository 404; ``fail_with`` makes every answer an error.

    with GitHubStandIn(token="t0k", repository="acme/routes") as api:
        ForgeOptions(api_url=api.url, repository="acme/routes", token="t0k")
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

_COMMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_COMMENT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
_STATUSES = re.compile(r"^/repos/([^/]+/[^/]+)/statuses/([0-9a-f]{7,64})$")


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class GitHubStandIn:
    token: str = "test-token"
    repository: str = "acme/routes"
    fail_with: int | None = None
    requests: list[Recorded] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)
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
        self._thread = threading.Thread(target=self._server.serve_forever, name="github-stand-in", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        with self._lock:
            parts = urlsplit(raw_path)
            self.requests.append(Recorded(method, parts.path, headers, body))
            if self.fail_with is not None:
                return self.fail_with, {"message": "stand-in told to fail"}
            if headers.get("authorization") != f"Bearer {self.token}":
                return 401, {"message": "Bad credentials"}
            return self._route(method, parts.path, parse_qs(parts.query), body)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        for pattern in (_COMMENTS, _COMMENT, _STATUSES):
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
            if body.get("state") not in ("error", "failure", "pending", "success"):
                return 422, {"message": "Validation Failed"}
            self.statuses.setdefault(found.group(2), []).append(body)
            return 201, {"id": 1, **body}
        return 404, {"message": "Not Found"}

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
