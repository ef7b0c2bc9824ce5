"""The server side of an HTTP/2 connection as frames (RFC 9113): state, windows, and errors.

``H2Wire`` turns the client's bytes into calls on its ``H2ClientConnection`` (h2conn.py), and the
connection's answers into frames (h2frames.py) collected in ``out`` until the connection writes
them. It holds what RFC 9113 makes per connection and per stream, and nothing of HTTP:

* the preface (24 octets, then SETTINGS first) and the peer's settings: the initial stream window,
  the largest frame we may send, the header table size (h2encode.py acknowledges a change);
* flow control both ways (6.9): the connection's and each stream's send windows, which
  WINDOW_UPDATE and SETTINGS_INITIAL_WINDOW_SIZE move and ``send_data`` spends, and the receive
  windows, which a client overrunning gets FLOW_CONTROL_ERROR for, given back by ``acknowledge``
  in WINDOW_UPDATEs of at least a quarter window (not one per DATA frame);
* stream states (5.1): a stream is idle above ``highest`` (the last stream the client opened),
  open or half-closed while in ``streams``, closed otherwise. HEADERS opens a stream; one beyond
  our SETTINGS_MAX_CONCURRENT_STREAMS gets RST_STREAM REFUSED_STREAM (5.1.2), a stream error the
  client may retry, not a connection error;
* header blocks: HEADERS and its CONTINUATION frames must be contiguous (another frame between
  them is a connection PROTOCOL_ERROR, 6.10), assembled and bounded by h2blocks.py (the
  CONTINUATION flood), decoded by h2decode.py with the decoded list bounded by
  ``max_header_bytes`` (the HPACK bomb: GOAWAY ENHANCE_YOUR_CALM, as a block left half decoded
  breaks the shared table). Every block is decoded, even one for a stream that is refused or
  closed, to keep that table in step.

Stream errors (RST_STREAM; the connection serves on) and connection errors (GOAWAY) are what
section 5.4 says they are: ``H2StreamError`` for DATA or HEADERS on a half-closed or closed
stream (STREAM_CLOSED), a stream window overrun (FLOW_CONTROL_ERROR), DATA disagreeing with
content-length (PROTOCOL_ERROR, 8.1.1), a zero WINDOW_UPDATE on a stream; ``H2ConnectionError``
for frames on idle streams, frame size errors, bad settings, a connection window overrun, HPACK
failures and an interrupted header block. The connection (h2conn.py) turns them into frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from gitops_ingress.proxy.h2blocks import HeaderBlock
from gitops_ingress.proxy.h2decode import H2Decoder
from gitops_ingress.proxy.h2encode import H2Encoder
from gitops_ingress.proxy.h2frames import (
    ACK,
    CONTINUATION,
    DATA,
    DEFAULT_FRAME_SIZE,
    DEFAULT_WINDOW,
    ENABLE_PUSH,
    END_HEADERS,
    END_STREAM,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    GOAWAY,
    HEADER_TABLE_SIZE,
    HEADERS,
    INITIAL_WINDOW_SIZE,
    MAX_CONCURRENT_STREAMS,
    MAX_FRAME_SIZE,
    MAX_FRAME_SIZE_LIMIT,
    MAX_HEADER_LIST_SIZE,
    MAX_WINDOW,
    PING,
    PREFACE,
    PRIORITY,
    PRIORITY_FLAG,
    PROTOCOL_ERROR,
    PUSH_PROMISE,
    REFUSED_STREAM,
    RST_STREAM,
    SETTINGS,
    STREAM_CLOSED,
    WINDOW_UPDATE,
    H2ConnectionError,
    H2StreamError,
    frame,
    frame_head,
    goaway,
    header_frames,
    rst_stream,
    settings_frame,
    settings_of,
    u32,
    unpadded,
    window_update,
)

if TYPE_CHECKING:
    from gitops_ingress.proxy.h2conn import H2ClientConnection
    from gitops_ingress.proxy.h2stream import H2Stream

DEFAULT_TABLE_SIZE: Final = 4096  # SETTINGS_HEADER_TABLE_SIZE, which we leave at its default
RESETS_REMEMBERED: Final = 256


class H2Wire:
    __slots__ = (
        "block",
        "buffer",
        "conn",
        "decoder",
        "encoder",
        "highest",
        "max_header_bytes",
        "max_streams",
        "out",
        "peer_frame",
        "peer_window",
        "preface_done",
        "recently_reset",
        "recv_unacked",
        "recv_window",
        "send_window",
        "settings_seen",
        "stream_window",
        "streams",
        "window_target",
    )  # fmt: skip

    def __init__(self, conn: H2ClientConnection, max_streams: int, stream_window: int, max_header_bytes: int) -> None:
        self.conn = conn
        self.max_streams = max_streams
        self.stream_window = stream_window  # our SETTINGS_INITIAL_WINDOW_SIZE
        self.max_header_bytes = max_header_bytes
        self.decoder = H2Decoder(DEFAULT_TABLE_SIZE, max_header_bytes)  # max_header_bytes: the HPACK bomb bound
        self.encoder = H2Encoder()
        self.streams: dict[int, H2Stream] = {}
        self.highest = 0  # the highest stream id the client opened
        self.buffer = b""
        self.preface_done = False
        self.settings_seen = False
        self.out: list[bytes] = []
        self.peer_window = DEFAULT_WINDOW  # the client's SETTINGS_INITIAL_WINDOW_SIZE
        self.peer_frame = DEFAULT_FRAME_SIZE  # the client's SETTINGS_MAX_FRAME_SIZE
        self.send_window = DEFAULT_WINDOW  # the connection's, for what we send
        # the connection window matches the streams', so one held stream never starves the others
        self.window_target = max(DEFAULT_WINDOW, stream_window * min(max_streams, 16))
        self.recv_window = self.window_target
        self.recv_unacked = 0
        self.block = HeaderBlock(max_header_bytes)
        # streams we reset: frames the client sent before it saw that are ignored (RFC 9113 5.1)
        self.recently_reset: set[int] = set()

    def start(self) -> None:
        """Our connection preface: SETTINGS, and the connection window opened to its target."""
        self.out.append(settings_frame([(MAX_CONCURRENT_STREAMS, self.max_streams),
                                        (INITIAL_WINDOW_SIZE, self.stream_window),
                                        (MAX_HEADER_LIST_SIZE, self.max_header_bytes), (ENABLE_PUSH, 0)]))  # fmt: skip
        if self.window_target > DEFAULT_WINDOW:
            self.out.append(window_update(0, self.window_target - DEFAULT_WINDOW))

    # --- from the client ---
    def receive(self, data: bytes) -> None:
        """Handle the frames in ``data`` (and what an earlier read left); raises H2ConnectionError."""
        buf = self.buffer + data if self.buffer else data
        at = 0
        if not self.preface_done:
            if len(buf) < 24:
                if not PREFACE.startswith(buf):
                    raise H2ConnectionError(PROTOCOL_ERROR, "not the HTTP/2 connection preface")
                self.buffer = buf
                return
            if buf[:24] != PREFACE:
                raise H2ConnectionError(PROTOCOL_ERROR, "not the HTTP/2 connection preface")
            self.preface_done = True
            at = 24
        end = len(buf)
        conn = self.conn
        while end - at >= 9:
            length, kind, flags, sid = frame_head(buf, at)
            if length > DEFAULT_FRAME_SIZE:  # our SETTINGS_MAX_FRAME_SIZE is the default
                raise H2ConnectionError(FRAME_SIZE_ERROR, f"a frame of {length} octets")
            if end - at - 9 < length:
                break
            payload = buf[at + 9 : at + 9 + length]
            at += 9 + length
            try:
                self._frame(kind, flags, sid, payload)
            except H2StreamError as exc:
                conn.stream_error(exc)
            if conn.closed:
                return
        self.buffer = buf[at:] if at < end else b""

    def _frame(self, kind: int, flags: int, sid: int, payload: bytes) -> None:
        if not self.settings_seen:
            if kind != SETTINGS or flags & ACK:
                raise H2ConnectionError(PROTOCOL_ERROR, "the preface is not followed by SETTINGS")
            self.settings_seen = True
        if self.block.stream and kind != CONTINUATION:
            raise H2ConnectionError(PROTOCOL_ERROR, f"a header block on stream {self.block.stream} interrupted")
        if kind == DATA:
            self._data(flags, sid, payload)
        elif kind == HEADERS:
            self._headers(flags, sid, payload)
        elif kind == WINDOW_UPDATE:
            self._window_update(sid, payload)
        elif kind == CONTINUATION:
            self._continuation(flags, sid, payload)
        elif kind == RST_STREAM:
            if len(payload) != 4:
                raise H2ConnectionError(FRAME_SIZE_ERROR, "RST_STREAM not of 4 octets")
            if sid == 0 or sid > self.highest:
                raise H2ConnectionError(PROTOCOL_ERROR, f"RST_STREAM on idle stream {sid}")
            self.conn.client_reset(sid)
        elif kind == SETTINGS:
            self._settings(flags, sid, payload)
        elif kind == PING:
            if len(payload) != 8:
                raise H2ConnectionError(FRAME_SIZE_ERROR, "PING not of 8 octets")
            if sid:
                raise H2ConnectionError(PROTOCOL_ERROR, "PING on a stream")
            if not flags & ACK:
                self.conn.control_frame()
                self.out.append(frame(PING, ACK, 0, payload))
        elif kind == PRIORITY:
            if sid == 0:
                raise H2ConnectionError(PROTOCOL_ERROR, "PRIORITY on stream 0")
            if len(payload) != 5:
                raise H2StreamError(sid, FRAME_SIZE_ERROR, "PRIORITY not of 5 octets")
        elif kind == GOAWAY:
            if sid:
                raise H2ConnectionError(PROTOCOL_ERROR, "GOAWAY on a stream")
            self.conn.peer_goaway()
        elif kind == PUSH_PROMISE:
            raise H2ConnectionError(PROTOCOL_ERROR, "PUSH_PROMISE from a client")
        # other types are ignored (RFC 9113 5.5)

    def _data(self, flags: int, sid: int, payload: bytes) -> None:
        if sid == 0:
            raise H2ConnectionError(PROTOCOL_ERROR, "DATA on stream 0")
        length = len(payload)  # padding included: it is flow controlled too
        self.recv_window -= length
        if self.recv_window < 0:
            raise H2ConnectionError(FLOW_CONTROL_ERROR, "DATA beyond the connection window")
        data = unpadded(payload, flags, sid)
        stream = self.streams.get(sid)
        if stream is None or stream.request_ended:
            if sid > self.highest:
                raise H2ConnectionError(PROTOCOL_ERROR, f"DATA on idle stream {sid}")
            self.acknowledge(length, None)
            if sid in self.recently_reset:
                return
            raise H2StreamError(sid, STREAM_CLOSED, f"DATA on closed stream {sid}")
        stream.recv_window -= length
        ended = flags & END_STREAM != 0
        received = stream.received + len(data)
        expected = stream.expected
        if stream.recv_window < 0 or (expected >= 0 and (received > expected or (ended and received != expected))):
            self.acknowledge(length, None)
            if stream.recv_window < 0:
                raise H2StreamError(sid, FLOW_CONTROL_ERROR, f"DATA beyond the window of stream {sid}")
            raise H2StreamError(sid, PROTOCOL_ERROR, f"DATA on stream {sid} disagrees with its content-length")
        self.conn.client_data(stream, data, length, ended)

    def _headers(self, flags: int, sid: int, payload: bytes) -> None:
        if sid == 0 or sid % 2 == 0:
            raise H2ConnectionError(PROTOCOL_ERROR, f"HEADERS on stream {sid}, not a client's")
        payload = unpadded(payload, flags, sid)
        if flags & PRIORITY_FLAG:
            if len(payload) < 5:
                raise H2ConnectionError(FRAME_SIZE_ERROR, "HEADERS too short for its priority")
            payload = payload[5:]
        if flags & END_HEADERS:
            self._block(sid, payload, flags & END_STREAM != 0)
            return
        self.block.begin(sid, payload, flags & END_STREAM != 0)

    def _continuation(self, flags: int, sid: int, payload: bytes) -> None:
        block = self.block.add(sid, flags, payload)
        if block is not None:
            self._block(sid, block, self.block.ended)

    def _block(self, sid: int, block: bytes, ended: bool) -> None:
        fields = self.decoder.decode(block)
        if sid <= self.highest:  # trailers, or a stream already closed
            stream = self.streams.get(sid)
            if stream is None and sid in self.recently_reset:
                return
            if stream is None or stream.request_ended:
                raise H2StreamError(sid, STREAM_CLOSED, f"HEADERS on closed stream {sid}")
            if not ended:
                raise H2StreamError(sid, PROTOCOL_ERROR, f"trailers without END_STREAM on stream {sid}")
            if stream.expected >= 0 and stream.received != stream.expected:
                raise H2StreamError(sid, PROTOCOL_ERROR, f"DATA on stream {sid} disagrees with its content-length")
            self.conn.client_trailers(stream, fields)
            return
        self.highest = sid
        if len(self.streams) >= self.max_streams:
            raise H2StreamError(sid, REFUSED_STREAM, f"more than {self.max_streams} concurrent streams")
        self.conn.request(sid, fields, ended)

    def _window_update(self, sid: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise H2ConnectionError(FRAME_SIZE_ERROR, "WINDOW_UPDATE not of 4 octets")
        increment = u32(payload, 0) & 0x7FFFFFFF
        if sid == 0:
            if not increment:
                raise H2ConnectionError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0 for the connection")
            self.send_window += increment
            if self.send_window > MAX_WINDOW:
                raise H2ConnectionError(FLOW_CONTROL_ERROR, "connection window over 2^31-1")
            self.conn.window_opened(None)
            return
        stream = self.streams.get(sid)
        if stream is None:
            if sid > self.highest:
                raise H2ConnectionError(PROTOCOL_ERROR, f"WINDOW_UPDATE on idle stream {sid}")
            return  # closed: what the client grants no longer matters
        if not increment:
            raise H2StreamError(sid, PROTOCOL_ERROR, f"WINDOW_UPDATE of 0 on stream {sid}")
        stream.send_window += increment
        if stream.send_window > MAX_WINDOW:
            raise H2StreamError(sid, FLOW_CONTROL_ERROR, f"window of stream {sid} over 2^31-1")
        self.conn.window_opened(stream)

    def _settings(self, flags: int, sid: int, payload: bytes) -> None:
        if sid:
            raise H2ConnectionError(PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & ACK:
            if payload:
                raise H2ConnectionError(FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return
        if len(payload) % 6:
            raise H2ConnectionError(FRAME_SIZE_ERROR, "SETTINGS not a multiple of 6 octets")
        self.conn.control_frame()
        window_moved = False
        for key, value in settings_of(payload):
            if key == INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise H2ConnectionError(FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1")
                delta, self.peer_window = value - self.peer_window, value
                for stream in self.streams.values():
                    stream.send_window += delta
                    if stream.send_window > MAX_WINDOW:
                        raise H2ConnectionError(FLOW_CONTROL_ERROR, "a stream window over 2^31-1")
                window_moved = True
            elif key == MAX_FRAME_SIZE:
                if not DEFAULT_FRAME_SIZE <= value <= MAX_FRAME_SIZE_LIMIT:
                    raise H2ConnectionError(PROTOCOL_ERROR, f"SETTINGS_MAX_FRAME_SIZE {value}")
                self.peer_frame = value
            elif key == ENABLE_PUSH:
                if value > 1:
                    raise H2ConnectionError(PROTOCOL_ERROR, f"SETTINGS_ENABLE_PUSH {value}")
            elif key == HEADER_TABLE_SIZE:
                self.encoder.table_size_changed()
        self.out.append(frame(SETTINGS, ACK, 0, b""))
        if window_moved:
            self.conn.window_opened(None)

    # --- to the client ---
    def acknowledge(self, length: int, stream: H2Stream | None) -> None:
        """``length`` flow-controlled octets were consumed (``stream``: and its window may open)."""
        self.recv_unacked += length
        if self.recv_unacked >= self.window_target >> 2:
            self.out.append(window_update(0, self.recv_unacked))
            self.recv_window += self.recv_unacked
            self.recv_unacked = 0
        if stream is not None and not stream.request_ended:
            stream.recv_unacked += length
            if stream.recv_unacked >= self.stream_window >> 2:
                self.out.append(window_update(stream.stream_id, stream.recv_unacked))
                stream.recv_window += stream.recv_unacked
                stream.recv_unacked = 0

    def send_headers(self, sid: int, fields: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        self.out.append(header_frames(sid, self.encoder.encode(fields), end_stream, self.peer_frame))

    def window(self, stream: H2Stream) -> int:
        """How many octets of DATA ``stream`` may send in one frame now."""
        # comparisons, not min(): mypyc calls the builtin (argument parsing, ~250 instructions a DATA frame)
        allowed = self.send_window if self.send_window < stream.send_window else stream.send_window
        return allowed if allowed < self.peer_frame else self.peer_frame

    def send_data(self, stream: H2Stream, data: bytes, end_stream: bool) -> None:
        length = len(data)
        self.send_window -= length
        stream.send_window -= length
        self.out.append(frame(DATA, END_STREAM if end_stream else 0, stream.stream_id, data))

    def send_reset(self, sid: int, code: int) -> None:
        self.out.append(rst_stream(sid, code))
        recent = self.recently_reset
        if len(recent) >= RESETS_REMEMBERED:
            recent.clear()
        recent.add(sid)

    def send_goaway(self, code: int) -> None:
        self.out.append(goaway(self.highest, code))

    def take(self) -> bytes:
        """What is to be written, at once."""
        out = self.out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data
