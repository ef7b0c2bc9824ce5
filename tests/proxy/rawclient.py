"""A blocking raw-socket HTTP client for the proxy tests: send exact bytes, read whole responses.

httpx cannot send malformed or smuggling requests, so these tests speak bytes. Responses are
parsed with httptools' response parser; every read is bounded by a socket timeout.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import httptools

from tests.support.upstreams import LOOPBACK


@dataclass
class RawResponse:
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class _Collector:
    def __init__(self) -> None:
        self.done: list[RawResponse] = []
        self.current = RawResponse()
        self.parser = httptools.HttpResponseParser(self)

    def on_message_begin(self) -> None:
        self.current = RawResponse()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.current.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.current.body += body

    def on_message_complete(self) -> None:
        self.done.append(self.current)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_responses(sock: socket.socket, count: int = 1) -> list[RawResponse]:
    """Read ``count`` responses (fewer if the connection closes first)."""
    collector = _Collector()
    for _ in range(100_000):
        if len(collector.done) >= count:
            break
        data = sock.recv(65536)
        if not data:
            cut = collector.current
            if cut.status and not (collector.done and collector.done[-1] is cut):
                collector.done.append(cut)  # a body delimited (or cut short) by the close
            break
        try:
            collector.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            break
    return collector.done


def exchange(port: int, data: bytes, count: int = 1, timeout: float = 10.0) -> list[RawResponse]:
    with connect(port, timeout) as sock:
        sock.sendall(data)
        return read_responses(sock, count)


def is_closed(sock: socket.socket) -> bool:
    """True when the peer has closed (reads EOF or a reset) within the socket timeout."""
    try:
        for _ in range(1000):
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False
