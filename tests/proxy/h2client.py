"""A blocking HTTP/2 client over a real socket for the proxy tests, well-behaved or not.

``h2`` plays a correct client (requests, flow control); ``send_frame`` writes any hyperframe frame
or raw bytes as they are, so a test can break the protocol exactly where it means to. Reads are
bounded by the socket timeout; ``until`` returns when a condition over the events holds or the
connection closes.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import hpack
from hyperframe.frame import Frame, GoAwayFrame, HeadersFrame, RstStreamFrame, SettingsFrame

from tests.support.upstreams import LOOPBACK, WAIT

from .rawclient import connect


@dataclass
class Answer:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    ended: bool = False
    reset: int | None = None  # RST_STREAM error code

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)


class H2Client:
    def __init__(self, port: int, *, tls: ssl.SSLContext | None = None, server_hostname: str = "") -> None:
        raw = socket.create_connection((LOOPBACK, port), timeout=WAIT)
        self.sock: socket.socket = tls.wrap_socket(raw, server_hostname=server_hostname) if tls else raw
        self.sock.settimeout(WAIT)
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.answers: dict[int, Answer] = {}
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.closed = False
        self.events: list[h2.events.Event] = []
        self.auto_ack = True  # acknowledge received DATA (False: a reader that never opens its window)

    def start(self) -> H2Client:
        self.h2.initiate_connection()
        self.flush()
        return self

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(
        self, path: str = "/", *, host: str = "shop.example.com", method: str = "GET", body: bytes | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> int:  # fmt: skip
        sid = self.h2.get_next_available_stream_id()
        headers = [(":method", method), (":scheme", "https"), (":authority", host), (":path", path)]
        self.h2.send_headers(sid, headers + (extra or []), end_stream=body is None)
        self.answers[sid] = Answer()
        self.flush()
        if body is not None:
            self.upload(sid, body)
        return sid

    def upload(self, sid: int, body: bytes) -> None:
        """Send ``body`` and END_STREAM within the windows the proxy grants, reading to learn more."""
        while True:
            window = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
            piece, body = body[:window], body[window:]
            if piece or not body:
                self.h2.send_data(sid, piece, end_stream=not body)
                self.flush()
            if not body:
                return
            if not piece and not self.read_once():
                raise ConnectionError("closed during the upload")

    def send_frame(self, frame: Frame | bytes) -> None:
        self.sock.sendall(frame if isinstance(frame, bytes) else frame.serialize())

    def read_once(self) -> bool:
        """One read; False when the connection is closed."""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            self.closed = True
            return False
        for event in self.h2.receive_data(data):
            self.events.append(event)
            self._note(event)
        self.flush()
        return True

    def until(self, done: Callable[[], bool]) -> None:
        while not done() and not self.closed:
            self.read_once()

    def answer(self, sid: int) -> Answer:
        self.until(lambda: self.answers[sid].ended or self.answers[sid].reset is not None)
        return self.answers[sid]

    def close(self) -> None:
        self.sock.close()

    def _note(self, event: h2.events.Event) -> None:
        sid = getattr(event, "stream_id", None) or 0
        answer = self.answers.setdefault(sid, Answer())
        if isinstance(event, h2.events.ResponseReceived):
            headers = list(event.headers or ())
            answer.status = int(dict(headers)[b":status"])
            answer.headers = headers
        elif isinstance(event, h2.events.DataReceived):
            answer.body += event.data or b""
            if self.auto_ack and event.flow_controlled_length:
                self.h2.acknowledge_received_data(event.flow_controlled_length, sid)
        elif isinstance(event, h2.events.TrailersReceived):
            answer.trailers = list(event.headers or ())
        elif isinstance(event, h2.events.StreamEnded):
            answer.ended = True
        elif isinstance(event, h2.events.StreamReset):
            answer.reset = int(event.error_code or 0)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event


# --- raw frames, for clients that break the protocol on purpose ---
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
REQUEST = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"shop.example.com"), (b":path", b"/")]


def frames_until_closed(sock: socket.socket) -> list[Frame]:
    """Every frame the proxy sends until it closes the connection (bounded by the socket timeout)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    found: list[Frame] = []
    while len(data) >= 9:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9 : 9 + length]))
        found.append(frame)
        data = data[9 + length :]
    return found


def read_frames(sock: socket.socket, sid: int, until: str) -> list[Frame]:
    """Frames until one on stream ``sid`` has flag ``until`` (or is RST_STREAM, for "RST")."""
    data, found = b"", []
    while True:
        while len(data) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(data[:9]))
            if len(data) < 9 + length:
                break
            frame.parse_body(memoryview(data[9 : 9 + length]))
            data = data[9 + length :]
            found.append(frame)
            hit = isinstance(frame, RstStreamFrame) if until == "RST" else until in frame.flags
            if frame.stream_id == sid and hit:
                return found
        chunk = sock.recv(65536)
        if not chunk:
            return found
        data += chunk


def goaway_code(sock: socket.socket) -> int | None:
    codes = [frame.error_code for frame in frames_until_closed(sock) if isinstance(frame, GoAwayFrame)]
    return codes[-1] if codes else None


def raw_connection(port: int) -> socket.socket:
    sock = connect(port)
    sock.sendall(PREFACE + SettingsFrame(0).serialize())
    return sock


def headers_frame(
    sid: int, fields: list[tuple[bytes, bytes]], flags: tuple[str, ...] = ("END_HEADERS", "END_STREAM")
) -> HeadersFrame:
    frame = HeadersFrame(sid, hpack.Encoder().encode(fields), flags=flags)
    return frame
