"""Test upstream servers for the proxy tests, and an event loop in a thread to run them (and the
proxy) while the test itself uses blocking sockets and httpx.

Every server listens on 127.0.0.1 on a free port and counts what reached it (connections, bytes,
complete requests), so tests can assert that nothing reached an upstream. Behaviours:

* ``echo``: answers every request with JSON of its method, target, headers, body and trailers; a few paths
  change the answer: ``/status/NNN``, ``/big?size=N`` (Content-Length body), ``/stream?n=K&size=S``
  (chunked), ``/trailers`` (chunked with trailer fields), ``/eof?size=N`` (body delimited by closing), ``/close`` (Connection: close),
  ``/hold`` (answers only when ``release`` is set), ``/trickle`` (a first chunk, the rest on ``release``), and WebSocket upgrades (echoes frames back).
* ``silent``: reads, never answers.
* ``reset``: sends half a response, then resets the connection (``reset-eof``: the same for a
  body delimited by the close).
* ``garbage``: answers with bytes that are not HTTP.
* ``stall``: accepts and never reads (uploads back up).

Waits are on events with timeouts, never sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httptools

T = TypeVar("T")
LOOPBACK = "127.0.0.1"
WAIT = 10.0
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class LoopThread:
    """An event loop (uvloop when installed) running in a daemon thread."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop
        try:
            import uvloop

            self.loop = uvloop.new_event_loop()
        except ImportError:  # pragma: no cover - uvloop is a default dependency on Linux
            self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = WAIT) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def serving(self, make: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
        """The body of a server fixture: yields ``start(*args)``, which runs ``make(*args).start()``
        on this loop and returns the server; every server started is stopped afterwards."""
        started: list[Any] = []

        def start(*args: Any) -> Any:
            server = self.run(make(*args).start())
            started.append(server)
            return server

        yield start
        for server in started:
            self.run(server.stop())

    def call(self, fn: Any, *args: Any) -> Any:
        """Run a plain function on the loop thread and return its result."""

        async def wrapper() -> Any:
            return fn(*args)

        return self.run(wrapper())

    def stop(self) -> None:
        async def cancel_rest() -> None:
            current = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not current]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            self.run(cancel_rest())
        except concurrent.futures.TimeoutError:  # pragma: no cover - reported by the join below
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(WAIT)
        self.loop.close()


class UpstreamStats:
    def __init__(self) -> None:
        self.connections = 0
        self.bytes = 0
        self.requests: list[dict[str, Any]] = []
        self.request_seen = threading.Event()
        self.data_seen = threading.Event()
        self.bytes_out = 0
        self.write_paused = threading.Event()  # set once the proxy stopped taking our bytes


class _UpstreamProtocol(asyncio.Protocol):
    def __init__(self, server: TestUpstream) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.headers: list[tuple[str, str]] = []
        self.trailers: list[tuple[str, str]] = []
        self.head_done = False
        self.url = b""
        self.body = bytearray()
        self.ws = False
        self.ws_buffer = bytearray()
        self.writable = asyncio.Event()
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()
        self.server.stats.write_paused.set()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.stats.connections += 1
        self.server.open.add(self)
        self.server.all_closed.clear()
        if self.server.behavior == "stall":
            # never read, so the proxy's writes back up (uvloop starts reading after
            # connection_made returns, so pause on the next loop turn)
            asyncio.get_running_loop().call_soon(transport.pause_reading)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.open.discard(self)
        if not self.server.open:
            self.server.all_closed.set()

    def data_received(self, data: bytes) -> None:
        self.server.stats.bytes += len(data)
        self.server.stats.data_seen.set()
        if self.ws:
            self._ws_data(data)
            return
        if self.server.behavior == "garbage":
            self._write(b"THIS IS NOT HTTP\x00\x01\r\n\r\n")
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._ws_data(data[exc.args[0] :])
        except httptools.HttpParserError:
            self._write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self._close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.headers, self.url, self.body, self.trailers = [], b"", bytearray(), []
        self.head_done = False

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        field = (name.decode("latin-1"), value.decode("latin-1"))
        (self.trailers if self.head_done else self.headers).append(field)  # after the head: a chunked trailer

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        record = {
            "method": self.parser.get_method().decode(),
            "path": self.url.decode("latin-1"),
            "version": self.parser.get_http_version(),
            "headers": self.headers,
            "trailers": self.trailers,
            "body": self.body.decode("latin-1"),
            "body_len": len(self.body),
            "port": self.server.port,
        }
        self.server.stats.requests.append(record)
        self.server.stats.request_seen.set()
        behavior = self.server.behavior
        if behavior == "silent":
            return
        if behavior == "reset":
            self._write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial")
            self._reset()
            return
        if behavior == "reset-eof":  # a close-delimited body, cut by a reset instead of a clean close
            self._write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial")
            self._reset()
            return
        asyncio.get_running_loop().create_task(self._answer(record))

    async def _answer(self, record: dict[str, Any]) -> None:
        parts = urlsplit(record["path"])
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        headers = {k.lower(): v for k, v in record["headers"]}
        if headers.get("upgrade", "").lower() == "websocket" and "sec-websocket-key" in headers:
            accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + _WS_GUID).digest())
            self._write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.ws = True
            return
        if path == "/hold":
            await asyncio.wait_for(self.server.release.wait(), WAIT)
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._write(b"HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok" % code if code not in (204, 304)
                        else b"HTTP/1.1 %d X\r\n\r\n" % code)  # fmt: skip
        elif path == "/big":
            size = int(query.get("size", "1000000"))
            self._write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            if record["method"] != "HEAD":
                await self._write_body(size)
        elif path == "/stream":
            count, size = int(query.get("n", "3")), int(query.get("size", "10"))
            self._write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(count):
                self._write(b"%x\r\n%s\r\n" % (size, b"x" * size))
            self._write(b"0\r\n\r\n")
        elif path == "/trickle":  # one chunk now, the rest once ``release`` is set (a slow producer)
            self._write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await asyncio.wait_for(self.server.release.wait(), WAIT)
            self._write(b"6\r\nsecond\r\n0\r\n\r\n")
        elif path == "/trailers":  # a chunked body with trailer fields, sent whether asked for or not
            self._write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum, X-Count\r\n\r\n")
            self._write(b"5\r\nhello\r\n")
            self._write(b"0\r\nX-Checksum: abc123\r\nX-Count: 5\r\n\r\n")
        elif path == "/eof":
            size = int(query.get("size", "1000"))
            self._write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"e" * size)
            self._close()
        else:
            body = json.dumps(record).encode()
            close = path == "/close"
            extra = b"Connection: close\r\n" if close else b""
            extra += b"Connection: x-drop-me\r\nX-Drop-Me: 1\r\nKeep-Alive: timeout=5\r\n" if path == "/hop" else b""
            self._write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
                % (len(body), extra, body)
            )
            if close:
                self._close()

    async def _write_body(self, size: int) -> None:
        block = b"b" * 65536
        while size > 0 and self.transport is not None and not self.transport.is_closing():
            piece = block[: min(size, len(block))]
            self._write(piece)
            size -= len(piece)
            await asyncio.wait_for(self.writable.wait(), WAIT)

    def _ws_data(self, data: bytes) -> None:
        """Echo WebSocket frames (small, masked client frames) back unmasked; close on a close frame."""
        self.ws_buffer += data
        while len(self.ws_buffer) >= 6:
            b0, b1 = self.ws_buffer[0], self.ws_buffer[1]
            length = b1 & 0x7F
            offset = 2
            if length == 126:
                length = struct.unpack("!H", self.ws_buffer[2:4])[0]
                offset = 4
            if len(self.ws_buffer) < offset + 4 + length:
                return
            mask = self.ws_buffer[offset : offset + 4]
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(self.ws_buffer[offset + 4 : offset + 4 + length]))
            del self.ws_buffer[: offset + 4 + length]
            header = bytes([b0, length]) if length < 126 else bytes([b0, 126]) + struct.pack("!H", length)
            self._write(header + payload)
            if b0 & 0x0F == 0x8:
                self._close()
                return

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.server.stats.bytes_out += len(data)
            self.transport.write(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _reset(self) -> None:
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()


class TestUpstream:
    """One upstream server on the loop of a LoopThread (start and stop it there)."""

    __test__ = False  # not a pytest test class

    def __init__(self, behavior: str = "echo") -> None:
        self.behavior = behavior
        self.stats = UpstreamStats()
        self.open: set[_UpstreamProtocol] = set()
        self.port = 0
        self.release = asyncio.Event()
        self.all_closed = asyncio.Event()  # set while no connection is open
        self.all_closed.set()
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    async def start(self) -> TestUpstream:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _UpstreamProtocol(self), LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def start_again(self) -> TestUpstream:
        """Listen again on the same port after ``stop``."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _UpstreamProtocol(self), LOOPBACK, self.port, reuse_address=True
        )
        return self

    async def wait_all_closed(self, timeout: float = WAIT) -> None:
        await asyncio.wait_for(self.all_closed.wait(), timeout)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for proto in list(self.open):
                proto._close()
            await self._server.wait_closed()


def refused_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def listening(backlog: int) -> socket.socket:
    """A blocking socket listening on a free loopback port."""
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(backlog)
    return listener


class Blackhole:
    """A loopback port whose accept queue is full, so new connections hang (connect timeouts)."""

    def __init__(self) -> None:
        self.listener = listening(0)
        self.port = self.listener.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(3):  # fill the queue (its length is backlog + 1) with never-accepted connections
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((LOOPBACK, self.port))
            self.fillers.append(filler)

    def close(self) -> None:
        for sock in self.fillers:
            sock.close()
        self.listener.close()
