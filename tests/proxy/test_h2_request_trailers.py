"""Request trailers from HTTP/2 clients, over real sockets: forwarded to HTTP/2 upstreams as a
trailing HEADERS frame, to HTTP/1.1 upstreams in the last chunk of a chunked body (and dropped
when the body has a content-length: there is no place for them); malformed trailers are a stream
error (RST_STREAM PROTOCOL_ERROR) and the connection serves on."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import DataFrame

from gitops_ingress.proxy.config import ProxySettings
from tests.support.h2upstreams import H2TestUpstream
from tests.support.upstreams import TestUpstream

from .conftest import ProxyHarness, backends, make_state, route
from .h2client import REQUEST, Answer, H2Client, headers_frame, raw_connection, read_frames

pytestmark = pytest.mark.timeout(30)
TRAILERS = [("x-checksum", "abc123"), ("grpc-status-details-bin", "AAEC")]


@pytest.fixture
def start_h2(loop_thread):
    yield from loop_thread.serving(lambda: H2TestUpstream("echo", None))


def proxy_to(make_proxy: Callable[..., ProxyHarness], url: str) -> ProxyHarness:
    state = make_state([route("shop.example.com", "/", "web")])
    return make_proxy(state, backends({"web": [url]}), ProxySettings(h2c=True, read_timeout=10))


def with_trailers(proxy: ProxyHarness, extra: list[tuple[str, str]], trailers: list[tuple[str, str]]) -> Answer:
    """POST a body in two DATA frames, then ``trailers`` as HEADERS with END_STREAM (h2's own
    client checks disabled, so that bad trailers go out as written)."""
    client = H2Client(proxy.port).start()
    client.h2.config.validate_outbound_headers = False
    client.h2.config.normalize_outbound_headers = False
    sid = client.h2.get_next_available_stream_id()
    fields = [(":method", "POST"), (":scheme", "http"), (":authority", "shop.example.com"), (":path", "/up")]
    client.h2.send_headers(sid, fields + extra)
    client.h2.send_data(sid, b"hello ")
    client.h2.send_data(sid, b"world")
    client.h2.send_headers(sid, trailers, end_stream=True)
    client.answers[sid] = Answer()
    client.flush()
    answer = client.answer(sid)
    if answer.reset is None:
        again = client.answer(client.request("/after"))  # the connection serves on either way
        assert again.status == 200
    client.close()
    return answer


def test_trailers_reach_an_h2_upstream_as_trailing_headers(make_proxy, start_h2) -> None:
    upstream = start_h2()
    answer = with_trailers(proxy_to(make_proxy, upstream.url()), [], TRAILERS)
    assert answer.status == 200
    record = json.loads(answer.body)
    assert record["body"] == "hello world"
    assert record["trailers"] == [list(field) for field in TRAILERS]


def test_trailers_reach_an_http11_upstream_in_the_last_chunk(make_proxy, start_upstream) -> None:
    upstream: TestUpstream = start_upstream("echo")
    answer = with_trailers(proxy_to(make_proxy, upstream.url), [], [*TRAILERS, ("content-length", "1")])
    assert answer.status == 200
    record = json.loads(answer.body)
    assert record["body"] == "hello world"
    assert ["transfer-encoding", "chunked"] in [[k.lower(), v] for k, v in record["headers"]]
    assert record["trailers"] == [list(field) for field in TRAILERS]  # content-length in trailers: dropped


def test_trailers_are_dropped_for_an_http11_body_with_content_length(make_proxy, start_upstream) -> None:
    upstream: TestUpstream = start_upstream("echo")
    answer = with_trailers(proxy_to(make_proxy, upstream.url), [("content-length", "11")], TRAILERS)
    assert answer.status == 200
    record = json.loads(answer.body)
    assert record["body"] == "hello world" and record["trailers"] == []
    assert ["content-length", "11"] in [[k.lower(), v] for k, v in record["headers"]]


@pytest.mark.parametrize(
    "trailers",
    [
        [(":path", "/other")],  # a pseudo-header
        [("X-Checksum", "abc")],  # uppercase
        [("connection", "close")],  # connection-specific (RFC 9113 8.2.2)
        [("transfer-encoding", "chunked")],
        [("te", "gzip")],
    ],
)
def test_malformed_trailers_are_a_stream_error(make_proxy, start_upstream, trailers) -> None:
    upstream: TestUpstream = start_upstream("echo")
    answer = with_trailers(proxy_to(make_proxy, upstream.url), [], trailers)
    assert answer.reset == ErrorCodes.PROTOCOL_ERROR


def test_trailers_without_end_stream_are_a_stream_error(make_proxy, start_upstream) -> None:
    upstream: TestUpstream = start_upstream("echo")
    proxy = proxy_to(make_proxy, upstream.url)
    sock = raw_connection(proxy.port)
    post = [(b":method", b"POST"), *REQUEST[1:]]
    sock.sendall(
        headers_frame(1, post, flags=("END_HEADERS",)).serialize()
        + DataFrame(1, b"x").serialize()
        + headers_frame(1, [(b"x-checksum", b"1")], flags=("END_HEADERS",)).serialize()
    )
    resets = [f.error_code for f in read_frames(sock, 1, "RST") if f.stream_id == 1 and f.type == 0x3]
    assert resets == [ErrorCodes.PROTOCOL_ERROR]
    sock.close()
