"""One HTTP/2 connection to an upstream endpoint, multiplexing the streams of many exchanges.

An asyncio.Protocol over the ``h2`` library's state machine (it frames and validates what the
peer sends; HPACK is ours, h2hpack.py, as h2's was the largest cost of a gRPC call). The connection owns the socket and the connection-level rules; each
request is an ``H2UpstreamStream`` (proxy/h2upstream_stream.py), which the connection feeds with the events of its
stream id and whose body it sends as windows allow (``pump``). What happens on the connection:

* The peer's SETTINGS_MAX_CONCURRENT_STREAMS bounds ``capacity``: the pool (proxy/h2pool.py)
  opens another connection when every open one is full. A stream started over the limit (the
  peer's SETTINGS can arrive after our first streams) is refused by h2 or by the peer, and sent
  again elsewhere as a never-processed stream.
* GOAWAY: no new streams here; streams above the last-stream-id were never processed and are
  sent again on another connection (RFC 9113 6.8); those at or below it finish here. The
  connection closes when its last stream is done.
* Bytes that are not HTTP/2 (an HTTP/1.1 server behind an ``h2c://`` endpoint answers our
  preface with a 400 page) fail every stream with UpstreamProtocolError, and the connection
  closes; so does any other connection error.
* Flow control: our per-stream receive window is the high-water mark and the connection window
  much larger, so one slow client's stream (whose DATA is not acknowledged until it catches up)
  cannot stop the others. While the socket's write buffer is full, no DATA is sent.
* Idle: with no stream for ``upstream_idle_timeout`` the connection says GOAWAY and closes.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import TYPE_CHECKING, Final, cast

from h2.config import H2Configuration
from h2.connection import ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from h2.exceptions import H2Error, ProtocolError, StreamClosedError, TooManyStreamsError
from h2.settings import SettingCodes, Settings

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.proxy.errors import UpstreamError, UpstreamProtocolError, UpstreamReset
from gitops_ingress.proxy.flow import set_limits
from gitops_ingress.proxy.h2hpack import DecoderForH2, EncoderForH2
from gitops_ingress.proxy.h2upstream_stream import H2UpstreamStream
from gitops_ingress.proxy.timers import LazyTimer

if TYPE_CHECKING:
    from gitops_ingress.proxy.h2pool import H2Pool

CONNECTION_WINDOW: Final = 16 * 1024 * 1024


class H2UpstreamConnection(asyncio.Protocol):
    def __init__(self, pool: H2Pool, endpoint: Endpoint) -> None:
        self.pool = pool
        self.endpoint = endpoint
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding=None))
        self.h2.encoder = EncoderForH2()  # type: ignore[assignment]  # our HPACK, h2's state machine (h2hpack.py)
        self.h2.decoder = DecoderForH2()  # type: ignore[assignment]
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, H2UpstreamStream] = {}
        self.reserved = 0  # streams handed out whose HEADERS have not gone yet
        self.going_away = False
        self.closed = False
        self.write_paused = False
        self.heard = False  # a valid frame came: the peer speaks HTTP/2
        self.failure: UpstreamError | None = None  # why it closed, for streams handed out before
        self.idle_since = monotonic()
        self.timer = LazyTimer(asyncio.get_running_loop(), self._on_idle_timer)

    # --- asyncio.Protocol ---
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        settings = self.pool.settings
        set_limits(self.transport, settings.high_water, settings.low_water)
        self.h2.local_settings = Settings(  # what initiate_connection sends
            client=True,
            initial_values={SettingCodes.ENABLE_PUSH: 0, SettingCodes.INITIAL_WINDOW_SIZE: settings.high_water},
        )
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(CONNECTION_WINDOW - 65535)
        self._flush()
        self._idle()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except ProtocolError as exc:
            self._broken(UpstreamProtocolError(f"upstream {self.endpoint} does not speak HTTP/2 as we do: {exc}"))
            return
        self.heard = self.heard or bool(events)
        touched: list[H2UpstreamStream] = []
        for event in events:
            stream = self.streams.get(getattr(event, "stream_id", 0) or 0)
            if stream is not None and stream not in touched:
                touched.append(stream)
            self._event(event, stream)
        self._flush()
        for stream in touched:  # one write to each client per read from the upstream
            sink = stream.sink
            if sink is not None:
                sink.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.timer.stop()  # the timer and the transport point back here: freed without the cyclic GC
        self.transport = None
        self.pool.forget(self)
        error = self.failure = self.failure or (
            UpstreamReset(f"upstream {self.endpoint} closed the connection")
            if self.heard
            else UpstreamProtocolError(f"upstream {self.endpoint} closed the connection before any HTTP/2 frame")
        )
        streams = list(self.streams.values())
        self.streams.clear()
        for stream in streams:
            stream.fail(error)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        for stream in list(self.streams.values()):
            self.pump(stream)
        self._flush()

    # --- for the pool and the streams ---
    @property
    def capacity(self) -> int:
        """How many more streams may start here now."""
        if self.closed or self.going_away:
            return 0
        return self.h2.remote_settings.max_concurrent_streams - len(self.streams) - self.reserved

    def reserve(self) -> H2UpstreamStream:
        self.reserved += 1
        return H2UpstreamStream(self.pool, self)

    def start(self, stream: H2UpstreamStream) -> None:
        """Send the stream's HEADERS (and what of its body the windows allow); it was reserved here."""
        if self.failure is not None:
            stream.fail(self.failure)
            return
        if self.closed or self.going_away:
            stream.refused()
            return
        stream_id = self.h2.get_next_available_stream_id()
        end = stream.ended and not stream.outbox and not stream.trailers
        try:
            self.h2.send_headers(stream_id, stream.headers, end_stream=end)
        except TooManyStreamsError:  # the peer's limit came after this stream was handed out
            stream.refused()
            return
        except H2Error as exc:
            stream.fail(UpstreamProtocolError(f"upstream {self.endpoint}: cannot send the request: {exc}"))
            return
        self.reserved -= 1
        stream.stream_id = stream_id
        stream.end_sent = end
        self.streams[stream_id] = stream
        self.timer.cancel()
        self.pump(stream)
        self._flush()

    def pump(self, stream: H2UpstreamStream) -> None:
        """Send what the windows allow of the stream's waiting body, END_STREAM after the last."""
        stream_id = stream.stream_id
        if not stream_id or stream.end_sent or self.closed or self.write_paused:
            return
        h2 = self.h2
        try:
            while stream.outbox:
                window = min(h2.local_flow_control_window(stream_id), h2.max_outbound_frame_size)
                if window <= 0:
                    break
                piece = stream.outbox[0]
                chunk = piece[:window]
                if len(chunk) == len(piece):
                    stream.outbox.pop(0)
                else:
                    stream.outbox[0] = piece[window:]
                h2.send_data(stream_id, chunk)
                stream.sent_piece(chunk)
                stream.took(len(chunk))
            if stream.ended and not stream.outbox:
                if stream.trailers:
                    h2.send_headers(stream_id, stream.trailers, end_stream=True)
                else:
                    h2.end_stream(stream_id)
                stream.end_sent = True
        except StreamClosedError:  # the peer reset it or answered already: the rest is not wanted
            stream.end_sent = True
            stream.outbox.clear()
        self._flush()

    def acknowledge(self, stream: H2UpstreamStream, size: int) -> None:
        if self.closed or not size:
            return
        try:
            self.h2.acknowledge_received_data(size, stream.stream_id)
        except StreamClosedError:
            return
        self._flush()

    def stream_done(self, stream: H2UpstreamStream, *, reset: bool) -> None:
        """The stream is over for us (RST_STREAM CANCEL first when ``reset`` and still open)."""
        if not stream.placed:  # already done here (a replay moved it away, or a second close)
            return
        stream.placed = False
        stream_id = stream.stream_id
        if not stream_id:  # reserved, never started
            self.reserved -= 1
        elif self.streams.get(stream_id) is stream:
            del self.streams[stream_id]
            if reset and not self.closed:
                try:
                    self.h2.reset_stream(stream_id, ErrorCodes.CANCEL)
                except StreamClosedError:
                    pass
                self._flush()
        if not self.streams and not self.reserved:
            if self.going_away:
                self.close()
            else:
                self._idle()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.timer.cancel()
        self.pool.forget(self)
        if self.transport is not None:
            try:
                self.h2.close_connection()
                self._flush()
            except H2Error:
                pass
            self.transport.close()

    # --- internals ---
    def _event(self, event: Event, stream: H2UpstreamStream | None) -> None:
        if isinstance(event, ResponseReceived):
            if stream is not None:
                stream.on_response(_status(event.headers), list(event.headers or ()))
        elif isinstance(event, DataReceived):
            if stream is not None:
                stream.on_data(event.data or b"", event.flow_controlled_length or 0)
            elif event.flow_controlled_length:  # for a stream we gave up: the connection window still counts
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id or 0)
        elif isinstance(event, TrailersReceived):
            if stream is not None:
                stream.on_trailers(list(event.headers or ()))
        elif isinstance(event, StreamEnded):
            if stream is not None:
                stream.on_end()
        elif isinstance(event, StreamReset):
            if stream is not None:
                stream.on_reset(int(event.error_code or 0), event.error_code == ErrorCodes.REFUSED_STREAM)
        elif isinstance(event, WindowUpdated):
            targets = list(self.streams.values()) if not event.stream_id else [stream] if stream else []
            for target in targets:
                self.pump(target)
        elif isinstance(event, ConnectionTerminated):
            self._goaway(event.last_stream_id or 0)

    def _goaway(self, last_stream_id: int) -> None:
        self.going_away = True
        self.pool.forget(self)
        for stream_id, stream in sorted(self.streams.items()):
            if stream_id > last_stream_id:
                stream.refused()
        if not self.streams:
            self.close()
            return
        # h2 closes its state machine on any GOAWAY and then refuses every frame, though the peer
        # may still finish the streams at or below last-stream-id (RFC 9113 6.8): reopen it for
        # them; ``going_away`` keeps new streams off this connection
        self.h2.state_machine.state = ConnectionState.CLIENT_OPEN

    def _broken(self, error: UpstreamError) -> None:
        self.failure = error
        streams = list(self.streams.values())
        self.streams.clear()
        self.close()
        for stream in streams:
            stream.fail(error)

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _idle(self) -> None:
        self.idle_since = monotonic()
        self.timer.arm(self.idle_since + self.pool.settings.upstream_idle_timeout)

    def _on_idle_timer(self) -> None:
        if self.closed or self.streams or self.reserved:
            return
        timeout = self.pool.settings.upstream_idle_timeout
        if monotonic() - self.idle_since >= timeout:
            self.close()
        else:
            self.timer.arm(self.idle_since + timeout)


def _status(headers: list[tuple[bytes, bytes]] | None) -> int:
    for name, value in headers or ():
        if name == b":status":
            return int(value)
    return 0
