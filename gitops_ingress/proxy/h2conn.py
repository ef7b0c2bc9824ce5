"""HTTP/2 from clients: one asyncio.Protocol per connection, over our own frame layer (h2wire.py).

How a connection becomes HTTP/2. Every connection starts as an HTTP/1.1 ``ClientConnection``
(protocol.py), so the HTTP/1.1 path is untouched; it hands its transport over here when TLS
negotiated ``h2`` by ALPN (tls.py offers ``h2`` before ``http/1.1``), or, on a plain listener with
the ``h2c`` setting, when the first bytes are the connection preface (prior knowledge; the
HTTP/1.1 ``Upgrade: h2c`` dance is not offered). h2wire.py checks the whole preface itself.

Each request stream gets an ``H2Stream`` (h2stream.py) as the client side of an ordinary Exchange,
so routing by ``:authority``, the snapshot, the pool, retries, metrics and the access log are the
HTTP/1.1 code. The frames, windows and stream states are h2wire.py's; this module owns what is
policy: our SETTINGS (``h2_max_streams`` concurrent streams, ``h2_stream_window`` per stream,
the connection window opened to match, ``max_header_bytes`` as the header list bound), when
frames leave (one socket write per read from the client, and one per event loop round for what
the upstreams answered), and the defences. Every one of these ends the connection with GOAWAY,
leaving the rest of the server alone:

* rapid reset (CVE-2023-44487): more than ``h2_max_resets`` RST_STREAM from the client within
  ``h2_flood_window`` seconds: GOAWAY ENHANCE_YOUR_CALM;
* SETTINGS and PING floods: more than ``h2_max_control_frames`` of them within the window, the
  same; a client that does not read our ACKs fills the socket buffer, which stops our reading
  and then trips ``write_timeout``;
* CONTINUATION flood (CVE-2024-27316) and HPACK bombs: h2wire.py bounds a header block (64
  CONTINUATION frames, PROTOCOL_ERROR) and its decoded list (``max_header_bytes``,
  ENHANCE_YOUR_CALM);
* zero-window stalls: response DATA that has found no send window for ``write_timeout`` seconds:
  GOAWAY and close, so a client cannot pin upstream connections by never opening its window;
* every other connection error RFC 9113 names (a bad preface, HEADERS without END_HEADERS
  followed by another stream's frame, frames on idle streams): GOAWAY with its error code.

Stream errors are RST_STREAM and the connection lives on: malformed requests (h2fields.py) and a
content-length the DATA disagrees with get PROTOCOL_ERROR, DATA after the client ended its stream
STREAM_CLOSED, a stream past ``h2_max_streams`` REFUSED_STREAM (h2wire.py). After GOAWAY
(shutdown), new streams are refused with REFUSED_STREAM, which a client may retry elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from time import monotonic
from typing import TYPE_CHECKING

from gitops_ingress.proxy import pages
from gitops_ingress.proxy.errors import ClientRequestError
from gitops_ingress.proxy.exchange import Exchange
from gitops_ingress.proxy.flow import PEER_FULL, ReadGate, set_limits
from gitops_ingress.proxy.forwarding import RequestHead
from gitops_ingress.proxy.h2fields import CheckedFields, MalformedRequest, request_head, request_trailers
from gitops_ingress.proxy.h2frames import (
    ENHANCE_YOUR_CALM,
    ERROR_NAMES,
    INTERNAL_ERROR,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    H2ConnectionError,
    H2StreamError,
)
from gitops_ingress.proxy.h2stream import H2Stream
from gitops_ingress.proxy.h2wire import H2Wire
from gitops_ingress.proxy.timers import LazyTimer

if TYPE_CHECKING:
    from gitops_ingress.proxy.server import ConnectionContext

log = logging.getLogger("gitops_ingress.proxy")


class RateLimit:
    """At most ``limit`` events per ``window`` seconds, counted in fixed windows."""

    __slots__ = ("count", "limit", "since", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.since = 0.0
        self.count = 0

    def exceeded(self, now: float) -> bool:
        if now - self.since >= self.window:
            self.since, self.count = now, 0
        self.count += 1
        return self.count > self.limit


class H2ClientConnection(asyncio.Protocol):
    def __init__(self, ctx: ConnectionContext, client_ip: bytes) -> None:
        settings = ctx.settings
        self.ctx = ctx
        self.settings = settings
        self.client_ip = client_ip
        self.transport: asyncio.Transport | None = None
        self.gate: ReadGate | None = None
        self.wire = H2Wire(self, settings.h2_max_streams, settings.h2_stream_window, settings.max_header_bytes)
        self.streams: dict[int, H2Stream] = self.wire.streams
        self.resets = RateLimit(settings.h2_max_resets, settings.h2_flood_window)
        self.control = RateLimit(settings.h2_max_control_frames, settings.h2_flood_window)
        self.closed = False
        self.going_away = False
        self.idle_since = monotonic()
        self.write_paused_since = 0.0
        self.blocked_since = 0.0  # a stream has DATA and no send window since then
        self.loop = asyncio.get_running_loop()
        self.timer = LazyTimer(self.loop, self._on_timer)
        self.flush_pending = False
        self.now = 0.0  # time.monotonic() of the read being handled
        self.checked = CheckedFields()  # request fields that passed the per-field checks (h2fields.py)

    def take_over(self, transport: asyncio.Transport, data: bytes) -> None:
        """Start on ``transport`` (handed over by protocol.py); ``data``: bytes already read."""
        self.transport = transport
        self.gate = ReadGate(transport)
        set_limits(transport, self.settings.high_water, self.settings.low_water)
        self.ctx.state.opened(self)
        self.wire.start()
        self.flush()
        self.timer.arm(self.idle_since + self.settings.idle_timeout)
        if data:
            self.data_received(data)

    # --- asyncio.Protocol ---
    def data_received(self, data: bytes) -> None:
        self.now = monotonic()
        try:
            self.wire.receive(data)
        except H2ConnectionError as exc:
            log.info("http/2 client %s: %s", self.client_ip.decode(), exc)
            self._go_away(exc.code)
            return
        if not self.closed:
            self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.timer.cancel()
        streams = list(self.streams.values())
        self.streams.clear()
        for stream in streams:
            stream.closed = True
            stream.client_gone()
            stream.exchange = None
        self.ctx.state.closed(self)
        self.ctx.observer.connection_closed()

    def pause_writing(self) -> None:
        now = monotonic()
        self.write_paused_since = now
        self.timer.arm(now + self.settings.write_timeout)
        if self.gate is not None:
            self.gate.pause(PEER_FULL)  # a client that does not read gets nothing read either
        for stream in self.streams.values():
            exchange = stream.exchange
            if exchange is not None and exchange.upstream is not None:
                exchange.upstream.pause_reading(True)

    def resume_writing(self) -> None:
        self.write_paused_since = 0.0
        if self.gate is not None:
            self.gate.resume(PEER_FULL)
        for stream in self.streams.values():
            exchange = stream.exchange
            if exchange is not None and exchange.upstream is not None and not stream.upstream_paused:
                exchange.upstream.pause_reading(False)

    # --- from the frame layer (h2wire.py) ---
    def request(self, sid: int, fields: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        """HEADERS opening stream ``sid``."""
        now = self.now
        if self.going_away:  # shutting down: safe for the client to retry elsewhere
            self.wire.send_reset(sid, REFUSED_STREAM)
            return
        settings = self.settings
        try:
            head = request_head(fields, end_stream, settings.max_headers, settings.max_header_bytes, self.checked)
        except MalformedRequest as exc:
            raise H2StreamError(sid, PROTOCOL_ERROR, str(exc)) from exc
        except ClientRequestError as exc:
            stream = self._stream(sid, end_stream, -1)
            self._start(stream, Exchange(stream, RequestHead(), now, local=pages.error(exc.status, str(exc))))
            return
        length = head.content_length
        if end_stream and length:
            raise H2StreamError(sid, PROTOCOL_ERROR, f"content-length {length} on a request without DATA")
        stream = self._stream(sid, end_stream, -1 if length is None else length)
        limit = settings.max_body
        if limit is not None and length is not None and length > limit:
            page = pages.error(413, f"request body larger than {limit} bytes")
            self._start(stream, Exchange(stream, head, now, local=page))
            return
        self._start(stream, Exchange(stream, head, now))

    def client_data(self, stream: H2Stream, data: bytes, length: int, ended: bool) -> None:
        """Request DATA (``length``: flow-controlled octets), and the end of the request."""
        if (data or length) and not stream.client_data(data, length):
            stream.reset(PROTOCOL_ERROR)
            return
        if ended:
            stream.client_end()

    def client_trailers(self, stream: H2Stream, fields: list[tuple[bytes, bytes]]) -> None:
        """Trailing HEADERS (with END_STREAM) from the client: passed to the exchange, which
        forwards them (proxy/upstream.py and h2upstream_stream.py say how), then the end."""
        try:
            trailers = request_trailers(fields)
        except MalformedRequest as exc:
            raise H2StreamError(stream.stream_id, PROTOCOL_ERROR, str(exc)) from exc
        exchange = stream.exchange
        if exchange is not None and trailers:
            exchange.client_trailers(trailers)
        self.client_data(stream, b"", 0, True)

    def client_reset(self, sid: int) -> None:
        """RST_STREAM from the client."""
        stream = self.streams.pop(sid, None)
        if stream is not None:
            stream.closed = True
            stream.client_gone()
        if self.resets.exceeded(self.now):
            raise H2ConnectionError(ENHANCE_YOUR_CALM, f"more than {self.resets.limit} resets (rapid reset)")

    def control_frame(self) -> None:
        """SETTINGS or PING from the client."""
        if self.control.exceeded(self.now):
            raise H2ConnectionError(ENHANCE_YOUR_CALM, f"more than {self.control.limit} SETTINGS or PING frames")

    def stream_error(self, exc: H2StreamError) -> None:
        log.info("http/2 client %s, stream %d: %s", self.client_ip.decode(), exc.stream_id, exc)
        stream = self.streams.get(exc.stream_id)
        if stream is not None:
            stream.reset(exc.code)
        else:
            self.wire.send_reset(exc.stream_id, exc.code)

    def peer_goaway(self) -> None:
        """GOAWAY from the client: it opens nothing more, and we end here."""
        self._go_away(None)

    def window_opened(self, stream: H2Stream | None) -> None:
        self.blocked_since = 0.0
        if stream is not None:
            stream.window_opened()
        else:
            for each in list(self.streams.values()):
                each.window_opened()

    # --- used by streams ---
    def flush(self) -> None:
        self.flush_pending = False
        data = self.wire.take()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    def schedule_flush(self) -> None:
        """Flush once the event loop has run this round's callbacks: the answers of several
        upstream reads go out in one socket write (and one TLS record), not one each."""
        if not self.flush_pending:
            self.flush_pending = True
            self.loop.call_soon(self.flush)

    def acknowledge(self, length: int, stream: H2Stream) -> None:
        self.wire.acknowledge(length, None if stream.closed else stream)
        self.schedule_flush()

    def reset(self, stream: H2Stream, code: int) -> None:
        stream.request_ended = True  # the RST_STREAM below is the only one
        self.stream_finished(stream)
        self.wire.send_reset(stream.stream_id, code)
        self.flush()

    def blocked(self, stream: H2Stream) -> None:
        """``stream`` has DATA the send windows do not admit: the stall clock runs."""
        if not self.blocked_since:
            self.blocked_since = monotonic()
            self.timer.arm(self.blocked_since + self.settings.write_timeout)

    def stream_finished(self, stream: H2Stream) -> None:
        stream.closed = True
        # the stream and its exchange point at each other: without this the pair waits for the
        # cyclic garbage collector, whose runs were a visible share of an HTTP/2 request's time
        stream.exchange = None
        if self.streams.get(stream.stream_id) is stream:
            del self.streams[stream.stream_id]
        if not stream.request_ended:  # answered before the body ended: the rest is not wanted
            self.wire.send_reset(stream.stream_id, NO_ERROR)
            stream.request_ended = True
        if stream.held_bytes:  # DATA held back while the upstream could not take it: the connection's window
            self.wire.acknowledge(stream.held_bytes, None)
            stream.held_bytes = 0
        if not self.streams:
            self.idle_since = monotonic()
            if self.going_away:
                self.close()

    # --- server.py: the connection set ---
    def shutdown(self) -> None:
        """Server shutdown: GOAWAY now; the streams already begun finish, then the socket closes
        (RFC 9113 6.8: the GOAWAY's last stream id says which)."""
        if not self.going_away:
            self.going_away = True
            self.wire.send_goaway(NO_ERROR)
            self.flush()
        if not self.streams:
            self.close()

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.flush()  # what the last answers left for the next loop round goes first
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closed = True
            self.transport.abort()

    # --- internals ---
    def _stream(self, sid: int, end_stream: bool, expected: int) -> H2Stream:
        stream = self.streams[sid] = H2Stream(self, sid, expected)
        stream.request_ended = end_stream
        return stream

    def _start(self, stream: H2Stream, exchange: Exchange) -> None:
        stream.exchange = exchange
        try:
            exchange.start(exchange.started_at)
        except Exception:  # a bug of ours: this stream gets a 500, the log the traceback
            log.exception("error while starting an http/2 request")
            stream.reset(INTERNAL_ERROR)

    def _go_away(self, code: int | None) -> None:
        """End the connection: GOAWAY ``code`` (None: the client's GOAWAY ended it), then close."""
        if code is not None:
            log.warning("http/2 client %s: GOAWAY %s", self.client_ip.decode(), ERROR_NAMES.get(code, str(code)))
            self.wire.send_goaway(code)
        self.going_away = True
        self.flush()
        self.close()

    def _on_timer(self) -> None:
        if self.closed:
            return
        settings = self.settings
        now = monotonic()
        if self.write_paused_since and now - self.write_paused_since >= settings.write_timeout:
            self.abort()  # the client stopped reading: give up on it
            return
        if self.blocked_since and not any(stream.queued for stream in self.streams.values()):
            self.blocked_since = 0.0  # the blocked streams ended or were reset meanwhile
        if self.blocked_since and now - self.blocked_since >= settings.write_timeout:
            self._go_away(ENHANCE_YOUR_CALM)  # a zero-window stall
            return
        if not self.streams and now - self.idle_since >= settings.idle_timeout:
            self.shutdown()
            return
        deadlines = [now + settings.idle_timeout if self.streams else self.idle_since + settings.idle_timeout]
        if self.write_paused_since:
            deadlines.append(self.write_paused_since + settings.write_timeout)
        if self.blocked_since:
            deadlines.append(self.blocked_since + settings.write_timeout)
        self.timer.arm(min(deadlines))
