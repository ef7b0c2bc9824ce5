"""One lazily re-armed deadline per connection, instead of a timer per state change.

Connections move through states with different limits (idle, reading a head, waiting for an
upstream) many times a second. Cancelling and re-creating a TimerHandle on every change costs
more than the rest of a small request, so the hot path only records times and calls ``arm``,
which keeps an existing timer when it fires no later than the new deadline. The callback then
looks at the state it finds and arms again for whatever applies by then.

Times on the request path come from ``time.monotonic()``, not ``loop.time()``: uvloop's clock counts
whole milliseconds (libuv's ``uv_now``), which made every request's latency in the metrics and the
access log a whole number of milliseconds. Both count CLOCK_MONOTONIC from the same origin, so a
deadline taken from one and handed to ``call_at`` of the other fires within a millisecond of it,
and every callback checks its own condition again anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class LazyTimer:
    __slots__ = ("_at", "_callback", "_handle", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0

    def arm(self, deadline: float) -> None:
        """Make sure the callback runs by ``deadline`` (an earlier pending run is kept)."""
        handle = self._handle
        if handle is not None:
            if self._at <= deadline:
                return
            handle.cancel()
        self._at = deadline
        self._handle = self._loop.call_at(deadline, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def stop(self) -> None:
        """Cancel for good: the callback (a bound method of the owner) is let go too, so the
        owner and its timer are not a cycle and are freed by reference counting."""
        self.cancel()
        self._callback = _nothing

    def _fire(self) -> None:
        self._handle = None
        self._callback()


def _nothing() -> None:
    """A stopped timer's callback."""
