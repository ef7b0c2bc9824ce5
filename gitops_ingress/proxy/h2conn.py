"""HTTP/2 from clients: one asyncio.Protocol per connection, driving the ``h2`` state machine.

How a connection becomes HTTP/2. Every connection starts as an HTTP/1.1 ``ClientConnection``
(protocol.py), so the HTTP/1.1 path is untouched; it hands its transport over here when TLS
negotiated ``h2`` by ALPN (tls.py offers ``h2`` before ``http/1.1``), or, on a plain listener with
the ``h2c`` setting, when the first bytes are the connection preface (prior knowledge; the
HTTP/1.1 ``Upgrade: h2c`` dance is not offered). ``h2`` then checks the whole preface itself.

Each request stream gets an ``H2Stream`` (h2stream.py) as the client side of an ordinary Exchange,
so routing by ``:authority``, the snapshot, the pool, retries, metrics and the access log are the
HTTP/1.1 code. This module owns what is per connection: frames in and out (one socket write per
read from the client, and one per event loop round for what the upstreams answered), the receive windows (our SETTINGS: ``h2_max_streams`` concurrent streams,
``h2_stream_window`` per stream, the connection window opened to match), and the defences. Every
one of these ends the connection with GOAWAY, leaving the rest of the server alone:

* rapid reset (CVE-2023-44487): more than ``h2_max_resets`` RST_STREAM from the client within
  ``h2_flood_window`` seconds: GOAWAY ENHANCE_YOUR_CALM;
* SETTINGS and PING floods: more than ``h2_max_control_frames`` of them within the window, the
  same; a client that does not read our ACKs fills the socket buffer, which stops our reading
  and then trips ``write_timeout``;
* CONTINUATION flood (CVE-2024-27316) and HPACK bombs: a header block is bounded twice, by ``h2``
  (at most 64 CONTINUATION frames) and by the decoder (the decoded list at most
  ``max_header_bytes``, our SETTINGS_MAX_HEADER_LIST_SIZE): COMPRESSION or PROTOCOL_ERROR;
* zero-window stalls: response DATA that has found no send window for ``write_timeout`` seconds:
  GOAWAY and close, so a client cannot pin upstream connections by never opening its window;
* every other protocol violation ``h2`` detects (a bad preface, HEADERS without END_HEADERS
  followed by another stream's frame, DATA on a stream the client had ended): GOAWAY with its
  error code. One of these is stricter than RFC 9113 8.1.1 asks: ``h2`` checks content-length
  against the DATA frames itself and makes a mismatch a connection error, not a stream error.

Malformed requests (h2fields.py) are stream errors: RST_STREAM PROTOCOL_ERROR, the connection
lives on. A client opening more than ``h2_max_streams`` at once ignores the SETTINGS it was sent:
``h2`` makes that a connection error (GOAWAY PROTOCOL_ERROR). After GOAWAY (shutdown), new
streams are refused with REFUSED_STREAM, which a client may retry elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from time import monotonic
from typing import TYPE_CHECKING

from h2.config import H2Configuration
from h2.connection import ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    PingReceived,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import H2Error, ProtocolError
from h2.settings import SettingCodes
from hyperframe.frame import GoAwayFrame

from gitops_ingress.proxy import pages
from gitops_ingress.proxy.errors import ClientRequestError
from gitops_ingress.proxy.exchange import Exchange
from gitops_ingress.proxy.flow import PEER_FULL, ReadGate, set_limits
from gitops_ingress.proxy.forwarding import RequestHead
from gitops_ingress.proxy.h2fields import MalformedRequest, request_head
from gitops_ingress.proxy.h2stream import H2Stream
from gitops_ingress.proxy.timers import LazyTimer

if TYPE_CHECKING:
    from gitops_ingress.proxy.server import ConnectionContext

log = logging.getLogger("gitops_ingress.proxy")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_CONFIG = H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_inbound_headers=False,  # h2fields.py checks requests, as stream errors
    normalize_inbound_headers=False,
    validate_outbound_headers=False,  # response fields are built lowercased and checked upstream
    normalize_outbound_headers=False,
)


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
        self.h2 = H2Connection(_CONFIG)
        self.streams: dict[int, H2Stream] = {}
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

    def take_over(self, transport: asyncio.Transport, data: bytes) -> None:
        """Start on ``transport`` (handed over by protocol.py); ``data``: bytes already read."""
        self.transport = transport
        self.gate = ReadGate(transport)
        set_limits(transport, self.settings.high_water, self.settings.low_water)
        self.ctx.state.opened(self)
        settings = self.settings
        h2 = self.h2
        h2.local_settings.update(
            {
                SettingCodes.MAX_CONCURRENT_STREAMS: settings.h2_max_streams,
                SettingCodes.INITIAL_WINDOW_SIZE: settings.h2_stream_window,
                SettingCodes.MAX_HEADER_LIST_SIZE: settings.max_header_bytes,
                SettingCodes.ENABLE_PUSH: 0,
            }
        )
        h2.local_settings.acknowledge()  # enforced from the start, as hypercorn does
        h2.decoder.max_header_list_size = settings.max_header_bytes  # the HPACK bomb bound
        h2.initiate_connection()
        # the connection window matches the streams', so one held stream never starves the others
        extra = settings.h2_stream_window * min(settings.h2_max_streams, 16) - 65_535
        if extra > 0:
            h2.increment_flow_control_window(extra)
        self.flush()
        self.timer.arm(self.idle_since + settings.idle_timeout)
        if data:
            self.data_received(data)

    # --- asyncio.Protocol ---
    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except ProtocolError as exc:  # h2 has queued a GOAWAY with the right code, but for the preface
            log.info("http/2 client %s: %s", self.client_ip.decode(), exc)
            self._go_away(None if self.h2.state_machine.state == ConnectionState.CLOSED else ErrorCodes.PROTOCOL_ERROR)
            return
        now = monotonic()
        for event in events:
            if isinstance(event, DataReceived):
                self._data(event, now)
            elif isinstance(event, RequestReceived):
                self._request(event, now)
            elif isinstance(event, StreamEnded):
                stream = self.streams.get(event.stream_id or 0)
                if stream is not None:
                    stream.client_end()
            elif isinstance(event, WindowUpdated):
                self._window_opened(event.stream_id)
            elif isinstance(event, StreamReset):
                stream = self.streams.pop(event.stream_id or 0, None)
                if stream is not None:
                    stream.closed = True
                    stream.client_gone()
                if self.resets.exceeded(now):
                    self._go_away(ErrorCodes.ENHANCE_YOUR_CALM)
                    return
            elif isinstance(event, (PingReceived, RemoteSettingsChanged)):
                if self.control.exceeded(now):
                    self._go_away(ErrorCodes.ENHANCE_YOUR_CALM)
                    return
                if isinstance(event, RemoteSettingsChanged):
                    self._window_opened(0)
            elif isinstance(event, ConnectionTerminated):
                self._go_away(None)
                return
            if self.closed:
                return
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.timer.cancel()
        streams = list(self.streams.values())
        self.streams.clear()
        for stream in streams:
            stream.closed = True
            stream.client_gone()
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

    # --- used by streams ---
    def flush(self) -> None:
        self.flush_pending = False
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    def schedule_flush(self) -> None:
        """Flush once the event loop has run this round's callbacks: the answers of several
        upstream reads go out in one socket write (and one TLS record), not one each."""
        if not self.flush_pending:
            self.flush_pending = True
            self.loop.call_soon(self.flush)

    def acknowledge(self, length: int, stream_id: int) -> None:
        try:
            self.h2.acknowledge_received_data(length, stream_id)
        except H2Error:  # the stream closed meanwhile
            return
        self.schedule_flush()

    def reset(self, stream: H2Stream, code: ErrorCodes) -> None:
        self.stream_finished(stream)
        try:
            self.h2.reset_stream(stream.stream_id, code)
        except H2Error:
            return
        self.flush()

    def blocked(self, stream: H2Stream) -> None:
        """``stream`` has DATA the send windows do not admit: the stall clock runs."""
        if not self.blocked_since:
            self.blocked_since = monotonic()
            self.timer.arm(self.blocked_since + self.settings.write_timeout)

    def stream_finished(self, stream: H2Stream) -> None:
        stream.closed = True
        if self.streams.get(stream.stream_id) is stream:
            del self.streams[stream.stream_id]
        if not stream.request_ended:  # answered before the body ended: the rest is not wanted
            try:
                self.h2.reset_stream(stream.stream_id, ErrorCodes.NO_ERROR)
            except H2Error:
                pass
            stream.request_ended = True
        if not self.streams:
            self.idle_since = monotonic()
            if self.going_away:
                self.close()

    # --- server.py: the connection set ---
    def shutdown(self) -> None:
        """Server shutdown: GOAWAY now; the streams already begun finish, then the socket closes."""
        if not self.going_away:
            self.going_away = True
            # written beside h2, not through close_connection: that would close its state machine
            # and with it the streams we promise to finish (RFC 9113 6.8: last_stream_id says which)
            self.flush()
            if self.transport is not None and not self.closed:
                last = self.h2.highest_inbound_stream_id
                self.transport.write(GoAwayFrame(0, last_stream_id=last, error_code=ErrorCodes.NO_ERROR).serialize())
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
    def _request(self, event: RequestReceived, now: float) -> None:
        sid = event.stream_id or 0
        end_stream = event.stream_ended is not None
        if self.going_away:  # shutting down: safe for the client to retry elsewhere
            self.h2.reset_stream(sid, ErrorCodes.REFUSED_STREAM)
            return
        try:
            head = request_head(
                list(event.headers or ()), end_stream, self.settings.max_headers, self.settings.max_header_bytes
            )
        except MalformedRequest as exc:
            log.info("http/2 client %s, stream %d: %s", self.client_ip.decode(), sid, exc)
            self.h2.reset_stream(sid, ErrorCodes.PROTOCOL_ERROR)
            return
        except ClientRequestError as exc:
            stream = self._stream(sid, end_stream)
            self._start(stream, Exchange(stream, RequestHead(), now, local=pages.error(exc.status, str(exc))))
            return
        stream = self._stream(sid, end_stream)
        limit = self.settings.max_body
        if limit is not None and head.content_length is not None and head.content_length > limit:
            page = pages.error(413, f"request body larger than {limit} bytes")
            self._start(stream, Exchange(stream, head, now, local=page))
            return
        self._start(stream, Exchange(stream, head, now))

    def _stream(self, sid: int, end_stream: bool) -> H2Stream:
        stream = self.streams[sid] = H2Stream(self, sid)
        stream.request_ended = end_stream
        return stream

    def _start(self, stream: H2Stream, exchange: Exchange) -> None:
        stream.exchange = exchange
        try:
            exchange.start(exchange.started_at)
        except Exception:  # a bug of ours: this stream gets a 500, the log the traceback
            log.exception("error while starting an http/2 request")
            stream.reset(ErrorCodes.INTERNAL_ERROR)

    def _data(self, event: DataReceived, now: float) -> None:
        sid = event.stream_id or 0
        stream = self.streams.get(sid)
        length = event.flow_controlled_length or 0
        if stream is None:  # answered and finished already: give the window back
            if length:
                self.acknowledge(length, sid)
            return
        if not stream.client_data(event.data or b"", length):
            stream.reset(ErrorCodes.PROTOCOL_ERROR)

    def _window_opened(self, stream_id: int | None) -> None:
        self.blocked_since = 0.0
        if stream_id:
            stream = self.streams.get(stream_id)
            if stream is not None:
                stream.window_opened()
        else:
            for stream in list(self.streams.values()):
                stream.window_opened()

    def _go_away(self, code: ErrorCodes | None) -> None:
        """End the connection: GOAWAY ``code`` (None: h2 has queued its own), then close."""
        if code is not None:
            log.warning("http/2 client %s: GOAWAY %s", self.client_ip.decode(), code.name)
            try:
                self.h2.close_connection(code)
            except H2Error:
                pass
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
            self._go_away(ErrorCodes.ENHANCE_YOUR_CALM)  # a zero-window stall
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
