"""Push webhooks: ``POST /webhooks/{github,gitlab,gitea,generic}``.

The endpoint only authenticates, parses and hands over; the pure work (forge detection, signature
and token checks, payload parsing) is ``core.webhooks``. Order matters and is fixed: the body is
read with a hard cap (413) before anything else, the signature is checked (401) before the body is
parsed (400), and only then is the delivery id looked up, so an unauthenticated sender can neither
make us parse nor fill the delivery log. Accepted pushes answer 202 at once: the fetch happens in
the background (debounced by the engine), and a forge never waits on git. A 202 does wait for the
delivery's row in the state database (the replay guard), so a delivery answered 202 survives a
``kill -9``; the engine is woken before that write, so the fetch does not wait for it.

Each endpoint accepts its own forge family (Forgejo posts to the Gitea endpoint) and has its own
secret; an endpoint without a configured secret refuses everything (401), never accepts unsigned.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

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
_RESULTS = {401: "unauthorized", 400: "malformed", 413: "too_large"}


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, limit: int) -> bytes:
    """The raw body, or BodyTooLarge as soon as it passes ``limit`` (never buffered beyond it)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(code: int, **body: object) -> JSONResponse:
    return JSONResponse(body, status_code=code)


def webhook_router(
    receiver: WebhookReceiver, secrets: Mapping[str, str], *, max_body: int = MAX_WEBHOOK_BODY
) -> APIRouter:
    router = APIRouter()

    async def receive(endpoint: str, request: Request) -> JSONResponse:
        arrived = time.monotonic()  # push-to-live counts from here, not from after the checks
        try:
            body = await read_capped(request, max_body)
        except BodyTooLarge:
            await receiver.record_delivery(endpoint, "too_large")
            return _answer(413, error=f"the body is larger than {max_body} bytes")
        forge = detect_forge(request.headers)
        if forge not in ENDPOINTS[endpoint]:
            await receiver.record_delivery(endpoint, "wrong_endpoint")
            return _answer(400, error=f"a {forge.value} delivery was sent to /webhooks/{endpoint}")
        try:
            event = handle(request.headers, body, secrets.get(endpoint, ""), max_bytes=max_body)
        except WebhookError as exc:
            await receiver.record_delivery(forge.value, _RESULTS.get(exc.status, "refused"))
            return _answer(exc.status, error=exc.message)
        if event.action is Action.PING:
            await receiver.record_delivery(forge.value, "ping")
            return _answer(200, status="pong")
        if event.action is Action.IGNORE:
            await receiver.record_delivery(forge.value, "ignored")
            return _answer(202, status="ignored", reason=event.reason or f"{event.event} event")
        replay = _answer(202, status="ignored", reason=f"delivery {event.delivery_id} was already received")
        if event.delivery_id and receiver.known_delivery(event.delivery_id):
            await receiver.record_delivery(forge.value, "replayed")
            return replay
        # The engine is woken before the replay guard's row is written, so its fetch starts
        # meanwhile (in a burst that write queues behind the engine's own); the 202 still waits
        # for the row. Only a copy racing the first one gets past the read above, and costs a
        # fetch that joins the first one's.
        await receiver.push(event.branch, event.deleted, arrived)
        if event.delivery_id and await receiver.seen_delivery(event.delivery_id):
            await receiver.record_delivery(forge.value, "replayed")
            return replay
        await receiver.record_delivery(forge.value, "accepted", event.delivery_id)
        return _answer(202, status="accepted", branch=event.branch, deleted=event.deleted)

    for name in ENDPOINTS:
        router.add_api_route(
            f"/webhooks/{name}",
            _endpoint(receive, name),
            methods=["POST"],
            status_code=202,
            name=f"webhook_{name}",
            summary=f"Receive a {name} push webhook",
        )
    return router


Receive = Callable[[str, Request], Awaitable[JSONResponse]]


def _endpoint(receive: Receive, name: str) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        return await receive(name, request)

    return endpoint
