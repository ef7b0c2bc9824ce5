"""The JSON access log: one object per line, or nothing at all.

When the log is off, the proxy is given no callback (``Worker`` passes None), so the request path
does not even build the record. When it is on, lines go into the stream's own buffer
and are flushed on a short timer rather than per request: a write system call per request would
cost more than the rest of the logging, while a fixed delay of a fraction of a second keeps
``kubectl logs -f`` and tests that read the log timely.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import IO, Any

FLUSH_DELAY = 0.2  # seconds between the first unflushed line and the flush


class AccessLog:
    """A callable ``on_access(record)`` writing JSON lines to a text stream."""

    def __init__(self, stream: IO[str], flush_delay: float = FLUSH_DELAY) -> None:
        self._stream = stream
        self._flush_delay = flush_delay
        self._pending: asyncio.TimerHandle | None = None
        self._pid = os.getpid()
        self._dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode

    def __call__(self, record: dict[str, Any]) -> None:
        record.setdefault("time", time.time())
        record.setdefault("pid", self._pid)
        self._stream.write(self._dumps(record) + "\n")
        if self._pending is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # called outside a loop (tools, tests): no batching to do
                self.flush()
                return
            self._pending = loop.call_later(self._flush_delay, self.flush)

    def flush(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        try:
            self._stream.flush()
        except (OSError, ValueError):  # a closed pipe must not take the proxy down
            pass
