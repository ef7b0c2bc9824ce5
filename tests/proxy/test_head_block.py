"""Request heads as the parser reads them (proxy/request_reader.py): wherever the reads split a
stream of pipelined requests, chunked bodies with extensions and trailers among them, every
request reaches the upstream as it does when the stream comes in one read; values are read as
llhttp reads them (leading whitespace dropped, trailing kept) and forwarded as ``Name: value``;
the header limits count name, value and 4 bytes per line; a head that never ends is cut off."""

from __future__ import annotations

import socket

import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import connect, exchange, read_responses

H = b"Host: shop.example.com\r\n"

# three pipelined requests: a chunked upload with extensions and trailers, blank lines between
# messages (llhttp allows them), header lines spelt every way llhttp accepts, a Content-Length body
STREAM = (
    b"\r\nPOST /upload?x=1 HTTP/1.1\r\n" + H + b"transfer-encoding: chunked\r\nX-Tab:\tv1\t\r\n"
    b"Cookie: a=1\r\nCONNECTION: keep-alive\r\n\r\n"
    b'4;name="q;v"\r\nabcd\r\n0003;e\r\nefg\r\n0\r\nX-Trailer: t\r\nOther: u\r\n\r\n'
    b"\r\n\r\nGET /second HTTP/1.1\r\nhost: shop.example.com\r\nX-Empty:\r\nX-Many:   v2  \r\n"
    b"Accept: text/html\r\nX-Obs: caf\xe9\r\n\r\n"
    b"PUT /third HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nX-Last: v3\r\n\r\nhello"
)


def _records(upstream, count: int) -> list[tuple[str, str, list[tuple[str, str]], str, list[tuple[str, str]]]]:
    """What the upstream was sent in its last ``count`` requests, minus what differs per request
    (the request id, the forwarded-for port-free address is the same every time)."""
    return [
        (
            record["method"],
            record["path"],
            [(name, value) for name, value in record["headers"] if name.lower() != "x-request-id"],
            record["body"],
            record["trailers"],
        )
        for record in upstream.stats.requests[-count:]
    ]


def _last_read(proxy) -> list[float]:
    return proxy.loop.call(lambda: [conn.last_read for conn in proxy.server.state.connections])


def _send_as_two_reads(proxy, sock: socket.socket, first: bytes, rest: bytes) -> None:
    """Send ``first``, wait until the proxy has read it (its connection's last read moved on:
    each ``loop.call`` lets the proxy's loop run once), then send ``rest``."""
    for _ in range(10_000):
        before = _last_read(proxy)
        if before:
            break
    sock.sendall(first)
    for _ in range(10_000):
        if _last_read(proxy) != before:
            break
    else:
        pytest.fail("the proxy never read the first piece")
    sock.sendall(rest)


def test_a_stream_split_anywhere_reaches_the_upstream_as_it_does_whole(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    whole = exchange(proxy.port, STREAM, count=3)
    assert [response.status for response in whole] == [200, 200, 200]
    expected = _records(upstream, 3)
    first = expected[0][2]
    assert ("X-Tab", "v1\t") in first  # llhttp's value: leading whitespace dropped, trailing kept
    assert ("Cookie", "a=1") in first and ("Host", "shop.example.com") in first
    assert expected[0][3] == "abcdefg" and expected[0][4] == []  # the client's trailers are dropped
    assert ("X-Empty", "") in expected[1][2] and ("X-Many", "v2  ") in expected[1][2]
    assert ("X-Obs", "caf\xe9") in expected[1][2]
    assert not [name for name, _ in first if name.lower() == "connection"]  # hop-by-hop
    for cut in range(1, len(STREAM)):
        with connect(proxy.port) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _send_as_two_reads(proxy, sock, STREAM[:cut], STREAM[cut:])
            responses = read_responses(sock, 3)
        assert [response.status for response in responses] == [200, 200, 200], cut
        assert _records(upstream, 3) == expected, cut


def test_field_lines_are_forwarded_as_sent_or_written_anew_with_one_space(make_proxy, line_upstream) -> None:
    url, _, heads = line_upstream
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [url]}))
    head = (
        b"GET /lines HTTP/1.1\r\n" + H + b"X-A: 1\r\nx-b:2\r\nX-C: \t 3\r\nConnection: keep-alive, X-Hop\r\n"
        b"X-Hop: gone\r\nKeep-Alive: 5\r\nX-D: 4 \r\nProxy-Authorization: secret\r\nX-E: 5\r\n\r\n"
    )
    (response,) = exchange(proxy.port, head)
    assert response.status == 200
    (sent,) = heads
    lines = sent.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    forwarded = [line for line in lines if line.split(b":", 1)[0] in (b"X-A", b"x-b", b"X-C", b"X-D", b"X-E")]
    assert forwarded == [b"X-A: 1", b"x-b: 2", b"X-C: 3", b"X-D: 4 ", b"X-E: 5"]
    names = {line.split(b":", 1)[0].lower() for line in lines}
    assert not names & {b"x-hop", b"keep-alive", b"proxy-authorization"}


@pytest.mark.parametrize(("extra", "status"), [(0, 200), (1, 431)])
def test_max_header_bytes_counts_name_value_and_four_per_line(make_proxy, start_upstream, extra, status) -> None:
    upstream = start_upstream("echo")
    settings = ProxySettings(max_header_bytes=1000)
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}), settings)
    host = len(b"Host") + len(b"shop.example.com") + 4
    filler = 1000 - host - len(b"X-Fill") - 4 + extra  # the value that brings the count to 1000 (+ extra)
    head = b"GET / HTTP/1.1\r\n" + H + b"X-Fill:   " + b"v" * filler + b"\r\n\r\n"  # OWS is not counted
    (response,) = exchange(proxy.port, head)
    assert response.status == status


def test_a_head_that_never_ends_is_refused_once_past_the_connections_bound(make_proxy, start_upstream) -> None:
    upstream = start_upstream("echo")
    settings = ProxySettings(max_header_bytes=2048, max_request_line=1024)
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}), settings)
    line = b"X-More: " + b"v" * 90 + b"\r\n"
    # just past the bound, the head still open, in one send: the proxy reads it whole before it
    # refuses, so it closes with nothing unread (bytes left unread would make its close a reset,
    # which may discard the answer before the client reads it)
    head = b"GET / HTTP/1.1\r\n" + H + line * (2 * (2048 + 1024) // len(line) + 2)
    with connect(proxy.port) as sock:
        sock.sendall(head)
        (response,) = read_responses(sock)
    assert response.status == 431
    assert upstream.stats.requests == []
