"""``GET /api/v1/proxy/stream``: the control-plane stream that proxies route from.

The wire format (``state`` lines carrying the whole routing state, ``ping`` lines when nothing
happened for a ping interval) is ``core/stream.py``, which the proxy's controller client decodes
with; this module only decides when to send which line. Each stream subscribes to the engine's
routing state (``subscribe_routes``); a new state only wakes the stream up and change detection
is by ``RoutingState.version``, so a burst of changes costs one line. A thousand previewed
branches make a line of megabytes that takes most of a second to encode, so the line of the
latest state is encoded once, in a worker thread (the loop keeps serving), and shared by every
connected proxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.routing import RoutingState
from gitops_ingress.core.status import ControlPlaneView
from gitops_ingress.core.stream import DEFAULT_PING_INTERVAL, MEDIA_TYPE, PING_LINE, STREAM_PATH, state_line


class SharedLine:
    """The encoded line of the latest state, shared by every stream of one app."""

    def __init__(self, backends: BackendMap) -> None:
        self._backends = backends.to_dict()
        self._state: RoutingState | None = None
        self._line = b""
        self._lock = asyncio.Lock()

    async def line_for(self, state: RoutingState) -> bytes:
        async with self._lock:
            if state is not self._state:
                self._line = await asyncio.to_thread(state_line, state, self._backends)
                self._state = state
            return self._line


async def stream_lines(view: ControlPlaneView, lines: SharedLine, ping_interval: float) -> AsyncIterator[bytes]:
    changed = asyncio.Event()
    # subscribe before reading the state, so no change can fall between the two
    unsubscribe = view.subscribe_routes(lambda _state: changed.set())
    try:
        state = view.routing_state()
        sent_version = state.version
        yield await lines.line_for(state)
        while True:
            try:
                await asyncio.wait_for(changed.wait(), timeout=ping_interval)
            except TimeoutError:
                yield PING_LINE
                continue
            changed.clear()
            state = view.routing_state()
            if state.version != sent_version:
                sent_version = state.version
                yield await lines.line_for(state)
    finally:
        unsubscribe()  # a client that went away leaves no listener behind


def stream_router(
    view: ControlPlaneView, backends: BackendMap, *, ping_interval: float = DEFAULT_PING_INTERVAL
) -> APIRouter:
    router = APIRouter()
    lines = SharedLine(backends)

    @router.get(STREAM_PATH)
    async def proxy_stream() -> StreamingResponse:
        return StreamingResponse(
            stream_lines(view, lines, ping_interval),
            media_type=MEDIA_TYPE,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
