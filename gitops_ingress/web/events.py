"""``GET /api/v1/events``: the control plane's events as Server-Sent Events for the dashboard.

Each ``ControlPlaneEvent`` becomes one SSE message (``id`` = its sequence, ``event`` = its type,
``data`` = the event as JSON); a comment line goes out when nothing happened for a while so that
proxies do not time the connection out and a closed browser tab is noticed. The dashboard's
script only uses events as a signal to re-fetch the server-rendered page, so no HTML is built from
event data on the client and escaping stays in one place (the templates).

The view's subscription is drained by a helper task into a bounded queue: waiting on the queue
with a timeout is safe to cancel, while cancelling a wait on an arbitrary async iterator could end
it. When a slow client lets the queue fill up, the oldest events are dropped -- a page reload
signal loses nothing by being coalesced.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from gitops_ingress.core.status import ControlPlaneEvent, ControlPlaneView
from gitops_ingress.web.api import PREFIX
from gitops_ingress.web.auth import Access

EVENTS_PATH = PREFIX + "/events"
DEFAULT_KEEPALIVE = 15.0
QUEUE_SIZE = 256
RETRY_MS = 3000


def sse_message(event: ControlPlaneEvent) -> bytes:
    # model_dump_json never emits a raw newline, so the data fits on one "data:" line
    return f"id: {event.sequence}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n".encode()


async def _drain(view: ControlPlaneView, queue: asyncio.Queue[ControlPlaneEvent]) -> None:
    # aclosing: a closed tab must unregister its subscription, not leave it filling with events
    async with contextlib.aclosing(view.subscribe()) as events:  # type: ignore[type-var]
        async for event in events:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)


async def event_stream(view: ControlPlaneView, keepalive: float) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[ControlPlaneEvent] = asyncio.Queue(QUEUE_SIZE)
    drainer = asyncio.create_task(_drain(view, queue))
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
        while not drainer.done() or not queue.empty():
            try:
                event = await asyncio.wait_for(queue.get(), timeout=keepalive)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            yield sse_message(event)
    finally:
        drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await drainer


def events_router(view: ControlPlaneView, access: Access, keepalive: float = DEFAULT_KEEPALIVE) -> APIRouter:
    router = APIRouter(tags=["events"], dependencies=[Depends(access.read)])

    @router.get(EVENTS_PATH, response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
    async def events() -> StreamingResponse:
        return StreamingResponse(
            event_stream(view, keepalive),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
