"""The head scanner (proxy/native/headscan.c) against httptools, the parser it stands in for.

Its rule: what it takes, httptools takes too, and reads the same (method, target, version 1.1, a
connection kept alive, every header line as httptools reports it, the message complete at the end
of the bytes with no body); everything else it declines, and the parser reads the bytes as before.
The property test throws generated heads at both, near misses included (odd bytes, bare LF, obs-fold,
framing headers, other versions and methods, bytes after the head); the cases below pin each
documented decline. Over real sockets, the rest of tests/proxy sends its heads through it in the
compiled build (proxy/request_reader.py's ``read_whole``)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httptools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_ingress.proxy import BUILD
from gitops_ingress.proxy.native._headscan import scan_head
from gitops_ingress.proxy.request_reader import SCAN_HEAD
from tests.proxy.conftest import ProxyHarness, backends, make_state, route
from tests.proxy.rawclient import read_responses
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT

BROWSER = (
    b"GET /products/42?ref=home HTTP/1.1\r\nHost: www.shop.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html,*/*;q=0.8\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\nCookie: a=1; b=2\r\n"
    b'sec-ch-ua: "Chromium";v="131"\r\n\r\n'
)


class Recorder:
    """httptools' view of some bytes: what a proxy reads off them."""

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[bytes] = []
        self.heads = 0
        self.complete = 0
        self.body = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers += [name, value]

    def on_headers_complete(self) -> None:
        self.heads += 1

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete += 1


def parsed(data: bytes) -> tuple[bytes, bytes, list[bytes], str, bool] | None:
    """(method, target, fields, version, keep-alive) as httptools reads ``data`` as one whole
    message, or None when it refuses it or reads anything else (more, less, a body)."""
    recorder = Recorder()
    parser = httptools.HttpRequestParser(recorder)
    try:
        parser.feed_data(data)
    except (httptools.HttpParserError, httptools.HttpParserUpgrade):
        return None
    if recorder.heads != 1 or recorder.complete != 1 or recorder.body:
        return None
    return parser.get_method(), recorder.url, recorder.headers, parser.get_http_version(), parser.should_keep_alive()


def agrees(data: bytes) -> None:
    scanned = scan_head(data)
    if scanned is None:
        return  # declined: the parser reads it, as before
    method, target, fields = scanned
    pairs = [field for at, field in enumerate(fields) if at % 3 != 2]
    assert parsed(data) == (method, target, pairs, "1.1", True), data
    for name, value, line in zip(fields[::3], fields[1::3], fields[2::3], strict=True):
        # the line as sent, when given, is the very line the proxy would put together (keep)
        assert line is None or line == b"%s: %s\r\n" % (name, value), data


def test_the_compiled_build_reads_whole_heads_with_it_and_the_source_build_never() -> None:
    assert SCAN_HEAD is (scan_head if BUILD.kind == "compiled" else None)


def test_a_browser_head_is_read_as_httptools_reads_it() -> None:
    scanned = scan_head(BROWSER)
    assert scanned is not None
    assert scanned[:2] == (b"GET", b"/products/42?ref=home")
    assert scanned[2][:4] == [b"Host", b"www.shop.example.com", b"Host: www.shop.example.com\r\n", b"User-Agent"]
    agrees(BROWSER)


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Pad:  v \t\r\n\r\n",  # empty value; trailing space kept
        b"OPTIONS /a HTTP/1.1\r\nHost: a\r\n\r\n",
        b"DELETE /a|{}^`\\#f HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # no Host: the reader refuses it (400), as it does from the parser
    ],
)
def test_what_it_takes_it_reads_as_httptools_does(head: bytes) -> None:
    assert scan_head(head) is not None
    agrees(head)


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        b"FOOBAR / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"get / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",  # obs-fold
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",  # pipelined
        b"GET / HTTP/1.1\r\nHost: a\r\n",  # not whole yet
        b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * 300 + b"\r\n",  # past its line bound
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ],
)
def test_what_it_declines_goes_to_the_parser(head: bytes) -> None:
    assert scan_head(head) is None


@pytest.mark.parametrize("odd", [b"\x00", b"\t", b"\x1f", b" ", b"\x7f", b"\x80", b"\xff", b"\r", b"\n"])
def test_an_odd_byte_anywhere_in_a_long_target_or_value_is_seen(odd: bytes) -> None:
    # targets and values are checked eight bytes at a time: every place in a word, and past it
    for at in range(26):
        for target, value in ((b"/" + b"a" * 25, b"b" * 26), (b"/", b"b" * 26)):
            if target != b"/":
                target = target[:at] + odd + target[at + 1 :] if at else target
            else:
                value = value[:at] + odd + value[at + 1 :]
            agrees(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nX-Long: " + value + b"\r\n\r\n")


TCHAR = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
METHOD = st.sampled_from([b"GET", b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE", b"FOO"])
PATH = st.binary(max_size=16).map(lambda raw: b"/" + bytes(33 + byte % 94 for byte in raw))  # visible ASCII
NAME = st.one_of(
    st.sampled_from(
        [b"Host", b"Connection", b"content-length", b"Transfer-Encoding", b"Upgrade", b"Expect", b"Cookie"]
    ),
    st.binary(min_size=1, max_size=10).map(lambda raw: bytes(TCHAR[byte % len(TCHAR)] for byte in raw)),
)
VALUE = st.one_of(
    st.sampled_from([b"", b"close", b"Keep-Alive", b"0", b"chunked", b"a b", b" x\t"]),
    st.binary(max_size=16).map(lambda raw: bytes(32 + byte % 95 for byte in raw)),  # SP, visible ASCII, DEL
)
ODD = st.sampled_from([b" ", b"\t", b"\r", b"\n", b"\r\n", b":", b"\x00", b"\x7f", b"\x80", b"\xff", b"#", b"%", b"/", b"1"])  # fmt: skip


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    """A valid plain head, then up to three bytes changed, inserted or removed anywhere: the
    near misses around what the scanner takes."""
    data = draw(METHOD) + b" " + draw(PATH) + b" HTTP/1.1\r\n"
    for _ in range(draw(st.integers(0, 6))):
        data += draw(NAME) + draw(st.sampled_from([b": ", b":", b":\t "])) + draw(VALUE) + b"\r\n"
    data += b"\r\n"
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["insert", "replace", "delete"]))
        piece = draw(ODD)
        if edit == "insert":
            data = data[:at] + piece + data[at:]
        elif edit == "replace":
            data = data[:at] + piece + data[at + 1 :]
        else:
            data = data[:at] + data[at + 1 :]
    return data


@settings(max_examples=3000, deadline=None)
@given(heads())
def test_a_generated_head_is_declined_or_read_exactly_as_httptools_reads_it(data: bytes) -> None:
    agrees(data)


def test_a_head_the_scanner_reads_is_forwarded_byte_for_byte_as_the_parser_forwards_it(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream]
) -> None:
    # the same head twice: as it is (the scanner's, in the compiled build) and after an empty
    # line (which llhttp skips and the scanner declines: the parser's); the upstream records both
    upstream = start_upstream("echo")
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}))
    head = (
        b"GET /a/b?q=1 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: t\r\nAccept:text/html\r\n"
        b"Cookie: a=1\r\nCookie:  b=2 \r\nX-Drop: 1\r\nConnection: keep-alive, X-Drop\r\nX-Empty:\r\n"
        b"X-Request-Id: same\r\nbaggage: k=v\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"
    )
    assert scan_head(head) is not None
    received = []  # bytes the upstream got for each
    for data in (head, b"\r\n" + head):
        before = upstream.stats.bytes
        with socket.create_connection((LOOPBACK, proxy.port), timeout=WAIT) as sock:
            sock.sendall(data)
            assert read_responses(sock)[0].status == 200
        received.append(upstream.stats.bytes - before)
    scanned, parsed_ = upstream.stats.requests
    assert scanned["headers"] == parsed_["headers"]
    assert received[0] == received[1]  # whitespace too: "Accept:text/html" is forwarded "Accept: text/html"
    assert ("Cookie", "a=1") in scanned["headers"] and ("X-Drop", "1") not in scanned["headers"]
