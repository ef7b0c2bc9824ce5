"""The ``Host`` check in front of every route: an ASGI middleware over ``core.allowed_hosts``.

It wraps the whole application, so no router can forget it, and it answers before routing, so a
refused request learns nothing about which paths exist. Two paths are exempt, each for a reason:
``/webhooks/*`` deliveries are authenticated by their own signature or token and arrive under
whatever name the forge was given, and ``/healthz`` says nothing but "ok" to probes that may use
a Service name. Everything else (the API, the dashboard, the proxy stream, ``/metrics``) is
refused with 421 (Misdirected Request) and a message naming the setting that admits more names.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gitops_ingress.core.allowed_hosts import AllowedHosts

EXEMPT_PREFIXES = ("/webhooks/", "/healthz")
SETTING = "GITOPS_INGRESS_WEB_ALLOWED_HOSTS"


class HostGuard:
    def __init__(self, app: ASGIApp, allowed: AllowedHosts) -> None:
        self._app = app
        self._allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(EXEMPT_PREFIXES):
            await self._app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if self._allowed.allows(host):
            await self._app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        shown = (host or "(none)")[:200]
        body = (
            f"host {shown!r} is not served here: this server answers to IP addresses, localhost and "
            f"{self._allowed.describe()} (set {SETTING} or GITOPS_INGRESS_WEB_PUBLIC_URL to add names)\n"
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 421,  # Misdirected Request: RFC 9110 section 15.5.20
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
