"""Push webhooks: ``POST /webhooks/{github,gitlab,gitea,generic}``.

The endpoint only authenticates, parses and hands over; the pure work (forge detection, signature
and token checks, payload parsing) is ``core.webhooks``. Order matters and is fixed: the body is
read with a hard cap (413) before anything else, the signature is checked (401) before the body is
parsed (400), and only then is the delivery id looked up, so an unauthenticated sender can neither
make us parse nor fill the delivery log. Accepted pushes answer 202 at once: the fetch happens in
the background (debounced by the engine), and a forge never waits on git. A 202 does wait for the
delivery's row in the state database (the replay guard), so a delivery answered 202 survives a
``kill -9``; the engine is woken before that write, so the fetch does not wait for it.

The intake is a pure ASGI middleware (``WebhookIntake``), outermost in the application, not a
FastAPI route: a push of 500 branches is 500 deliveries at once, and under the dashboard's layers
(routing through every router, dependency solving, the security headers, the exception and
exit-stack middleware) one delivery cost about 380 us of serve's CPU before the socket, against
about 90 us here, which made the intake the limit of a burst's push to live. None of those layers
applies: a delivery is authenticated by its own signature or token (never by the dashboard's
credentials), arrives under whatever host name the forge was given (the Host allow-list exempts
it, web/hosts.py), and its answer is JSON for a machine (no page for a Content-Security-Policy to
protect). Anything but a POST to one of the four paths goes on to the application, which has no
route for it.

Each endpoint accepts its own forge family (Forgejo posts to the Gitea endpoint) and has its own
secret; an endpoint without a configured secret refuses everything (401), never accepts unsigned.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from gitops_ingress.core.status import WebhookReceiver
from gitops_ingress.core.webhooks import (
    MAX_BODY_BYTES,
    Action,
    Forge,
    WebhookError,
    detect_forge,
    handle,
)

MAX_WEBHOOK_BODY = MAX_BODY_BYTES
ENDPOINTS: dict[str, frozenset[Forge]] = {
    "github": frozenset({Forge.GITHUB}),
    "gitlab": frozenset({Forge.GITLAB}),
    "gitea": frozenset({Forge.GITEA, Forge.FORGEJO}),
    "generic": frozenset({Forge.GENERIC}),
}
PATHS = {f"/webhooks/{name}": name for name in ENDPOINTS}
_RESULTS = {401: "unauthorized", 400: "malformed", 413: "too_large"}
_JSON = (b"content-type", b"application/json")


class BodyTooLarge(Exception):
    pass


class Disconnected(Exception):
    """The sender went away before its body arrived: nothing to answer, nothing recorded."""


async def read_capped(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The raw body, or BodyTooLarge as soon as it passes ``limit`` (never buffered beyond it)."""
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


class WebhookIntake:
    """``POST /webhooks/<endpoint>`` answered here; every other request goes on to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        receiver: WebhookReceiver,
        secrets: Mapping[str, str],
        max_body: int = MAX_WEBHOOK_BODY,
    ) -> None:
        self._app = app
        self._receiver = receiver
        self._secrets = dict(secrets)
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = PATHS.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if endpoint is None:
            await self._app(scope, receive, send)
            return
        try:
            code, body = await self._deliver(endpoint, scope, receive)
        except Disconnected:
            return
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = [(b"content-length", b"%d" % len(data)), _JSON]
        await send({"type": "http.response.start", "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def _deliver(self, endpoint: str, scope: Scope, receive: Receive) -> tuple[int, dict[str, object]]:
        """The answer to one delivery: its status code and its JSON body."""
        arrived = time.monotonic()  # push-to-live counts from here, not from after the checks
        receiver = self._receiver
        try:
            body = await read_capped(scope, receive, self._max_body)
        except BodyTooLarge:
            await receiver.record_delivery(endpoint, "too_large")
            return 413, {"error": f"the body is larger than {self._max_body} bytes"}
        # ASGI header names are lower case; a repeated header's last value counts, as in handle()
        headers = {bytes(key).decode("latin-1"): bytes(value).decode("latin-1") for key, value in scope["headers"]}
        forge = detect_forge(headers)
        if forge not in ENDPOINTS[endpoint]:
            await receiver.record_delivery(endpoint, "wrong_endpoint")
            return 400, {"error": f"a {forge.value} delivery was sent to /webhooks/{endpoint}"}
        try:
            event = handle(headers, body, self._secrets.get(endpoint, ""), max_bytes=self._max_body)
        except WebhookError as exc:
            await receiver.record_delivery(forge.value, _RESULTS.get(exc.status, "refused"))
            return exc.status, {"error": exc.message}
        if event.action is Action.PING:
            await receiver.record_delivery(forge.value, "ping")
            return 200, {"status": "pong"}
        if event.action is Action.IGNORE:
            await receiver.record_delivery(forge.value, "ignored")
            return 202, {"status": "ignored", "reason": event.reason or f"{event.event} event"}
        again = f"delivery {event.delivery_id} was already received"
        replay: dict[str, object] = {"status": "ignored", "reason": again}
        if event.delivery_id and receiver.known_delivery(event.delivery_id):
            await receiver.record_delivery(forge.value, "replayed")
            return 202, replay
        # The engine is woken before the replay guard's row is written, so its fetch starts
        # meanwhile (in a burst that write queues behind the engine's own); the 202 still waits
        # for the row. Only a copy racing the first one gets past the read above, and costs a
        # fetch that joins the first one's.
        await receiver.push(event.branch, event.deleted, arrived)
        if event.delivery_id and await receiver.seen_delivery(event.delivery_id):
            await receiver.record_delivery(forge.value, "replayed")
            return 202, replay
        await receiver.record_delivery(forge.value, "accepted", event.delivery_id)
        return 202, {"status": "accepted", "branch": event.branch, "deleted": event.deleted}
