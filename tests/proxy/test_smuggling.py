"""Request smuggling and malformed heads: answered 400, connection closed, nothing upstream.

Each bad request is sent as raw bytes in one packet. "Nothing reaches the upstream" is checked
on the upstream itself: zero connections and zero bytes.
"""

from __future__ import annotations

import pytest

from tests.proxy.rawclient import connect, is_closed, read_responses

H = b"Host: shop.example.com\r\n"
TE = b"Transfer-Encoding: chunked\r\n"


def post(headers: bytes, body: bytes = b"", start: bytes = b"POST / HTTP/1.1") -> bytes:
    """A request with the test Host: ``headers`` are raw lines, each ending in CRLF."""
    return start + b"\r\n" + H + headers + b"\r\n" + body


SMUGGLING = {
    "content-length-and-transfer-encoding": post(b"Content-Length: 4\r\n" + TE, b"0\r\n\r\n"),
    "transfer-encoding-and-content-length": post(TE + b"Content-Length: 4\r\n", b"0\r\n\r\n"),
    "two-different-content-lengths": post(b"Content-Length: 4\r\nContent-Length: 5\r\n", b"abcde"),
    "content-length-list": post(b"Content-Length: 4, 5\r\n", b"abcde"),
    "content-length-plus-sign": post(b"Content-Length: +3\r\n", b"abc"),
    "content-length-negative": post(b"Content-Length: -1\r\n"),
    "te-chunked-identity": post(b"Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n"),
    "te-identity": post(b"Transfer-Encoding: identity\r\n", b"abc"),
    "te-xchunked": post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"),
    "te-gzip-chunked": post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"),
    "te-space-before-colon": post(b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n"),
    "te-twice": post(TE + TE, b"0\r\n\r\n"),
    "te-obs-fold": post(b"Transfer-Encoding:\r\n chunked\r\n", b"0\r\n\r\n"),
    "te-vertical-tab": post(b"Transfer-Encoding:\x0bchunked\r\n", b"0\r\n\r\n"),
    "te-in-http10": post(TE, b"3\r\nabc\r\n0\r\n\r\n", start=b"POST / HTTP/1.0"),
    "chunk-size-not-hex": post(TE, b"zz\r\nabc\r\n0\r\n\r\n"),
    "chunk-size-overflow": post(TE, b"fffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
    "chunk-size-negative": post(TE, b"-3\r\nabc\r\n0\r\n\r\n"),
    "chunk-extension-bare-lf": post(TE, b"3;x\nabc\r\n0\r\n\r\n"),
    "chunk-data-longer-than-size": post(TE, b"3\r\nabcdef\r\n0\r\n\r\n"),
    "bare-lf-line-endings": b"POST / HTTP/1.1\nHost: shop.example.com\nContent-Length: 3\n\nabc",
    "nul-in-header-value": post(b"X-A: a\x00b\r\n", start=b"GET / HTTP/1.1"),
    "empty-header-name": post(b": empty\r\n", start=b"GET / HTTP/1.1"),
    "space-in-header-name": post(b"X A: b\r\n", start=b"GET / HTTP/1.1"),
    "invalid-method": post(b"", start=b"G(T / HTTP/1.1"),
    "invalid-version": post(b"", start=b"GET / HTTP/9.9"),
    "unsupported-expect": post(b"Expect: 200-ok\r\n", start=b"GET / HTTP/1.1"),
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_refused_before_reaching_upstream(echo_proxy, name: str) -> None:
    proxy, upstream = echo_proxy
    with connect(proxy.port, 5) as sock:
        sock.sendall(SMUGGLING[name])
        responses = read_responses(sock)
        # HTTP/9.9 is a version we do not speak (505), not a malformed one
        expected = {"unsupported-expect": 417, "invalid-version": 505}.get(name, 400)
        assert [r.status for r in responses] == [expected]
        assert responses[0].header("connection") == "close"
        assert is_closed(sock)
    assert upstream.stats.connections == 0 and upstream.stats.bytes == 0


def test_second_request_hidden_in_a_body_is_not_smuggled(echo_proxy) -> None:
    """A valid chunked request whose body looks like a request: the upstream sees one request."""
    proxy, upstream = echo_proxy
    inner = b"GET /admin HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(inner), inner)
    with connect(proxy.port) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + body)
        (response,) = read_responses(sock)
    assert response.status == 200
    assert [r["path"] for r in upstream.stats.requests] == ["/upload"]
    assert upstream.stats.requests[0]["body"] == inner.decode()


def test_bad_request_after_good_pipelined_one_answers_both_in_order(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    good = b"GET /first HTTP/1.1\r\n" + H + b"\r\n"
    bad = b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"
    with connect(proxy.port) as sock:
        sock.sendall(good + bad)
        responses = read_responses(sock, 2)
        assert [r.status for r in responses] == [200, 400]
        assert is_closed(sock)
    assert [r["path"] for r in upstream.stats.requests] == ["/first"]
