"""Upstream side: pools, round-robin, retries, and each way an upstream can fail (502/503/504)."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import connect, exchange, read_responses
from tests.support.upstreams import Blackhole, refused_port

H = b"Host: shop.example.com\r\n"
# generous defaults (a loaded CI machine must not turn a slow answer into a 504); the timeout
# tests shorten the one timeout they are about
FAST = ProxySettings(connect_timeout=5, read_timeout=5)


def client(proxy) -> httpx.Client:
    return httpx.Client(base_url=proxy.url, headers={"Host": "shop.example.com"}, timeout=10)


@pytest.fixture
def proxy_to(make_proxy):
    def make(*urls: str, **changes):
        state = make_state([route("shop.example.com", "/", "web")])
        return make_proxy(state, backends({"web": list(urls)}), FAST.with_changes(**changes))

    return make


@pytest.mark.parametrize(("path", "connections"), [("/", 1), ("/close", 5)])
def test_keep_alive_pools_upstream_connections_unless_closed(proxy_to, start_upstream, path, connections) -> None:
    """A connection is reused while the upstream keeps it alive; Connection: close retires it."""
    upstream = start_upstream("echo")
    proxy = proxy_to(upstream.url)
    with client(proxy) as http:
        for _ in range(5):
            assert http.get(path).status_code == 200
    assert upstream.stats.connections == connections


def test_round_robin_spreads_over_endpoints(proxy_to, start_upstream) -> None:
    upstreams = [start_upstream("echo") for _ in range(3)]
    proxy = proxy_to(*(u.url for u in upstreams))
    with client(proxy) as http:
        ports = Counter(http.get("/").json()["port"] for _ in range(30))
    assert sorted(ports.values()) == [10, 10, 10]


def test_refused_upstream_is_502(proxy_to) -> None:
    proxy = proxy_to(f"http://127.0.0.1:{refused_port()}", debug_pages=True)  # off: test_error_pages.py
    with client(proxy) as http:
        response = http.get("/")
    assert response.status_code == 502
    assert "could not connect to the upstream (service shop/web:80)" in response.text
    assert "127.0.0.1" not in response.text  # internal addresses stay in the logs
    assert "connect" in proxy.observer.errors


def test_idempotent_request_is_retried_on_another_endpoint(proxy_to, start_upstream) -> None:
    upstream = start_upstream("echo")
    proxy = proxy_to(f"http://127.0.0.1:{refused_port()}", upstream.url)
    with client(proxy) as http:
        statuses = [http.get("/").status_code for _ in range(10)]
    assert statuses == [200] * 10


def test_request_with_body_is_not_retried(proxy_to, start_upstream) -> None:
    upstream = start_upstream("echo")
    proxy = proxy_to(f"http://127.0.0.1:{refused_port()}", upstream.url)
    with client(proxy) as http:
        statuses = Counter(http.post("/", content=b"data").status_code for _ in range(10))
    assert statuses == {200: 5, 502: 5}


def test_upstream_that_never_answers_is_504(proxy_to, start_upstream) -> None:
    upstream = start_upstream("silent")
    proxy = proxy_to(upstream.url, read_timeout=0.3)
    with client(proxy) as http:
        response = http.get("/")
    assert response.status_code == 504
    assert upstream.stats.connections == 1  # a read timeout is not retried
    proxy.loop.run(upstream.wait_all_closed(5))  # and the connection is not kept


def test_connect_timeout_is_504(proxy_to) -> None:
    hole = Blackhole()
    try:
        proxy = proxy_to(f"http://127.0.0.1:{hole.port}", connect_timeout=0.3)
        with client(proxy) as http:
            response = http.get("/")
        assert response.status_code == 504
        assert "timed out" in response.text
    finally:
        hole.close()


def test_garbage_answer_is_502(proxy_to, start_upstream) -> None:
    upstream = start_upstream("garbage")
    proxy = proxy_to(upstream.url)
    with client(proxy) as http:
        response = http.post("/", content=b"x")
    assert response.status_code == 502
    assert "protocol" in proxy.observer.errors


def test_reset_mid_response_closes_client_connection(proxy_to, start_upstream) -> None:
    upstream = start_upstream("reset")
    proxy = proxy_to(upstream.url)
    with connect(proxy.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        responses = read_responses(sock)
    # the head (Content-Length: 100000) was relayed, then the connection ended early
    assert responses == [] or len(responses[0].body) < 100000
    assert "reset" in proxy.observer.errors
    assert proxy.loop.call(proxy.server.pool.idle_count) == 0


def test_no_ready_endpoint_is_503(make_proxy) -> None:
    state = make_state([route("shop.example.com", "/", "web")])
    proxy = make_proxy(state, backends({}), FAST.with_changes(debug_pages=True))  # off: test_error_pages.py
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"\r\n")
    assert response.status == 503
    assert b"shop/web:80" in response.body


def test_idle_pooled_connections_expire(proxy_to, start_upstream) -> None:
    upstream = start_upstream("echo")
    proxy = proxy_to(upstream.url, upstream_idle_timeout=0.2)
    with client(proxy) as http:
        assert http.get("/").status_code == 200
    proxy.loop.run(upstream.wait_all_closed(5))
    assert proxy.loop.call(proxy.server.pool.idle_count) == 0


def test_upstream_closing_idle_connection_is_noticed(proxy_to, start_upstream) -> None:
    """The upstream closes a pooled connection; the next request opens a new one and succeeds."""
    upstream = start_upstream("echo")
    proxy = proxy_to(upstream.url)
    with client(proxy) as http:
        assert http.get("/").status_code == 200
        proxy.loop.run(upstream.stop())
        proxy.loop.run(upstream.wait_all_closed(5))
        proxy.loop.run(upstream.start_again())
        assert http.get("/").status_code == 200
    assert upstream.stats.connections == 2


def test_eof_delimited_upstream_body_is_rechunked(proxy_to, start_upstream) -> None:
    upstream = start_upstream("echo")
    proxy = proxy_to(upstream.url)
    with connect(proxy.port) as sock:
        sock.sendall(b"GET /eof?size=5000 HTTP/1.1\r\n" + H + b"\r\n" + b"GET /after HTTP/1.1\r\n" + H + b"\r\n")
        first, second = read_responses(sock, 2)
    assert first.header("transfer-encoding") == "chunked" and first.body == b"e" * 5000
    assert second.status == 200  # the client connection stayed usable


def test_large_download_streams_with_flow_control(proxy_to, start_upstream) -> None:
    upstream = start_upstream("echo")
    proxy = proxy_to(upstream.url, read_timeout=10)
    size = 30_000_000
    with connect(proxy.port) as sock:
        sock.sendall(b"GET /big?size=%d HTTP/1.1\r\n" % size + H + b"\r\n")
        (response,) = read_responses(sock)
    assert len(response.body) == size


def test_reset_during_close_delimited_body_is_not_a_complete_response(proxy_to, start_upstream) -> None:
    """A clean close ends such a body; a reset cuts it: the client must not get the last chunk."""
    upstream = start_upstream("reset-eof")
    proxy = proxy_to(upstream.url)
    received = b""
    with connect(proxy.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        for _ in range(1000):
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            received += piece
    assert received.startswith(b"HTTP/1.1 200")
    assert not received.endswith(b"0\r\n\r\n")
    assert "reset" in proxy.observer.errors
