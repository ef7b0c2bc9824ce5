"""Warnings that every request of a flood would repeat, logged once per key per interval.

Some warnings are about the route table or the cluster, not about one request: "no ready endpoint
for service shop/web" holds for every request to that Service until an endpoint is ready, and a
``resource`` backend is unservable for as long as the route says so. Logged per request, a client
that retries in a loop (or plain traffic at 10,000 requests per second) writes the same line as
often, which costs the proxy a formatted record and a write each and buries every other line.

``QuietLog.warning(key, message, *args)`` logs the first occurrence of ``key`` in full, at once,
and then only counts: at the end of the interval (``warning_interval`` in ProxySettings, 10 s by
default) each key that came again gets one line, the first message with how many more times it
came (``... (412 more in the last 10 s)``). A key still repeating stays quiet for the next
interval, so a steady flood costs one line per key per interval; a key that stayed silent for a
whole interval is forgotten, and its next occurrence is logged in full again. Keys are what the
warning is about (the Service, the backend), which the route table bounds; ``MAX_KEYS`` bounds
them all the same, counting any past it under one line of its own.

The interval runs on the event loop's clock (``call_later``), so the summary comes at the end of
the interval even when the flood has stopped, and nothing runs while nothing is repeated. Outside
a running loop (tools, tests) every warning is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Final

MAX_KEYS: Final = 1024  # distinct keys counted per interval; more are counted together


class QuietLog:
    """``warning(key, message, *args)``: ``logger.warning`` at most once per ``key`` per ``interval`` seconds."""

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self._logger = logger
        self._interval = interval
        # key -> (message, args of its first occurrence, occurrences not logged in this interval)
        self._keys: dict[Hashable, tuple[str, tuple[object, ...], int]] = {}
        self._others = 0  # occurrences of new keys past MAX_KEYS in this interval, not logged
        self._timer: asyncio.TimerHandle | None = None

    def warning(self, key: Hashable, message: str, *args: object) -> None:
        known = self._keys.get(key)
        if known is not None:
            self._keys[key] = (known[0], known[1], known[2] + 1)
            return
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop to end an interval on: nothing to hold back
                self._logger.warning(message, *args)
                return
            self._timer = loop.call_later(self._interval, self._end_interval)
        if len(self._keys) >= MAX_KEYS:
            self._others += 1
            return
        self._keys[key] = (message, args, 0)
        self._logger.warning(message, *args)

    def _summarise(self) -> None:
        """One line per key that came again; those stay quiet one more interval, the rest are forgotten."""
        repeated: dict[Hashable, tuple[str, tuple[object, ...], int]] = {}
        for key, (message, args, count) in self._keys.items():
            if count:
                self._logger.warning(f"{message} (%d more in the last %g s)", *args, count, self._interval)
                repeated[key] = (message, args, 0)
        if self._others:
            self._logger.warning("%d more warnings of other kinds in the last %g s", self._others, self._interval)
            self._others = 0
        self._keys = repeated

    def _end_interval(self) -> None:
        self._timer = None
        self._summarise()
        if self._keys:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._end_interval)

    def close(self) -> None:
        """Log what is still counted (at shutdown) and stop the interval."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._summarise()
        self._keys = {}
