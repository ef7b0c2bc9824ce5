"""Flow control: stop reading from one side while the other cannot take more.

A proxy copies bytes between two transports, so back-pressure has to cross over: when the
upstream's write buffer passes the high-water mark (asyncio calls ``pause_writing`` on the
upstream protocol) the client's reading is paused, and the other way round for responses. More
than one thing can want a transport paused at once (a full upstream buffer, a backlog of
pipelined requests, a body buffered while the upstream connects), so a ``ReadGate`` counts
reasons as bits and only touches the transport when the first reason comes or the last one goes.
"""

from __future__ import annotations

import asyncio
from typing import Final

# why reading is paused (bits; Final, so that compiled code inlines them: setup.py)
PEER_FULL: Final = 1  # the transport we copy into is above its high-water mark
BACKLOG: Final = 2  # pipelined requests or a buffered body are waiting
TUNNEL_WAIT: Final = 4  # an Upgrade waits for the upstream's 101


class ReadGate:
    """Pause/resume reading on one transport for any number of independent reasons."""

    __slots__ = ("reasons", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.reasons = 0

    def pause(self, reason: int) -> None:
        if not self.reasons:
            try:
                self.transport.pause_reading()
            except RuntimeError:  # already closing: nothing left to pause
                pass
        self.reasons |= reason

    def resume(self, reason: int) -> None:
        if not self.reasons & reason:
            return
        self.reasons &= ~reason
        if not self.reasons and not self.transport.is_closing():
            self.transport.resume_reading()

    @property
    def paused(self) -> bool:
        return bool(self.reasons)


def set_limits(transport: asyncio.BaseTransport, high: int, low: int) -> None:
    """Apply the write-buffer marks (both directions use the same settings). Asked of the object,
    not of its class: uvloop's TCP transport has the method but is no ``asyncio.WriteTransport``
    (an isinstance check left every plain connection on uvloop's own marks)."""
    setter = getattr(transport, "set_write_buffer_limits", None)
    if setter is not None:
        setter(high=high, low=low)
