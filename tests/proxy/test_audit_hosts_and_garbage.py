"""Audit of issue 3's bad input: Host headers (trailing dot, IP literals, 300 characters made of
valid labels) and upstreams that answer with each kind of garbage, over real sockets.

The garbage upstream here is a tiny asyncio server that writes one fixed byte string per
connection, so each malformed answer is exactly the one named by the test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import exchange
from tests.support.upstreams import LOOPBACK, LoopThread

FAST = ProxySettings(connect_timeout=5, read_timeout=5)


class FixedAnswer:
    """Reads a request head, answers ``payload`` and closes; counts connections."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> FixedAnswer:
        self.server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://{LOOPBACK}:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(self.payload)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
def fixed_answer(loop_thread: LoopThread) -> Iterator[Callable[[bytes], FixedAnswer]]:
    yield from loop_thread.serving(FixedAnswer)


GARBAGE = {
    "binary": b"\x00\x01\x02\xff\xfe not http at all\r\n\r\n",
    "bad-status-line": b"HTTP/1.1 OK-ish\r\nContent-Length: 0\r\n\r\n",
    "status-out-of-range": b"HTTP/1.1 9999 Weird\r\nContent-Length: 0\r\n\r\n",
    "bad-content-length": b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\nhello",
    "two-content-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "header-without-colon": b"HTTP/1.1 200 OK\r\nthis is no header\r\nContent-Length: 2\r\n\r\nok",
    "closed-before-head-ended": b"HTTP/1.1 200 OK\r\nContent-Le",
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_an_upstream_answering_garbage_is_502_and_the_proxy_keeps_serving(
    make_proxy, start_upstream, fixed_answer, kind: str
) -> None:
    garbage = fixed_answer(GARBAGE[kind])
    healthy = start_upstream("echo")
    state = make_state([route("bad.example.com", "/", "bad"), route("shop.example.com", "/", "web")])
    proxy = make_proxy(state, backends({"bad": [garbage.url], "web": [healthy.url]}), FAST)
    for method in (b"GET", b"POST"):
        body = b"Content-Length: 1\r\n\r\nx" if method == b"POST" else b"\r\n"
        (response,) = exchange(proxy.port, method + b" /x HTTP/1.1\r\nHost: bad.example.com\r\n" + body)
        assert response.status == 502, (kind, method, response.status, response.body)
        assert b"THIS IS NOT" not in response.body and b"hello" not in response.body
    assert garbage.connections >= 2
    assert proxy.observer.errors  # counted as an upstream error
    assert proxy.loop.call(proxy.server.pool.idle_count) == 0  # a garbage connection is never pooled
    (ok,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
    assert ok.status == 200


@pytest.fixture
def two_routes(make_proxy, start_upstream):
    upstreams = {name: start_upstream("echo") for name in ("web", "fallback")}
    state = make_state([route("shop.example.com", "/", "web"), route("", "/", "fallback")])
    proxy = make_proxy(state, backends({name: [u.url] for name, u in upstreams.items()}))
    return proxy, upstreams


def test_a_300_character_host_of_valid_labels_is_400_and_reaches_no_upstream(two_routes) -> None:
    proxy, upstreams = two_routes
    labels = ".".join(["a" * 59] * 5) + ".example.com"  # every label valid, the whole name 312 long
    assert len(labels) > 253 and all(len(label) <= 63 for label in labels.split("."))
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: " + labels.encode() + b"\r\n\r\n")
    assert response.status == 400 and b"Host" in response.body
    assert all(u.stats.requests == [] for u in upstreams.values())


@pytest.mark.parametrize("host", [b"127.0.0.1.", b"shop.example.com..", b"."])
def test_odd_trailing_dots_never_reach_the_stable_host(two_routes, host: bytes) -> None:
    """One trailing dot is the same name (tested in test_forwarding); an IP with a dot is no name
    the stable host owns, and two dots or a lone dot are not host names at all."""
    proxy, upstreams = two_routes
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert upstreams["web"].stats.requests == []
    assert response.status in (400, 200)
    if response.status == 200:  # only a host-less rule may take it
        assert len(upstreams["fallback"].stats.requests) == 1
