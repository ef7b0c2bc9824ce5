"""``https://`` backends (backend-protocol HTTPS) offer h2 and http/1.1 by ALPN and speak what
the backend chose (issue 15.2): HTTP/2 with a server that chose h2, HTTP/1.1 with one that chose
http/1.1 or nothing. Real TLS servers on loopback with certificates from a test CA.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.support.h2upstreams import H2TestUpstream
from tests.support.upstreams import LOOPBACK, LoopThread

from .conftest import ProxyHarness, backends, make_state, route
from .fixtures_ops import WAIT, CertificateAuthority, ca_fixture  # noqa: F401

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server_tls(
    tmp_path: Path, ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> Callable[[list[str] | None], ssl.SSLContext]:
    """A server context for ``localhost`` choosing among ``alpn`` (None: no ALPN at all); the
    proxy trusts the CA (it verifies backends against the default store)."""
    ca.issue(tmp_path / "backend.crt", tmp_path / "backend.key", "localhost")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.path))

    def make(alpn: list[str] | None) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tmp_path / "backend.crt", tmp_path / "backend.key")
        if alpn is not None:
            context.set_alpn_protocols(alpn)
        return context

    return make


async def _http11_server(context: ssl.SSLContext) -> asyncio.Server:
    """Answers each request (keep-alive) with JSON: its request line and the ALPN it chose."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chosen = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                body = json.dumps({"line": head.split(b"\r\n", 1)[0].decode(), "alpn": chosen}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(handle, LOOPBACK, 0, ssl=context)


@pytest.fixture
def http11_backend(loop_thread: LoopThread) -> Iterator[Callable[[ssl.SSLContext], int]]:
    servers: list[asyncio.Server] = []

    def start(context: ssl.SSLContext) -> int:
        server = loop_thread.run(_http11_server(context))
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for server in servers:
        loop_thread.call(server.close)


def proxied(make_proxy: Callable[..., ProxyHarness], port: int) -> ProxyHarness:
    state = make_state([route("shop.example.com", "/", "web")])
    return make_proxy(state, backends({"web": [f"https://localhost:{port}"]}), ProxySettings(connect_timeout=5))


def test_a_backend_that_chooses_h2_is_spoken_to_in_http2(
    make_proxy: Callable[..., ProxyHarness], loop_thread: LoopThread, server_tls: Callable[..., ssl.SSLContext]
) -> None:
    upstream = loop_thread.run(H2TestUpstream(tls=server_tls(["h2"])).start())
    try:
        proxy = proxied(make_proxy, upstream.port)
        with httpx.Client(base_url=proxy.url, headers={"Host": "shop.example.com"}, timeout=WAIT) as http:
            first = http.post("/orders", content=b"hello")
            second = http.get("/again")
        assert first.status_code == second.status_code == 200
        echoed = first.json()
        assert (echoed["method"], echoed["path"], echoed["body"]) == ("POST", "/orders", "hello")
        assert echoed["authority"] == "shop.example.com"
        # streams 1 and 3 of one HTTP/2 connection: the second request found the adopted one
        assert (echoed["connection"], echoed["stream"]) == (1, 1)
        assert (second.json()["connection"], second.json()["stream"]) == (1, 3)
    finally:
        loop_thread.run(upstream.stop())


@pytest.mark.parametrize("alpn", [["http/1.1"], None], ids=["chooses-http1.1", "no-alpn"])
def test_a_backend_that_chooses_http11_or_nothing_gets_http11(
    make_proxy: Callable[..., ProxyHarness],
    http11_backend: Callable[[ssl.SSLContext], int],
    server_tls: Callable[..., ssl.SSLContext],
    alpn: list[str] | None,
) -> None:
    proxy = proxied(make_proxy, http11_backend(server_tls(alpn)))
    with httpx.Client(base_url=proxy.url, headers={"Host": "shop.example.com"}, timeout=WAIT) as http:
        answers = [http.get(f"/n{i}").json() for i in range(2)]
    assert answers == [{"line": f"GET /n{i} HTTP/1.1", "alpn": alpn[0] if alpn else None} for i in range(2)]
    assert proxy.loop.call(proxy.server.pool.idle_count) == 1  # one kept-alive HTTP/1.1 connection


async def _upgrade_server(context: ssl.SSLContext) -> asyncio.Server:
    """An HTTP/1.1 WebSocket-like server that prefers h2 by ALPN (as Go's does): it answers an
    upgrade with 101 and echoes what follows, naming the ALPN the connection chose."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chosen = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if b"upgrade: websocket" not in head.lower():
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                writer.write(f"alpn={chosen};".encode())
                while data := await reader.read(65536):
                    writer.write(data)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(handle, LOOPBACK, 0, ssl=context)


def test_an_upgrade_to_a_backend_that_prefers_h2_is_tunnelled_over_http11(
    make_proxy: Callable[..., ProxyHarness], loop_thread: LoopThread, server_tls: Callable[..., ssl.SSLContext]
) -> None:
    # HTTP/2 to a backend has no Upgrade: had the proxy offered h2 here, this server would have
    # chosen it and the WebSocket would have gone out as a plain request
    server = loop_thread.run(_upgrade_server(server_tls(["h2", "http/1.1"])))
    try:
        proxy = proxied(make_proxy, server.sockets[0].getsockname()[1])
        with socket.create_connection((LOOPBACK, proxy.port), timeout=WAIT) as client:
            client.sendall(
                b"GET /ws HTTP/1.1\r\nHost: shop.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            received = b""
            while b"alpn=" not in received or not received.endswith(b";"):
                chunk = client.recv(65536)
                assert chunk, received
                received += chunk
            assert received.startswith(b"HTTP/1.1 101 "), received
            assert received.endswith(b"\r\n\r\nalpn=None;"), received
            client.sendall(b"ping")
            echoed = b""
            while len(echoed) < 4:
                chunk = client.recv(65536)
                assert chunk, echoed
                echoed += chunk
            assert echoed == b"ping"
    finally:
        loop_thread.call(server.close)
