"""Limits and timeouts on the client side: 408, 413, 414, 431, 503 for too many connections,
slow and vanishing clients. Timeouts are short here (a fraction of a second); waits are bounded
reads on the socket, never sleeps.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import connect, exchange, is_closed, read_responses

H = b"Host: shop.example.com\r\n"
SHORT = ProxySettings(header_timeout=0.3, body_timeout=0.3, idle_timeout=0.3, write_timeout=0.5)


@pytest.fixture
def limited(make_proxy, start_upstream):
    def make(**changes):
        upstream = start_upstream("echo")
        state = make_state([route("shop.example.com", "/", "web")])
        proxy = make_proxy(state, backends({"web": [upstream.url]}), SHORT.with_changes(**changes))
        return proxy, upstream

    return make


def wait_idle(proxy) -> None:
    """Wait until the proxy has no open client connection."""
    proxy.loop.run(asyncio.wait_for(proxy.server.state.until_idle(), 5))


def test_request_line_too_long_is_414(limited) -> None:
    proxy, upstream = limited(max_request_line=1024)
    (response,) = exchange(proxy.port, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n" + H + b"\r\n")
    assert response.status == 414
    assert upstream.stats.connections == 0


def test_headers_too_large_is_431(limited) -> None:
    proxy, upstream = limited(max_header_bytes=4096)
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"v" * 5000 + b"\r\n\r\n")
    assert response.status == 431
    assert upstream.stats.connections == 0


def test_too_many_headers_is_431(limited) -> None:
    proxy, _ = limited(max_headers=20)
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + many + b"\r\n")
    assert response.status == 431


def test_endless_header_line_is_cut_off_with_431(limited) -> None:
    """One header line that never ends must not grow memory without bound."""
    proxy, _ = limited(max_header_bytes=4096, max_request_line=1024)
    with connect(proxy.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n" + H + b"X-Endless: ")
        for _ in range(20):
            try:
                sock.sendall(b"v" * 4096)
            except (BrokenPipeError, ConnectionResetError):
                break
        responses = read_responses(sock)
    assert [r.status for r in responses] == [431]


def test_body_over_content_length_limit_is_413_before_upstream(limited) -> None:
    proxy, upstream = limited(max_body=1000)
    with connect(proxy.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5000\r\n\r\n")
        (response,) = read_responses(sock)
        assert response.status == 413
        assert is_closed(sock)
    assert upstream.stats.connections == 0


def test_chunked_body_over_limit_is_413(limited) -> None:
    proxy, upstream = limited(max_body=1000)
    chunk = b"%x\r\n%s\r\n" % (600, b"c" * 600)
    with connect(proxy.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + chunk + chunk)
        (response,) = read_responses(sock)
        assert response.status == 413
    assert upstream.stats.requests == []


def test_body_within_limit_passes(limited) -> None:
    proxy, upstream = limited(max_body=1000)
    (response,) = exchange(proxy.port, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1000\r\n\r\n" + b"x" * 1000)
    assert response.status == 200
    assert upstream.stats.requests[0]["body_len"] == 1000


def test_slow_client_one_byte_at_a_time_gets_408(limited) -> None:
    """Slowloris: each byte arrives in time, the whole head does not (header_timeout=0.3s)."""
    proxy, upstream = limited()
    request = b"GET / HTTP/1.1\r\n" + H + b"X-Slow: " + b"s" * 200
    with connect(proxy.port) as sock:
        sock.settimeout(0.05)  # the pace of the slow client: one byte per 50 ms unless answered
        answered = b""
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
                answered = sock.recv(4096)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answered:
                break
        assert answered.startswith(b"HTTP/1.1 408 ")
    assert upstream.stats.connections == 0


def test_client_silent_in_body_gets_408(limited) -> None:
    proxy, upstream = limited()
    with connect(proxy.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 100\r\n\r\n" + b"x" * 10)
        (response,) = read_responses(sock)
        assert response.status == 408
        assert is_closed(sock)
    assert upstream.stats.requests == []


def test_idle_keep_alive_connection_is_closed(limited) -> None:
    proxy, _ = limited()
    with connect(proxy.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        assert read_responses(sock)[0].status == 200
        sock.settimeout(3)
        assert is_closed(sock)  # well before 3 s: idle_timeout is 0.3 s


def test_connection_that_sends_nothing_is_closed(limited) -> None:
    proxy, _ = limited()
    with connect(proxy.port, timeout=3) as sock:
        assert is_closed(sock)


def test_max_connections_answers_503(limited) -> None:
    proxy, _ = limited(max_connections=2, idle_timeout=5, header_timeout=5)
    first, second = connect(proxy.port), connect(proxy.port)
    try:
        for sock in (first, second):  # make sure both are registered before the third comes
            sock.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
            assert read_responses(sock)[0].status == 200
        (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        assert response.status == 503
    finally:
        first.close()
        second.close()


def test_client_vanishing_mid_upload_reaches_no_upstream_request(limited) -> None:
    proxy, upstream = limited(body_timeout=5)
    with connect(proxy.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1000000\r\n\r\n" + b"x" * 50_000)
        assert upstream.stats.data_seen.wait(5)  # the upload is under way upstream
    wait_idle(proxy)
    proxy.loop.run(upstream.wait_all_closed(5))  # its upstream connection was closed, not pooled
    assert upstream.stats.requests == []
    assert proxy.stat("in_flight") == 0


def test_client_vanishing_mid_download_frees_the_upstream(limited) -> None:
    proxy, upstream = limited(write_timeout=5)
    with connect(proxy.port) as sock:
        sock.sendall(b"GET /big?size=50000000 HTTP/1.1\r\n" + H + b"\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    wait_idle(proxy)
    proxy.loop.run(upstream.wait_all_closed(5))
    assert proxy.stat("in_flight") == 0


def test_client_that_stops_reading_is_dropped_after_write_timeout(limited) -> None:
    proxy, upstream = limited(write_timeout=0.3)
    sock = connect(proxy.port)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big?size=50000000 HTTP/1.1\r\n" + H + b"\r\n")
        wait_idle(proxy)  # the proxy gave up on us while we still hold the socket open
        proxy.loop.run(upstream.wait_all_closed(5))
    finally:
        sock.close()
