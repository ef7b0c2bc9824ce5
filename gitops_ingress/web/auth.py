"""Who may read the dashboard and the API, and who may ask it to write.

Reads are open without credentials when the server is bound to loopback (a laptop, the demo) --
or, when the bind address is not known, when the request arrived on a loopback address -- and
closed otherwise unless explicitly opened (``WebOptions.anonymous_read``), so exposing the port
by accident never exposes the routing of every branch. A bearer token and HTTP basic auth are both
accepted when configured; either grants reads and writes. Writes (publishing a PR comment) always
need credentials, even on loopback, because they act on the forge with the server's own token.

Checks are FastAPI dependencies rather than middleware, so each router states what it needs and
webhooks, which are authenticated by their signatures, stay outside. Secrets are compared in
constant time and never echoed back.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import HTTPException, Request

from gitops_ingress.web.options import WebOptions

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="gitops-ingress", charset="UTF-8"'}


def _same(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Access:
    """FastAPI dependencies: ``Depends(access.read)`` and ``Depends(access.write)``."""

    def __init__(self, options: WebOptions) -> None:
        self._options = options

    def authenticated(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer":
            return _same(value, self._options.bearer_token)
        if scheme == "basic" and self._options.basic_user:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, sep, password = decoded.partition(":")
            # evaluate both comparisons: no early exit that tells which half was wrong
            user_ok = _same(user, self._options.basic_user)
            password_ok = _same(password, self._options.basic_password)
            return bool(sep) and user_ok and password_ok
        return False

    def read(self, request: Request) -> None:
        server = request.scope.get("server") or ("", 0)
        if self._options.reads_open(str(server[0])) or self.authenticated(request):
            return
        detail = "authentication required"
        if not self._options.has_credentials:
            detail += ": this server is not bound to loopback; configure a token or basic auth"
        raise HTTPException(401, detail, headers=_CHALLENGE)

    def write(self, request: Request) -> None:
        if not self._options.has_credentials:
            raise HTTPException(403, "writes are disabled: configure a bearer token or basic auth")
        if not self.authenticated(request):
            raise HTTPException(401, "authentication required", headers=_CHALLENGE)
