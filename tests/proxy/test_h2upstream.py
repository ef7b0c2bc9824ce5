"""HTTP/2 backends (h2c) behind HTTP/1.1 clients: multiplexing, trailers, and misbehaving upstreams.

The upstream is a real HTTP/2 server over loopback (tests/support/h2upstreams.py, on the h2
library); the clients are httpx, curl and raw sockets speaking HTTP/1.1 to the proxy.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading

import httpx
import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends, make_state, route

FAST = ProxySettings(connect_timeout=5, read_timeout=5)


@pytest.fixture
def h2_proxy(make_proxy):
    def make(*urls: str, **changes):
        state = make_state([route("shop.example.com", "/", "web")])
        return make_proxy(state, backends({"web": list(urls)}), FAST.with_changes(**changes))

    return make


def client(proxy) -> httpx.Client:
    return httpx.Client(base_url=proxy.url, headers={"Host": "shop.example.com"}, timeout=10)


def test_http11_client_reaches_an_h2c_backend(h2_proxy, start_h2) -> None:
    upstream = start_h2()
    proxy = h2_proxy(upstream.url())
    with client(proxy) as http:
        got = http.post("/orders?x=1", content=b"hello", headers={"X-Mine": "a"})
        again = http.get("/again")
    assert got.status_code == 200
    echoed = got.json()
    assert (echoed["method"], echoed["path"], echoed["authority"]) == ("POST", "/orders?x=1", "shop.example.com")
    assert echoed["body"] == "hello"
    assert echoed["headers"]["x-mine"] == "a"
    assert echoed["headers"]["te"] == "trailers"
    assert "x-forwarded-for" in echoed["headers"]  # forwarding.py's headers, as for HTTP/1.1 upstreams
    assert again.json()["connection"] == echoed["connection"] == 1  # one connection, reused
    assert again.json()["stream"] == 3


def test_request_fields_reach_an_h2_backend_never_indexed(h2_proxy, start_h2) -> None:
    """Our HPACK writes every literal never indexed (proxy/h2encode.py): a credential cannot land
    in any dynamic table on the way, the backend's included."""
    upstream = start_h2()
    proxy = h2_proxy(upstream.url())
    with client(proxy) as http:
        got = http.get("/x", headers={"Authorization": "Bearer secret", "Cookie": "session=secret"})
    never = set(got.json()["never_indexed"])
    assert {"authorization", "cookie", "x-forwarded-for", "user-agent", ":authority", ":path"} <= never


def test_curl_http11_to_h2c_backend_gets_trailers_it_asked_for(h2_proxy, start_h2, tmp_path) -> None:
    upstream = start_h2()
    proxy = h2_proxy(upstream.url())
    out = subprocess.run(
        ["curl", "-sS", "--http1.1", "-H", "Host: shop.example.com", "-H", "TE: trailers", "-i", f"{proxy.url}/"],
        capture_output=True,
        timeout=20,
        check=True,
    ).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"HTTP/1.1 200" in head and b"transfer-encoding: chunked" in head.lower()
    document, _, trailers = body.rpartition(b"}")
    assert json.loads(document + b"}")["path"] == "/"
    assert trailers.strip() == b"x-trailer: done\r\ngrpc-status: 0"  # curl -i shows the trailers it got
    raw = _raw(proxy.port, b"GET / HTTP/1.1\r\nHost: shop.example.com\r\nTE: trailers\r\nConnection: close\r\n\r\n")
    assert raw.endswith(b"0\r\nx-trailer: done\r\ngrpc-status: 0\r\n\r\n")
    plain = _raw(proxy.port, b"GET / HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n")
    assert plain.endswith(b"}\r\n0\r\n\r\n")  # no TE: trailers, no trailers


def test_streams_multiplex_up_to_the_peer_limit_then_a_new_connection(h2_proxy, start_h2, loop_thread) -> None:
    upstream = start_h2("echo", 2)
    proxy = h2_proxy(upstream.url())
    results: list[dict] = []

    def call() -> None:
        with client(proxy) as http:
            results.append(http.get("/hold").json())

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    loop_thread.run(upstream.wait_streams(5))
    loop_thread.call(upstream.release.set)
    for thread in threads:
        thread.join(10)
    assert len(results) == 5
    per_connection: dict[int, int] = {}
    for result in results:
        per_connection[result["connection"]] = per_connection.get(result["connection"], 0) + 1
    assert max(per_connection.values()) <= 2 and len(per_connection) == 3  # 2 + 2 + 1


def test_response_then_rst_stream_is_a_whole_response(h2_proxy, start_h2) -> None:
    upstream = start_h2("rst-after")
    proxy = h2_proxy(upstream.url())
    with client(proxy) as http:
        for _ in range(3):
            got = http.post("/", content=b"x" * 1000)
            assert got.status_code == 200 and got.json()["body"] == "x" * 1000


def test_rst_stream_mid_response_aborts_the_client_connection(h2_proxy, start_h2) -> None:
    upstream = start_h2("rst-mid")
    proxy = h2_proxy(upstream.url())
    raw = _raw(proxy.port, b"GET / HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200") and not raw.endswith(b"0\r\n\r\n")  # cut: it broke half-way
    assert "reset" in proxy.observer.errors


def test_goaway_mid_stream_retries_only_unprocessed_streams(h2_proxy, start_h2, loop_thread) -> None:
    upstream = start_h2("goaway")
    proxy = h2_proxy(upstream.url())
    results: list[dict] = []
    errors: list[BaseException] = []

    def call(method: str) -> None:
        try:
            with client(proxy) as http:
                got = http.request(method, "/hold", content=b"body" if method == "POST" else None)
                assert got.status_code == 200, got.text
                results.append(got.json())
        except BaseException as exc:
            errors.append(exc)

    first = threading.Thread(target=call, args=("POST",))
    first.start()
    loop_thread.run(upstream.wait_streams(1))
    rest = [threading.Thread(target=call, args=("POST",)) for _ in range(2)]
    for thread in rest:
        thread.start()
    loop_thread.run(upstream.wait_streams(3))
    loop_thread.call(upstream.release.set)
    for thread in [first, *rest]:
        thread.join(10)
    assert not errors
    by_stream = sorted((r["connection"], r["stream"]) for r in results)
    # stream 1 was processed on the first connection; 3 and 5 were above last-stream-id 1, so
    # they were sent again (POSTs with bodies: safe, the upstream never saw them) on a new one
    assert by_stream[0] == (1, 1)
    assert [conn for conn, _ in by_stream[1:]] == [2, 2]
    assert all(r["body"] == "body" for r in results)


def test_upstream_that_stops_reading_times_out(h2_proxy, start_h2) -> None:
    upstream = start_h2("zero-window")
    proxy = h2_proxy(upstream.url(), read_timeout=0.5)
    with client(proxy) as http:
        got = http.post("/", content=b"y" * 10_000)
    assert got.status_code == 504
    assert "timeout" in proxy.observer.errors


def test_backend_that_is_not_http2_is_a_502(h2_proxy, start_upstream) -> None:
    upstream = start_upstream("echo")  # an HTTP/1.1 server behind an h2c:// endpoint
    proxy = h2_proxy(upstream.url.replace("http://", "h2c://"))
    with client(proxy) as http:
        got = http.get("/")
    assert got.status_code == 502
    assert "protocol" in proxy.observer.errors


def test_grpc_client_gets_unavailable_not_an_error_page(h2_proxy, start_upstream) -> None:
    upstream = start_upstream("echo")
    proxy = h2_proxy(upstream.url.replace("http://", "grpc://"))
    raw = _raw(
        proxy.port,
        b"POST /pkg.Svc/Call HTTP/1.1\r\nHost: shop.example.com\r\nContent-Type: application/grpc\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n",
    )
    head = raw.split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 200") and b"grpc-status: 14" in head


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):  # until the proxy closes (Connection: close, or an abort)
            chunks.append(chunk)
        return b"".join(chunks)
