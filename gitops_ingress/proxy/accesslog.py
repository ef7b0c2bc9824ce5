"""The JSON access log: one object per line, or nothing at all, formatted off the request path.

When the log is off, the proxy is given no callback (``Worker`` passes None), so the request path
does not even build the record. When it is on, a request costs the log one list append (and one
clock read): records are kept as they come and formatted and written in one go, when the buffer
holds ``max_records`` of them or ``flush_delay`` after the first, as nginx's
``access_log ... buffer=size flush=time`` does. That takes the formatting out of the request's own
latency and lets one ``write`` and one ``flush`` serve a whole batch; a fixed delay of a fraction
of a second keeps ``kubectl logs -f`` and tests that read the log timely.

Formatting stays with the json module's C encoder (``separators=(",", ":")``,
``ensure_ascii=False``, ``default=str``; keys in the record's order, then ``time`` and ``pid``):
a hand-written formatter for these records measured only about 10 % faster per line, not worth a
second JSON writer. docs/proxy.md has the fields and the measured cost.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import IO, Any

FLUSH_DELAY = 0.2  # seconds between the first buffered record and the write
MAX_RECORDS = 64  # records buffered before they are formatted and written at once: a batch holds the
# event loop for well under 1 ms (4 to 9 us a record on a slow, shared core), not to show in p99

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


class AccessLog:
    """A callable ``on_access(record)`` writing JSON lines to a text stream, in batches."""

    def __init__(self, stream: IO[str], flush_delay: float = FLUSH_DELAY, max_records: int = MAX_RECORDS) -> None:
        self._stream = stream
        self._flush_delay = flush_delay
        self._max_records = max_records
        self._records: list[dict[str, Any]] = []
        self._pending: asyncio.TimerHandle | None = None
        self._pid = os.getpid()

    def __call__(self, record: dict[str, Any]) -> None:
        record.setdefault("time", time.time())  # when it happened, not when it is written
        record.setdefault("pid", self._pid)
        records = self._records
        records.append(record)
        if len(records) >= self._max_records:
            self.flush()
        elif self._pending is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # called outside a loop (tools, tests): no batching to do
                self.flush()
                return
            self._pending = loop.call_later(self._flush_delay, self.flush)

    def flush(self) -> None:
        """Format and write every buffered record, then flush the stream."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        records, self._records = self._records, []
        try:
            if records:
                self._stream.write("\n".join(map(_encode, records)) + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # a closed pipe must not take the proxy down
            pass
