"""Shared fixtures for the proxy tests: an event loop in a thread running real upstream servers
and an in-process ProxyServer on 127.0.0.1, driven by blocking sockets and httpx from the test.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.previewkeys import PreviewKeyPolicy
from gitops_ingress.core.routing import ResourceRef, Route, RouteTable, RoutingState, ServiceRef
from gitops_ingress.proxy.accesslog import AccessRecord
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.counting import Latency, RequestSeries
from gitops_ingress.proxy.observe import NullObserver
from gitops_ingress.proxy.server import ProxyServer
from gitops_ingress.proxy.snapshot import Snapshot, SnapshotHolder
from tests.support.grpc_servers import EchoServer
from tests.support.h2upstreams import H2TestUpstream
from tests.support.upstreams import LOOPBACK, LoopThread, TestUpstream

NS = "shop"


def route(host: str, path: str, service: str, path_type: str = "Prefix") -> Route:
    backend: Any = ServiceRef(NS, service, "80")
    if service.startswith("resource:"):
        backend = ResourceRef(NS, "example.com", "Bucket", service.split(":", 1)[1])
    return Route(host, path, path_type, backend, f"{NS}/ing-{service}")


def make_state(routes: list[Route], previews: dict[str, list[Route]] | None = None, version: int = 1) -> RoutingState:
    return RoutingState(
        RouteTable(routes),
        {branch: RouteTable(items) for branch, items in (previews or {}).items()},
        "preview.localhost",
        version,
    )


def backends(mapping: dict[str, list[str]]) -> BackendMap:
    return BackendMap({f"{NS}/{service}:80": urls for service, urls in mapping.items()})


class RecordingObserver(NullObserver):
    def __init__(self) -> None:
        super().__init__()
        self.series: dict[tuple[str, str, str, str], RequestSeries] = {}  # the real counters handed out
        self.errors: list[str] = []
        self.ignored_keys: list[str] = []
        self.grpc_answers: list[tuple[str, int]] = []
        self.open = 0  # client connections opened less those closed (the open_connections gauge)

    def connection_opened(self) -> None:
        self.open += 1

    def connection_closed(self) -> None:
        self.open -= 1

    def request_counter(self, kind: str, branch: str, host: str, protocol: str = "h1") -> RequestSeries:
        key = (kind, branch, host, protocol)
        if key not in self.series:
            self.series[key] = RequestSeries(Latency())
        return self.series[key]

    def counted(self) -> dict[tuple[str, str, str, str, str], int]:
        """(kind, branch, host, protocol, status class such as "2xx") -> answers counted."""
        return {
            (*labels, f"{status_class}xx"): count
            for labels, series in self.series.items()
            for status_class, count in enumerate(series.by_class)
            if count
        }

    def upstream_error(self, reason: str) -> None:
        self.errors.append(reason)

    def grpc_answer(self, host: str, code: int) -> None:
        self.grpc_answers.append((host, code))

    def preview_key_ignored(self, reason: str) -> None:
        self.ignored_keys.append(reason)


@dataclass
class ProxyHarness:
    loop: LoopThread
    server: ProxyServer
    holder: SnapshotHolder
    observer: RecordingObserver
    port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def swap(self, state: RoutingState, backend_map: BackendMap) -> None:
        self.loop.call(self.holder.swap, Snapshot.from_backend_map(state, backend_map, "test"))

    def stat(self, name: str) -> Any:
        return self.loop.call(getattr, self.server.state, name)

    def assert_slow_reader_holds_back(self, upstream: TestUpstream, sock: socket.socket, size: int, read: int) -> None:
        """Back-pressure: ``sock`` (an HTTP/1.1 client, plain or TLS) asks ``upstream`` for ``size``
        bytes and reads nothing: the upstream is paused long before the body is sent and the proxy
        buffers at most 2 MiB per connection; then ``read`` bytes are read, which resumes it."""
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /big?size=%d HTTP/1.1\r\nHost: shop.example.com\r\n\r\n" % size)
        assert upstream.stats.write_paused.wait(10)
        assert upstream.stats.bytes_out < 40_000_000  # kernel buffers and the proxy's marks, not the body
        buffered = self.loop.call(lambda: [c.transport.get_write_buffer_size() for c in self.server.state.connections])
        assert max(buffered) <= 2 * 1024 * 1024
        received = 0
        while received < read:
            chunk = sock.recv(1 << 20)
            assert chunk
            received += len(chunk)


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture
def start_upstream(loop_thread: LoopThread) -> Iterator[Callable[..., TestUpstream]]:
    yield from loop_thread.serving(lambda behavior="echo": TestUpstream(behavior))


@pytest.fixture
def start_h2(loop_thread: LoopThread) -> Iterator[Callable[..., H2TestUpstream]]:
    """``start_h2(behavior="echo", max_streams=None)``: an h2c upstream (tests/support/h2upstreams.py)."""
    yield from loop_thread.serving(lambda behavior="echo", max_streams=None: H2TestUpstream(behavior, max_streams))


@pytest.fixture
def grpc_server() -> Iterator[EchoServer]:
    """A grpcio server (tests/support/grpc_servers.py) on 127.0.0.1."""
    server = EchoServer()
    yield server
    server.stop()


@pytest.fixture
def make_proxy(loop_thread: LoopThread) -> Iterator[Callable[..., ProxyHarness]]:
    servers: list[ProxyServer] = []

    def make(
        state: RoutingState,
        backend_map: BackendMap,
        settings: ProxySettings | None = None,
        on_access: Callable[[AccessRecord], None] | None = None,
        preview_keys: PreviewKeyPolicy | None = None,
        **start_options: Any,
    ) -> ProxyHarness:
        holder = SnapshotHolder(Snapshot.from_backend_map(state, backend_map, "test"))
        observer = RecordingObserver()
        server = ProxyServer(settings or ProxySettings(), holder, observer, on_access, preview_keys)
        sock = socket.socket()
        sock.bind((LOOPBACK, 0))
        sock.listen(512)
        sock.setblocking(False)
        loop_thread.run(server.start([sock], **start_options))
        servers.append(server)
        return ProxyHarness(loop_thread, server, holder, observer, sock.getsockname()[1])

    yield make
    for server in servers:
        # every test closes its sockets: the proxy must notice, and count every request down
        loop_thread.run(asyncio.wait_for(server.state.until_idle(), 5))
        assert loop_thread.call(lambda s=server: s.state.in_flight) == 0
        loop_thread.run(server.shutdown(1.0))


@pytest.fixture
def echo_proxy(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream]
) -> tuple[ProxyHarness, TestUpstream]:
    """A proxy routing ``shop.example.com`` (and everything else host-less) to one echo upstream."""
    upstream = start_upstream("echo")
    state = make_state([route("shop.example.com", "/", "web"), route("", "/", "web")])
    return make_proxy(state, backends({"web": [upstream.url]})), upstream


async def _answering(pieces: list[bytes]) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"".join(pieces))
        await writer.drain()
        await reader.read()  # until the proxy closes
        writer.close()

    server = await asyncio.start_server(handle, LOOPBACK, 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.fixture
def raw_upstream(loop_thread: LoopThread) -> Iterator[Callable[[list[bytes]], str]]:
    """An upstream that answers every request with the bytes given, whatever it was asked."""
    servers: list[asyncio.Server] = []

    def start(pieces: list[bytes]) -> str:
        server, port = loop_thread.run(_answering(pieces))
        servers.append(server)
        return f"http://{LOOPBACK}:{port}"

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def line_upstream(loop_thread: LoopThread) -> Iterator[tuple[str, list[bytes], list[bytes]]]:
    """An upstream that reads keep-alive requests with the stdlib's stream reader (not llhttp,
    which knows its own method list only) and answers each with its request line and body:
    (its URL, those answers, the request heads as they came, byte for byte)."""
    lines: list[bytes] = []
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # the proxy closed the connection
            heads.append(head)
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            body = await reader.readexactly(int(length.group(1))) if length else b""
            answer = head.split(b"\r\n", 1)[0] + b"|" + body
            lines.append(answer)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(answer), answer))

    async def start() -> asyncio.Server:
        return await asyncio.start_server(handle, LOOPBACK, 0)

    server = loop_thread.run(start())
    yield f"http://{LOOPBACK}:{server.sockets[0].getsockname()[1]}", lines, heads
    server.close()
