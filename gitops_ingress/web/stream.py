"""``GET /api/v1/proxy/stream``: the control-plane stream that proxies route from.

The wire format (a whole ``state`` first, then ``delta`` lines, ``ping`` lines when nothing
happened for a ping interval) is ``core/stream.py``, which the proxy's controller client decodes
with; this module only decides when to send which line. Each stream subscribes to the engine's
routing state (``subscribe_routes``); a new state only wakes the stream up, and the stream then
sends the delta from the state it last sent to the current one, so a burst of changes costs one
line of the branches that moved, and a slow proxy is never behind by more than one line.

A thousand previewed branches make a whole state of megabytes that takes most of a second to
encode, so lines are encoded in a worker thread (the loop keeps serving) and shared by every
connected proxy: the whole line of the latest state (for proxies that connect) and the delta
from each base revision to the latest (proxies that are in step ask for the same one). When a
delta would carry most of the branches, the whole state is sent instead: it is no bigger, and
it is the line already encoded for the next proxy that connects.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.routing import RoutingState
from gitops_ingress.core.routing.table import WireMemo
from gitops_ingress.core.status import ControlPlaneView
from gitops_ingress.core.stream import (
    DEFAULT_PING_INTERVAL,
    MEDIA_TYPE,
    PING_LINE,
    STREAM_PATH,
    changed,
    delta_line,
    state_line,
)

SMALL_DELTA = 16  # branches; a delta this small is never replaced by the whole state


class SharedLines:
    """The encoded lines of the latest state, shared by every stream of one app."""

    def __init__(self, backends: BackendMap) -> None:
        self._backends = backends.to_dict()
        self._state: RoutingState | None = None
        self._line = b""
        self._deltas_to: RoutingState | None = None
        self._deltas: dict[int, bytes] = {}  # base revision -> the delta to ``_deltas_to``
        self._lock = asyncio.Lock()
        self._wire = WireMemo()  # the routes a burst's tables share with main: encoded once

    async def whole(self, state: RoutingState) -> bytes:
        async with self._lock:
            if state is not self._state:
                self._line = await asyncio.to_thread(state_line, state, self._backends)
                self._state = state
            return self._line

    async def since(self, base: RoutingState, state: RoutingState) -> bytes:
        """The line that moves a proxy holding ``base`` to ``state``."""
        changes = changed(base, state)
        if len(changes) > SMALL_DELTA and 2 * len(changes) > len(state.previews) + 1:
            return await self.whole(state)
        async with self._lock:
            if state is not self._deltas_to:
                self._deltas_to, self._deltas = state, {}
            line = self._deltas.get(base.version)
            if line is None:
                line = self._deltas[base.version] = await asyncio.to_thread(
                    delta_line, base, state, changes, self._wire
                )
            return line


async def stream_lines(view: ControlPlaneView, lines: SharedLines, ping_interval: float) -> AsyncIterator[bytes]:
    changed_event = asyncio.Event()
    # subscribe before reading the state, so no change can fall between the two
    unsubscribe = view.subscribe_routes(lambda _state: changed_event.set())
    try:
        sent = view.routing_state()
        yield await lines.whole(sent)
        while True:
            try:
                await asyncio.wait_for(changed_event.wait(), timeout=ping_interval)
            except TimeoutError:
                yield PING_LINE
                continue
            changed_event.clear()
            state = view.routing_state()
            if state.version != sent.version:
                line = await lines.since(sent, state)
                sent = state
                yield line
    finally:
        unsubscribe()  # a client that went away leaves no listener behind


def stream_router(
    view: ControlPlaneView, backends: BackendMap, *, ping_interval: float = DEFAULT_PING_INTERVAL
) -> APIRouter:
    router = APIRouter()
    lines = SharedLines(backends)

    @router.get(STREAM_PATH)
    async def proxy_stream() -> StreamingResponse:
        return StreamingResponse(
            stream_lines(view, lines, ping_interval),
            media_type=MEDIA_TYPE,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
