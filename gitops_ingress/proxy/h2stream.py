"""One HTTP/2 stream as the client side of an Exchange.

The Exchange (exchange.py) does the same job for every client: route the request (decide.py),
carry it to an HTTP/1.1 upstream from the pool, carry the answer back, retry, count and log it. It
talks to its client through a few calls (``exchange.ClientSide``), which ``ClientConnection``
(protocol.py) implements with HTTP/1.1 bytes on a socket and ``H2Stream`` implements here with
frames on one stream of an ``H2ClientConnection`` (h2conn.py): the response head becomes HEADERS
(h2fields.py), body pieces become DATA within the peer's flow-control windows, upstream trailers
(``Exchange.upstream_trailers``) a trailing HEADERS frame, the end END_STREAM. The stream's
flow-control windows and content-length live here too, as fields h2wire.py reads and moves.

Backpressure both ways, so that no body is ever buffered whole:

* to the client: DATA waits in ``outbox`` while the stream's or the connection's send window is
  exhausted; past ``high_water`` bytes waiting, the upstream connection stops being read, and it
  is read again below ``low_water`` (as a full socket buffer does for HTTP/1.1).
* from the client: request DATA is acknowledged (WINDOW_UPDATE) only while the Exchange can take
  more; when it cannot (``gate_pause``, the upstream's socket is full or not connected yet), the
  bytes are counted and acknowledged on ``gate_resume``, so the client's window closes instead
  of our buffer growing.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from gitops_ingress.proxy.exchange import ClientSide
from gitops_ingress.proxy.h2fields import Fields, line_fields, page_fields, response_fields, trailer_fields
from gitops_ingress.proxy.h2frames import INTERNAL_ERROR

if TYPE_CHECKING:
    from gitops_ingress.proxy.exchange import Exchange
    from gitops_ingress.proxy.h2conn import H2ClientConnection
    from gitops_ingress.proxy.response_head import ResponseHead


class H2Stream(ClientSide):
    """The ``exchange.ClientSide`` of one HTTP/2 stream."""

    __slots__ = (
        "client_ip",
        "closed",
        "conn",

        "ctx",
        "ended",
        "exchange",
        "expected",
        "h2",
        "head_fields",
        "held",
        "held_bytes",
        "outbox",
        "protocol",
        "queued",
        "received",
        "recv_unacked",
        "recv_window",
        "request_ended",
        "send_window",
        "settings",
        "stream_id",
        "upstream_paused",
    )  # fmt: skip

    def __init__(self, conn: H2ClientConnection, stream_id: int, expected: int) -> None:
        self.conn = conn
        self.ctx = conn.ctx
        self.settings = conn.ctx.settings
        self.client_ip = conn.client_ip
        self.stream_id = stream_id
        self.h2 = True  # exchange.ClientSide: the answer comes as a ResponseHead and pieces
        self.protocol = "h2"
        self.exchange: Exchange | None = None
        self.received = 0  # request body bytes so far
        self.request_ended = False
        self.head_fields: Fields | None = None  # the response HEADERS, sent with the first DATA
        self.outbox: deque[bytes] = deque()  # response DATA waiting for window
        self.queued = 0  # bytes in outbox
        self.ended = False  # the response is complete: END_STREAM once the outbox is empty
        self.held = False  # request DATA is not acknowledged while the Exchange cannot take it
        self.held_bytes = 0
        self.upstream_paused = False
        self.closed = False  # finished or reset: nothing more is sent on this stream
        wire = conn.wire
        self.send_window = wire.peer_window  # what we may send (RFC 9113 6.9)
        self.recv_window = wire.stream_window  # what the client may still send
        self.recv_unacked = 0  # consumed, not yet given back by WINDOW_UPDATE
        self.expected = expected  # the request's content-length, -1 without one (8.1.1)

    # --- exchange.ClientSide: the response ---
    def response_head(self, status: int, head: ResponseHead, body_allowed: bool) -> None:
        fields = response_fields(status, head, body_allowed)
        exchange = self.exchange
        if exchange is not None and exchange.response_lines:  # a route's CORS lines (proxy/annotated.py)
            fields += line_fields(exchange.response_lines)
        self.head_fields = fields

    def write(self, page: bytes) -> None:
        """One of the proxy's own answers, a whole HTTP/1.1 response (pages.py); to a HEAD request
        it comes without its body already (``Exchange._respond``)."""
        fields, body = page_fields(page)
        self.head_fields = fields
        if body:
            self.outbox.append(body)
            self.queued += len(body)

    def write_many(self, data: list[bytes]) -> None:
        for piece in data:
            if piece:
                self.outbox.append(piece)
                self.queued += len(piece)
        exchange = self.exchange
        if exchange is not None and exchange.upstream is None:
            return  # the response is complete (or broke): exchange_done or a reset follows at once
        self.pump()
        if self.queued > self.settings.high_water and not self.upstream_paused and exchange is not None:
            upstream = exchange.upstream
            if upstream is not None:  # None once the response is complete: nothing more to read
                self.upstream_paused = True
                upstream.pause_reading(True)
        self.conn.schedule_flush()

    def exchange_done(self, exchange: Exchange, close: bool) -> None:
        """The answer is complete (``close`` concerns HTTP/1.1 connections only)."""
        self.ctx.state.in_flight -= 1
        self.ended = True
        self.pump()
        self.conn.schedule_flush()

    def gate_pause(self, reason: int) -> None:
        self.held = True

    def gate_resume(self, reason: int) -> None:
        if self.held:
            self.held = False
            held, self.held_bytes = self.held_bytes, 0
            if held:
                self.conn.acknowledge(held, self)

    def close(self) -> None:
        """The response broke half-way: the stream is reset (the connection is not ours to close)."""
        self.reset(INTERNAL_ERROR)

    def abort(self) -> None:
        self.reset(INTERNAL_ERROR)

    def start_tunnel(self, exchange: Exchange) -> None:
        """Never asked for: HTTP/2 requests carry no Upgrade (h2fields.py refuses it)."""
        self.reset(INTERNAL_ERROR)

    # --- from the connection ---
    def client_data(self, data: bytes, flow_length: int) -> bool:
        """Request DATA; False when it passes ``max_body`` (the caller resets the stream). Against
        content-length h2wire.py checks it."""
        self.received += len(data)
        limit = self.settings.max_body
        exchange = self.exchange
        if exchange is not None and not exchange.finished:
            if limit is not None and self.received > limit:
                return False
            exchange.client_body(data)
        if self.held:
            self.held_bytes += flow_length
        elif flow_length:
            self.conn.acknowledge(flow_length, self)
        return True

    def client_end(self) -> None:
        """END_STREAM from the client."""
        self.request_ended = True
        exchange = self.exchange
        if exchange is not None and not exchange.body_done:
            exchange.client_body_done()

    def client_gone(self) -> None:
        """The client reset the stream, or the connection is gone."""
        self.ended = True
        self.outbox.clear()
        self.queued = 0
        exchange = self.exchange
        if exchange is not None:
            exchange.client_gone()

    def window_opened(self) -> None:
        self.pump()

    def reset(self, code: int) -> None:
        if not self.closed:
            self.client_gone()
            self.conn.reset(self, code)

    # --- internals ---
    def pump(self) -> None:
        """Send what the windows allow: HEADERS first, then DATA, then the end."""
        if self.closed:
            return
        wire = self.conn.wire
        sid = self.stream_id
        fields = self.head_fields
        if fields is not None:
            self.head_fields = None
            only_head = self.ended and not self.outbox and self._trailers() is None
            wire.send_headers(sid, fields, only_head)
            if only_head:
                self.conn.stream_finished(self)
                return
        outbox = self.outbox
        while outbox:
            window = wire.window(self)
            if window <= 0:
                self.conn.blocked(self)
                break
            piece = outbox[0]
            if len(piece) > window:
                outbox[0] = piece[window:]
                piece = piece[:window]
            else:
                outbox.popleft()
            self.queued -= len(piece)
            last = self.ended and not outbox and self._trailers() is None
            wire.send_data(self, piece, last)
            if last:
                self.conn.stream_finished(self)
                return
        if self.ended and not outbox and self.exchange is not None:
            trailers = self._trailers()
            if trailers is not None:
                wire.send_headers(sid, trailer_fields(trailers), True)
            else:
                wire.send_data(self, b"", True)
            self.conn.stream_finished(self)
            return
        if self.upstream_paused and self.queued <= self.settings.low_water:
            self.upstream_paused = False
            exchange = self.exchange
            if exchange is not None and exchange.upstream is not None:
                exchange.upstream.pause_reading(False)

    def _trailers(self) -> Fields | None:
        exchange = self.exchange
        return exchange.trailers if exchange is not None and exchange.trailers else None
