"""The client protocol: keep-alive, pipelining, bodies both ways, 100-continue, HEAD, HTTP/1.0,
and back-pressure (nothing buffered whole)."""

from __future__ import annotations

import json
import select

import httpx

from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import connect, exchange, is_closed, read_responses

H = b"Host: shop.example.com\r\n"


def test_keep_alive_serves_many_requests_on_one_connection(echo_proxy) -> None:
    proxy, _ = echo_proxy
    with connect(proxy.port) as sock:
        for index in range(5):
            sock.sendall(b"GET /n/%d HTTP/1.1\r\n" % index + H + b"\r\n")
            (response,) = read_responses(sock)
            assert json.loads(response.body)["path"] == f"/n/{index}"
    assert proxy.stat("total_requests") == 5


def test_pipelined_requests_are_answered_in_order(echo_proxy) -> None:
    proxy, _ = echo_proxy
    requests = b"".join(b"GET /p/%d HTTP/1.1\r\n" % i + H + b"\r\n" for i in range(10))
    with connect(proxy.port) as sock:
        sock.sendall(requests + b"POST /p/last HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc")
        responses = read_responses(sock, 11)
    paths = [json.loads(r.body)["path"] for r in responses]
    assert paths == [f"/p/{i}" for i in range(10)] + ["/p/last"]
    assert json.loads(responses[-1].body)["body"] == "abc"


def test_pipelined_mix_of_local_and_proxied_answers_stays_in_order(make_proxy, start_upstream) -> None:
    upstream = start_upstream("echo")
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}))
    other = b"Host: unknown.example.org\r\n"
    requests = (
        b"GET /a HTTP/1.1\r\n" + H + b"\r\nGET /b HTTP/1.1\r\n" + other + b"\r\nGET /c HTTP/1.1\r\n" + H + b"\r\n"
    )
    with connect(proxy.port) as sock:
        sock.sendall(requests)
        statuses = [r.status for r in read_responses(sock, 3)]
    assert statuses == [200, 404, 200]


def test_large_upload_with_content_length_is_streamed(echo_proxy) -> None:
    proxy, _ = echo_proxy
    body = b"u" * 5_000_000
    with httpx.Client(base_url=proxy.url, headers={"Host": "shop.example.com"}, timeout=20) as http:
        response = http.post("/upload", content=body)
    assert response.json()["body_len"] == len(body)


def test_chunked_upload_is_forwarded_chunked(echo_proxy) -> None:
    proxy, _ = echo_proxy

    def pieces():
        for index in range(50):
            yield b"piece-%03d;" % index

    with httpx.Client(base_url=proxy.url, headers={"Host": "shop.example.com"}) as http:
        response = http.post("/upload", content=pieces())
    record = response.json()
    assert record["body"] == "".join(f"piece-{i:03d};" for i in range(50))
    assert ["Transfer-Encoding", "chunked"] in record["headers"]


def test_chunked_response_to_http11_client(echo_proxy) -> None:
    proxy, _ = echo_proxy
    (response,) = exchange(proxy.port, b"GET /stream?n=4&size=1000 HTTP/1.1\r\n" + H + b"\r\n")
    assert response.header("transfer-encoding") == "chunked"
    assert response.body == b"x" * 4000


def test_http10_client_gets_unchunked_body_and_close(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    with connect(proxy.port) as sock:
        sock.sendall(b"GET /stream?n=4&size=1000 HTTP/1.0\r\n" + H + b"\r\n")
        (response,) = read_responses(sock)
        assert response.header("transfer-encoding") is None
        assert response.body == b"x" * 4000
        assert is_closed(sock)
    assert upstream.stats.requests[0]["version"] == "1.1"  # upstream side is always HTTP/1.1


def test_http10_client_without_host_uses_hostless_rules(echo_proxy) -> None:
    proxy, _ = echo_proxy
    (response,) = exchange(proxy.port, b"GET /old HTTP/1.0\r\n\r\n")
    assert response.status == 200
    assert json.loads(response.body)["path"] == "/old"


def test_http10_keep_alive_is_honoured(echo_proxy) -> None:
    proxy, _ = echo_proxy
    with connect(proxy.port) as sock:
        for _ in range(2):
            sock.sendall(b"GET / HTTP/1.0\r\n" + H + b"Connection: keep-alive\r\n\r\n")
            (response,) = read_responses(sock)
            assert response.status == 200
            assert response.header("connection") == "keep-alive"


def test_expect_100_continue(echo_proxy) -> None:
    proxy, _ = echo_proxy
    with connect(proxy.port) as sock:
        sock.sendall(b"POST /e HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = sock.recv(4096)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        (response,) = read_responses(sock)
    record = json.loads(response.body)
    assert record["body"] == "hello"
    assert not any(name.lower() == "expect" for name, _ in record["headers"])


def test_expect_100_continue_not_sent_when_refused(make_proxy) -> None:
    proxy = make_proxy(make_state([]), backends({}))
    (response,) = exchange(
        proxy.port, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    )
    assert response.status == 404


def test_head_response_has_no_body_and_connection_is_reused(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    with connect(proxy.port) as sock:
        sock.sendall(b"HEAD /big?size=5000 HTTP/1.1\r\n" + H + b"\r\n")
        sock.settimeout(2)
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
        assert b"Content-Length: 5000" in head
        sock.settimeout(10)
        sock.sendall(b"GET /after HTTP/1.1\r\n" + H + b"\r\n")
        (response,) = read_responses(sock)
        assert json.loads(response.body)["path"] == "/after"
    assert upstream.stats.connections == 1


def test_the_proxys_own_page_to_a_head_request_has_no_body(make_proxy, start_upstream) -> None:
    # RFC 9110 section 9.3.2: a HEAD answer carries the GET answer's fields, never its content; a
    # body after it would be read as the start of the next response on the connection
    upstream = start_upstream("echo")
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}))
    with connect(proxy.port) as sock:
        sock.sendall(b"HEAD /missing HTTP/1.1\r\nHost: unknown.example.org\r\n\r\n")
        sock.settimeout(2)
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 404") and head.endswith(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        assert length > 0  # the length the GET answer would have, as RFC 9110 allows
        sock.settimeout(10)
        sock.sendall(b"GET /after HTTP/1.1\r\n" + H + b"\r\n")
        (response,) = read_responses(sock)
        assert response.status == 200 and json.loads(response.body)["path"] == "/after"


def test_204_and_304_have_no_body(echo_proxy) -> None:
    proxy, _ = echo_proxy
    with connect(proxy.port) as sock:
        sock.sendall(b"GET /status/204 HTTP/1.1\r\n" + H + b"\r\nGET /status/304 HTTP/1.1\r\n" + H + b"\r\n")
        responses = read_responses(sock, 2)
    assert [(r.status, r.body) for r in responses] == [(204, b""), (304, b"")]


def test_download_is_not_buffered_whole_when_client_reads_slowly(echo_proxy) -> None:
    """Back-pressure: with the client not reading, the upstream is paused long before 200 MB."""
    proxy, upstream = echo_proxy
    with connect(proxy.port) as sock:
        proxy.assert_slow_reader_holds_back(upstream, sock, size=200_000_000, read=200_000_000)


def test_upload_is_not_buffered_whole_when_upstream_reads_slowly(make_proxy, start_upstream) -> None:
    upstream = start_upstream("stall")
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}))
    with connect(proxy.port) as sock:
        sock.setblocking(False)
        sock.sendall(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 500000000\r\n\r\n")
        block, sent = b"z" * 65536, 0
        for _ in range(10_000):
            if not select.select([], [sock], [], 1.0)[1]:
                break  # the proxy stopped reading us for a whole second: back-pressure works
            try:
                sent += sock.send(block)
            except BlockingIOError:
                continue
        assert sent < 60_000_000


def test_client_connection_close_is_honoured(echo_proxy) -> None:
    proxy, _ = echo_proxy
    with connect(proxy.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        (response,) = read_responses(sock)
        assert response.header("connection") == "close"
        assert is_closed(sock)


def test_deep_pipeline_beyond_the_backlog_limit(make_proxy, start_upstream) -> None:
    """More pipelined requests than max_pipelined: reading pauses and resumes, none is lost."""
    from gitops_ingress.proxy.config import ProxySettings

    upstream = start_upstream("echo")
    proxy = make_proxy(
        make_state([route("shop.example.com", "/", "web")]),
        backends({"web": [upstream.url]}),
        ProxySettings(max_pipelined=2),
    )
    with connect(proxy.port) as sock:
        sock.sendall(b"".join(b"GET /d/%d HTTP/1.1\r\n" % i + H + b"\r\n" for i in range(40)))
        responses = read_responses(sock, 40)
    assert [json.loads(r.body)["path"] for r in responses] == [f"/d/{i}" for i in range(40)]
