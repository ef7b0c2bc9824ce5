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
  cost per line), and a line is one f-string of str pieces. This module is compiled with the
  request path (setup.py): mypyc builds such an f-string in one call from its pieces, and the
  record's call (``BatchedLines.__call__``: an append and a length check) runs as C. The text is
  byte for byte what ``json.dumps(record, separators=(",", ":"), ensure_ascii=False)`` gives for
  the record as a dict in docs/proxy.md's key order, with ``seconds`` as its whole microseconds
  (tests/proxy/test_accesslog.py holds the two equal, over generated odd strings): strings are
  quoted by the json module's own ``encode_basestring``.
* ``DictLog``: any dict, by the json module's C encoder, with ``time`` and ``pid`` added (the
  sync engine's log, ``gitops-ingress serve``).

Measured (docs/proxy.md, "Access log"): the json module's encoder takes about 3.8 us of CPU per
access record on the benchmark machine; this formatter 1.4 us compiled (1.7 us as source; the
``%`` format before it 1.9 us), and the request path's own share went from a dict (about 1 us) to
a tuple.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
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

# A str decoded with surrogateescape (a git branch name, say) can hold lone surrogates, which a
# strict UTF-8 stream refuses. Written as JSON's own \uXXXX escape the line stays valid JSON and
# reads back as the same string.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


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
                text = "\n".join(self._lines(records)) + "\n"
                try:
                    self._stream.write(text)
                except UnicodeEncodeError:  # a lone surrogate: without this the whole batch was lost
                    self._stream.write(_SURROGATE.sub(_json_escape, text))
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
        self._pid_text = str(os.getpid())
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
        # One f-string per line, of str locals: compiled (setup.py), mypyc builds it in one go
        # from its pieces (a piece it cannot type as str goes through str.format, twice as slow
        # as the source), where ``%`` first packs fifteen values into a tuple and parses its
        # template for every line. ``quoted.get(value) or self._quote(value)``: a hit is one dict
        # lookup, not a call.
        quoted, durations, pid = self._quoted, self._seconds, self._pid_text
        wall = time.time() - time.monotonic()  # one offset per batch: records hold monotonic ends
        lines: list[str] = []
        for record in records:
            (client, protocol, method, target, host, status, seconds, kind, branch, group, upstream,
             request_id, ended, grpc_status) = record  # fmt: skip
            micros = round(seconds * 1e6)
            grpc = "" if grpc_status < 0 else f'"grpc_status":{grpc_status},'
            endpoint: str = (
                '""' if upstream is None else quoted.get(upstream.key) or self._quote(upstream.key, upstream)
            )
            client_text: str = quoted.get(client) or self._quote(client)
            protocol_text: str = quoted.get(protocol) or self._quote(protocol)
            method_text: str = quoted.get(method) or self._quote(method)
            host_text: str = quoted.get(host) or self._quote(host)
            seconds_text: str = durations.get(micros) or self._seconds_text(micros)
            kind_text: str = quoted.get(kind) or self._quote(kind)
            branch_text: str = quoted.get(branch) or self._quote(branch)
            group_text: str = quoted.get(group) or self._quote(group)
            target_text: str = encode_basestring(target.decode("latin-1"))
            id_text: str = encode_basestring(request_id.decode("latin-1"))
            time_text = repr(ended + wall)
            lines.append(
                f'{{"client":{client_text},"protocol":{protocol_text},"method":{method_text},'
                f'"target":{target_text},"host":{host_text},"status":{status},{grpc}"seconds":{seconds_text},'
                f'"kind":{kind_text},"branch":{branch_text},"host_group":{group_text},"upstream":{endpoint},'
                f'"request_id":{id_text},"time":{time_text},"pid":{pid}}}'
            )
        return lines
