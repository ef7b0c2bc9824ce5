"""JSON log lines, buffered and formatted in batches off the request path.

``BatchedLines`` keeps records as they come (one list append per record) and formats and writes
them in one go: when ``max_records`` are waiting, ``flush_delay`` after the first, and at shutdown
(``flush``), as nginx's ``access_log ... buffer=size flush=time`` does. One ``write`` and one
``flush`` serve a whole batch, and a delay of a fraction of a second keeps ``kubectl logs -f`` and
tests that read the log timely. Two kinds of record share it:

* ``AccessLog``: the proxy's access log. The request path (proxy/exchange.py) hands over an
  ``AccessRecord``, a tuple of the raw values it holds anyway (bytes as they came, the endpoint
  object, the monotonic clock reading of the end), so a request pays for one tuple and one call:
  no decoding, no dict, no wall clock read, no rounding. Everything else happens per batch:
  ``time`` is the end's monotonic reading plus one (wall - monotonic) offset taken per batch,
  values that repeat from request to request (client address, method, host, route labels,
  endpoint) are JSON-quoted once and then looked up, and so are durations, by their whole number
of microseconds (``repr`` of a float, which ``round(x, 6)`` also pays for, was the largest single
cost per line), and a line is one ``%`` format. The text is
  byte for byte what ``json.dumps(record, separators=(",", ":"), ensure_ascii=False)`` gives for
  the record as a dict in docs/proxy.md's key order (tests/proxy/test_accesslog.py holds the two
  equal): strings are quoted by the json module's own ``encode_basestring``.
* ``DictLog``: any dict, by the json module's C encoder, with ``time`` and ``pid`` added (the
  sync engine's log, ``gitops-ingress serve``).

Measured (docs/proxy.md, "Access log"): the json module's encoder took 4 to 6 us per access
record on the benchmark machine; the per-batch formatter here takes about a third of that, and the
request path's own share went from a dict (about 1 us) to a tuple.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import IO, TYPE_CHECKING, Any, Final, Generic, TypeVar

if TYPE_CHECKING:
    from gitops_ingress.core.backends import Endpoint

FLUSH_DELAY = 0.2  # seconds between the first buffered record and the write
MAX_RECORDS = 64  # records buffered before they are formatted and written at once: a batch holds the
# event loop for well under 1 ms (1 to 3 us a record on a slow, shared core), not to show in p99
QUOTED_MAX: Final = 4096  # distinct repeated values kept quoted; past that the memo starts over

Record = TypeVar("Record")

# What the request path records per answer (proxy/exchange.py), in this order: client address,
# client protocol, method, target, Host, status, seconds, kind, branch, host group, endpoint of the
# last attempt (None: none tried), request id, time.monotonic() at the end, grpc-status (-1: not
# a gRPC call, or none seen).
AccessRecord = tuple[bytes, str, bytes, bytes, bytes, int, float, str, str, str, "Endpoint | None", bytes, float, int]

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
_LINE: Final = (
    '{"client":%s,"protocol":%s,"method":%s,"target":%s,"host":%s,"status":%d,%s"seconds":%s,'
    '"kind":%s,"branch":%s,"host_group":%s,"upstream":%s,"request_id":%s,"time":%r,"pid":%d}'
)


class BatchedLines(Generic[Record]):
    """A callable ``log(record)``; records become lines by ``lines(records)`` at each flush."""

    def __init__(
        self,
        stream: IO[str],
        lines: Callable[[list[Record]], list[str]],
        flush_delay: float = FLUSH_DELAY,
        max_records: int = MAX_RECORDS,
    ) -> None:
        self._stream = stream
        self._lines = lines
        self._flush_delay = flush_delay
        self._max_records = max_records
        self._records: list[Record] = []
        self._pending: asyncio.TimerHandle | None = None

    def __call__(self, record: Record) -> None:
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
                self._stream.write("\n".join(self._lines(records)) + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # a closed pipe must not take the proxy down
            pass


class DictLog(BatchedLines[dict[str, Any]]):
    """JSON lines of dicts, keys in the dict's order, then ``time`` (when it was logged) and ``pid``."""

    def __init__(self, stream: IO[str], flush_delay: float = FLUSH_DELAY, max_records: int = MAX_RECORDS) -> None:
        super().__init__(stream, lambda records: list(map(_encode, records)), flush_delay, max_records)
        self._pid = os.getpid()

    def __call__(self, record: dict[str, Any]) -> None:
        record.setdefault("time", time.time())  # when it happened, not when it is written
        record.setdefault("pid", self._pid)
        super().__call__(record)


class AccessLog(BatchedLines[AccessRecord]):
    """The proxy's access log: ``AccessRecord`` tuples to the JSON lines of docs/proxy.md."""

    def __init__(self, stream: IO[str], flush_delay: float = FLUSH_DELAY, max_records: int = MAX_RECORDS) -> None:
        super().__init__(stream, self._format, flush_delay, max_records)
        self._pid = os.getpid()
        self._quoted: dict[object, str] = {}
        self._seconds: dict[int, str] = {}  # microseconds -> the JSON number json.dumps writes for them

    def _quote(self, key: object, value: object = None) -> str:
        """``value`` (bytes read as latin-1, or anything by ``str``; None: ``key`` itself) as a
        JSON string literal, memoised by ``key``: a value that repeats (an address, a host, a
        label, an endpoint, by its ``key`` tuple, which hashes in C)."""
        quoted = self._quoted.get(key)
        if quoted is None:
            if len(self._quoted) >= QUOTED_MAX:
                self._quoted.clear()
            text = key if value is None else value
            quoted = self._quoted[key] = encode_basestring(
                text.decode("latin-1") if isinstance(text, bytes) else str(text)
            )
        return quoted

    def _seconds_text(self, micros: int) -> str:
        """``micros`` microseconds as json.dumps writes the float of that many seconds, memoised:
        durations to the microsecond repeat from request to request, a float's repr is slow."""
        memo = self._seconds
        if len(memo) >= QUOTED_MAX:
            memo.clear()
        text = memo[micros] = repr(micros / 1e6)
        return text

    def _format(self, records: list[AccessRecord]) -> list[str]:
        # ``known(value) or quote(value)``: a hit is one C call, not a Python one (this loop is
        # the log's whole cost; measured: about a third less per record than calling ``_quote``)
        known, quote, pid = self._quoted.get, self._quote, self._pid
        known_seconds, seconds_text = self._seconds.get, self._seconds_text
        wall = time.time() - time.monotonic()  # one offset per batch: records hold monotonic ends
        return [
            _LINE
            % (
                known(client) or quote(client),
                known(protocol) or quote(protocol),
                known(method) or quote(method),
                encode_basestring(target.decode("latin-1")),
                known(host) or quote(host),
                status,
                "" if grpc_status < 0 else f'"grpc_status":{grpc_status},',
                known_seconds(micros := round(seconds * 1e6)) or seconds_text(micros),
                known(kind) or quote(kind),
                known(branch) or quote(branch),
                known(group) or quote(group),
                '""' if upstream is None else known(upstream.key) or quote(upstream.key, upstream),
                encode_basestring(request_id.decode("latin-1")),
                ended + wall,
                pid,
            )
            for (client, protocol, method, target, host, status, seconds, kind, branch, group, upstream,
                 request_id, ended, grpc_status) in records
        ]  # fmt: skip
