"""One request on an HTTP/2 upstream connection, standing in for a connection to the exchange.

The exchange (proxy/exchange.py) talks to an ``Upstream``: it sends a request head and body
pieces and is told about the response through its ``upstream_*`` methods. For an HTTP/2 backend that
upstream is an ``H2UpstreamStream``: the HTTP/1.1 head that forwarding.py wrote (the one place that decides
which headers go upstream) becomes the stream's HEADERS (``request_headers``), body pieces become
DATA frames as the peer's windows allow, and the response comes back as a ``ResponseHead`` built
from the HEADERS frame, so the exchange frames it for its client exactly as an HTTP/1.1 response.
Trailers (gRPC's ``grpc-status``) go to ``upstream_trailers``.

Flow control both ways: body pieces the peer's window cannot take wait in ``outbox``; above the
high-water mark the client is paused (``upstream_writable(False)``), below the low-water mark it
resumes. Response DATA is acknowledged (WINDOW_UPDATE) only while the client keeps up: a paused
stream keeps its count, so a slow reader stops its own stream without stalling the others.

A stream the upstream never processed (above a GOAWAY's last-stream-id, or refused with
REFUSED_STREAM; RFC 9113 6.8 and 8.7) is sent again on another connection, the request head and
body so far kept for that until the response starts or the body passes the high-water mark. Any
other failure is the exchange's to answer. A timer per stream applies the read timeout (no frame
for the stream and no window to send in: a stalled upstream, zero window included) and the
request's ``grpc-timeout``.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from time import monotonic
from typing import TYPE_CHECKING, Final

from gitops_ingress.proxy.errors import UpstreamError, UpstreamReset, UpstreamTimeout
from gitops_ingress.proxy.grpc import grpc_timeout
from gitops_ingress.proxy.timers import LazyTimer
from gitops_ingress.proxy.upstream import Upstream

if TYPE_CHECKING:
    from gitops_ingress.proxy.exchange import Exchange
    from gitops_ingress.proxy.h2pool import H2Pool
    from gitops_ingress.proxy.h2upstream import H2UpstreamConnection

Fields = list[tuple[bytes, bytes]]
# request header fields HTTP/2 forbids (RFC 9113 8.2.2) or carries as pseudo-headers
_NOT_IN_H2: Final = frozenset(
    (b"connection", b"transfer-encoding", b"upgrade", b"keep-alive", b"proxy-connection", b"te", b"host")
)
_MAX_REPLAYS: Final = 3  # a peer that refuses every stream must not keep us busy
_REASONS: Final = {status.value: status.phrase.encode() for status in HTTPStatus}


def request_headers(head: bytes, scheme: bytes) -> Fields:
    """An HTTP/1.1 request head (forwarding.upstream_request) as HTTP/2 header fields."""
    lines = head.split(b"\r\n")
    method, target, _ = lines[0].split(b" ", 2)
    authority = b""
    fields: Fields = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"host":
            authority = value.strip()
        elif name not in _NOT_IN_H2:
            fields.append((name, value.strip()))
    pseudo = [(b":method", method), (b":scheme", scheme), (b":authority", authority), (b":path", target)]
    return [*pseudo, *fields, (b"te", b"trailers")]  # we take trailers, whatever the client does


def response_block(status: int, fields: Fields) -> bytes:
    """HTTP/2 response header fields as the HTTP/1.1 head block ``ResponseHead`` reads."""
    lines = [b"HTTP/1.1 %d %b\r\n" % (status, _REASONS.get(status, b"Unknown"))]
    lines += [name + b": " + value + b"\r\n" for name, value in fields if name[:1] != b":"]
    return b"".join(lines)


class H2UpstreamStream(Upstream):
    __slots__ = ("blocked", "closed", "conn", "deadline", "end_sent", "ended", "head_only", "head_seen", "headers",
        "last_activity", "outbox", "outbox_bytes", "paused", "placed", "pool", "read_timeout", "replays", "response_ended", "sent", "sent_bytes", "sink",
        "stream_id", "timer", "trailers", "unacked")  # fmt: skip

    def __init__(self, pool: H2Pool, conn: H2UpstreamConnection) -> None:
        self.pool = pool
        self.conn = conn
        self.placed = True  # counted by ``conn`` (reserved there, or one of its streams)
        self.stream_id = 0  # given when the HEADERS go out (conn.start)
        self.sink: Exchange | None = None
        self.closed = False
        self.headers: Fields = []
        self.sent: list[bytes] | None = []  # body pieces sent so far, for a replay; None: not replayable
        self.sent_bytes = 0
        self.outbox: list[bytes] = []  # body pieces waiting for window
        self.outbox_bytes = 0
        self.ended = False  # the client's body is complete
        self.trailers: Fields | None = None  # the request's trailers, sent after the body
        self.end_sent = False  # END_STREAM went out
        self.head_only = False
        self.head_seen = False
        self.response_ended = False
        self.paused = False  # the client cannot take more: response DATA is not acknowledged
        self.unacked = 0
        self.replays = 0
        self.blocked = False  # the client was told to stop sending its body
        self.last_activity = 0.0
        self.deadline = 0.0  # grpc-timeout, 0: none
        self.read_timeout = pool.settings.read_timeout  # this request's (a route's proxy-read-timeout)
        self.timer = LazyTimer(asyncio.get_running_loop(), self._on_timer)

    # --- Upstream, for the exchange ---
    def send(self, sink: Exchange, head: bytes, body: list[bytes], *, ended: bool, chunked: bool,
             head_only: bool, now: float, read_timeout: float, send_timeout: float, trailers: bool = False) -> None:  # fmt: skip
        # send_timeout is HTTP/1.1's: here the body waits on the peer's flow-control window, and
        # a peer that opens none is the read timeout's (core/annotations/limits.py)
        # ``trailers`` is for HTTP/1.1 upstreams: an HTTP/2 stream always reads its trailers
        self.sink = sink
        self.read_timeout = read_timeout
        self.head_only = head_only
        self.headers = request_headers(head, b"https" if self.conn.endpoint.tls else b"http")
        timeout = grpc_timeout(self.headers)
        if timeout is not None:
            self.deadline = now + timeout
        self.ended = ended
        for piece in body:
            self._queue(piece)
        self.last_activity = now
        self._arm(now)
        self.conn.start(self)

    def write_body(self, data: bytes) -> None:
        if self.closed or self.end_sent or not data:
            return
        self._queue(data)
        self.conn.pump(self)

    def end_body(self, trailers: Fields | None = None) -> None:
        """The request body is complete; ``trailers`` (an HTTP/2 client's) follow its last DATA as
        a trailing HEADERS frame with END_STREAM."""
        if self.closed or self.end_sent:
            return
        self.ended = True
        self.trailers = trailers or None
        self.conn.pump(self)

    def write(self, data: bytes) -> None:
        """Tunnel bytes: an HTTP/2 upstream has no Upgrade, so there is never a tunnel."""

    def pause_reading(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self.last_activity = monotonic()
            unacked, self.unacked = self.unacked, 0
            if unacked and not self.closed:
                self.conn.acknowledge(self, unacked)

    def detach(self) -> None:
        self.sink = None
        self.close()

    def release(self, reusable: bool, now: float) -> None:
        """The exchange is done: the connection stays (its other streams), the stream is closed."""
        self.sink = None
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.timer.stop()  # it holds us: a closed stream is freed by reference counting
        self.conn.stream_done(self, reset=not (self.response_ended and self.end_sent))

    # --- for the connection ---
    def sent_piece(self, piece: bytes) -> None:
        """``piece`` went out in DATA frames (kept for a replay while that is still possible)."""
        self.last_activity = monotonic()
        if self.sent is not None:
            self.sent_bytes += len(piece)
            if self.sent_bytes > self.pool.settings.high_water:
                self.sent = None  # too much to keep: a refusal now is the exchange's to answer
            else:
                self.sent.append(piece)

    def took(self, size: int) -> None:
        """``size`` bytes left the outbox: the client may send again below the low-water mark."""
        self.outbox_bytes -= size
        if self.blocked and self.outbox_bytes <= self.pool.settings.low_water:
            self.blocked = False
            if self.sink is not None:
                self.sink.upstream_writable(True)

    def on_response(self, status: int, fields: Fields) -> None:
        self.last_activity = monotonic()
        self.head_seen = True
        self.sent = None  # the upstream has processed it: never sent again
        head = self.pool.heads.parse(response_block(status, fields))
        if self.sink is not None:
            self.sink.upstream_head(status, head, not (self.head_only or status in (204, 304)))

    def on_data(self, data: bytes, flow_length: int) -> None:
        self.last_activity = monotonic()
        if self.sink is not None:
            self.sink.upstream_body(data)
        if self.paused:
            self.unacked += flow_length
        else:
            self.conn.acknowledge(self, flow_length)

    def on_trailers(self, fields: Fields) -> None:
        if self.sink is not None:
            self.sink.upstream_trailers(fields)

    def on_end(self) -> None:
        self.response_ended = True
        if not self.head_seen:  # END_STREAM without a response head (h2 refuses that; be safe)
            self.fail(UpstreamReset(f"upstream {self.conn.endpoint} ended a stream without a response"))
            return
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.upstream_done(True, monotonic())  # the exchange releases us (release above)
        else:
            self.close()

    def on_reset(self, error_code: int, refused: bool) -> None:
        """RST_STREAM from the peer; ``refused``: REFUSED_STREAM, so never processed."""
        if self.response_ended:  # a whole response, then a reset (it stops our body): nothing lost
            self.end_sent = True
            self.close()
            return
        if refused:
            self.refused()
            return
        self.fail(UpstreamReset(f"upstream {self.conn.endpoint} reset the stream (error {error_code})"))

    def refused(self) -> None:
        """The upstream never processed this stream (GOAWAY, REFUSED_STREAM): again elsewhere?"""
        if not self.head_seen and self.sent is not None and not self.closed and self.replays < _MAX_REPLAYS:
            self.replays += 1
            self.conn.stream_done(self, reset=False)
            self.outbox[:0] = self.sent
            self.outbox_bytes += self.sent_bytes
            self.sent, self.sent_bytes, self.end_sent, self.stream_id = [], 0, False, 0
            self.pool.replay(self)
            return
        self.fail(UpstreamReset(f"upstream {self.conn.endpoint} went away before answering"))

    def rehome(self, conn: H2UpstreamConnection) -> None:
        """Sent again on ``conn`` (H2Pool.replay, which reserved it there)."""
        self.conn = conn
        self.placed = True
        conn.start(self)

    def fail(self, error: UpstreamError) -> None:
        sink, self.sink = self.sink, None
        self.close()
        if sink is not None:
            sink.upstream_failed(error, self.head_seen)

    # --- internals ---
    def _queue(self, piece: bytes) -> None:
        self.outbox.append(piece)
        self.outbox_bytes += len(piece)
        if not self.blocked and self.outbox_bytes > self.pool.settings.high_water:
            self.blocked = True
            if self.sink is not None:
                self.sink.upstream_writable(False)

    def _arm(self, now: float) -> None:
        at = self.last_activity + self.read_timeout
        self.timer.arm(min(at, self.deadline) if self.deadline else at)

    def _on_timer(self) -> None:
        if self.closed:
            return
        now = monotonic()
        endpoint = self.conn.endpoint
        if self.deadline and now >= self.deadline:
            self.fail(UpstreamTimeout(f"upstream {endpoint}: the request's grpc-timeout passed"))
            return
        read_timeout = self.read_timeout
        if self.paused:  # the client is slow, not the upstream
            self.last_activity = now
        elif now - self.last_activity >= read_timeout:
            self.fail(UpstreamTimeout(f"upstream {endpoint}: nothing on the stream for {read_timeout:g}s"))
            return
        self._arm(now)
