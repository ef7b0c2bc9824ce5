"""HTTP/2 from clients over real sockets: h2c with prior knowledge, translation to HTTP/1.1
upstreams, flow control, and every malformed request answered with RST_STREAM PROTOCOL_ERROR."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from h2.errors import ErrorCodes
from h2.events import RemoteSettingsChanged
from h2.settings import SettingCodes
from hyperframe.frame import GoAwayFrame, HeadersFrame

from gitops_ingress.proxy.config import ProxySettings
from tests.support.upstreams import WAIT, TestUpstream

from .conftest import ProxyHarness, backends, make_state, route
from .h2client import REQUEST, Answer, H2Client, headers_frame, raw_connection, read_frames
from .rawclient import connect, read_responses

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def h2c_proxy(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream]
) -> tuple[ProxyHarness, TestUpstream]:
    upstream = start_upstream("echo")
    state = make_state([route("shop.example.com", "/", "web")])
    return make_proxy(state, backends({"web": [upstream.url]}), ProxySettings(h2c=True)), upstream


def echoed(body: bytes) -> dict[str, object]:
    record: dict[str, object] = json.loads(body)
    return record


def test_h2c_request_is_routed_by_authority_and_translated(h2c_proxy: tuple[ProxyHarness, TestUpstream]) -> None:
    proxy, _ = h2c_proxy
    client = H2Client(proxy.port).start()
    sid = client.request("/a?b=1", extra=[("cookie", "a=1"), ("cookie", "b=2"), ("te", "trailers"), ("x-one", "1")])
    answer = client.answer(sid)
    client.close()
    assert answer.status == 200 and answer.ended
    record = echoed(answer.body)
    headers = {name.lower(): value for name, value in record["headers"]}  # type: ignore[attr-defined]
    assert record["path"] == "/a?b=1" and record["version"] == "1.1"
    assert headers["host"] == "shop.example.com"
    assert headers["cookie"] == "a=1; b=2"
    assert headers["x-one"] == "1" and "te" not in headers
    assert answer.header(b"content-type") == b"application/json"
    assert answer.header(b"content-length") == str(len(answer.body)).encode()
    assert proxy.loop.call(proxy.observer.counted) == {("stable", "", "shop.example.com", "h2", "2xx"): 1}


def test_response_fields_reach_the_client_never_indexed(h2c_proxy: tuple[ProxyHarness, TestUpstream]) -> None:
    """Every literal of our response HEADERS is never indexed (proxy/h2encode.py): decoded by the
    client's hpack, each field but a whole static-table one is a NeverIndexedHeaderTuple."""
    proxy, _ = h2c_proxy
    client = H2Client(proxy.port).start()
    sid = client.request("/")
    answer = client.answer(sid)
    client.close()
    kinds = {bytes(field[0]): getattr(field, "indexable", True) for field in answer.headers}
    assert kinds.pop(b":status") is True  # 200: one indexed byte
    assert {b"content-type", b"content-length"} <= kinds.keys()
    assert set(kinds.values()) == {False}


def test_many_streams_on_one_connection(h2c_proxy: tuple[ProxyHarness, TestUpstream]) -> None:
    proxy, _ = h2c_proxy
    client = H2Client(proxy.port).start()
    sids = [client.request(f"/n{index}") for index in range(20)]
    paths = [echoed(client.answer(sid).body)["path"] for sid in sids]
    client.close()
    assert paths == [f"/n{index}" for index in range(20)]


def test_chunked_trailers_of_an_http11_upstream_become_trailing_headers(
    h2c_proxy: tuple[ProxyHarness, TestUpstream],
) -> None:
    proxy, _ = h2c_proxy
    client = H2Client(proxy.port).start()
    asked = client.answer(client.request("/trailers", extra=[("te", "trailers")]))
    unasked = client.answer(client.request("/trailers"))
    client.close()
    assert (asked.status, asked.body) == (200, b"hello")
    assert asked.trailers == [(b"x-checksum", b"abc123"), (b"x-count", b"5")]
    assert (unasked.body, unasked.trailers) == (b"hello", [])  # not asked for: dropped, as before


def test_upload_without_content_length_goes_upstream_chunked(h2c_proxy: tuple[ProxyHarness, TestUpstream]) -> None:
    proxy, _ = h2c_proxy
    client = H2Client(proxy.port).start()
    body = b"u" * 300_000  # more than a stream window: the proxy must acknowledge as it forwards
    sid = client.request("/up", method="POST", body=body)
    answer = client.answer(sid)
    client.close()
    assert answer.status == 200
    assert echoed(answer.body)["body_len"] == len(body)


def test_large_download_respects_the_client_window(h2c_proxy: tuple[ProxyHarness, TestUpstream]) -> None:
    proxy, upstream = h2c_proxy
    client = H2Client(proxy.port).start()
    client.auto_ack = False  # a reader that never opens its window past the first 64 KiB
    size = 12_000_000
    sid = client.request(f"/big?size={size}")
    client.until(lambda: len(client.answers[sid].body) >= 65_535)
    assert len(client.answers[sid].body) == 65_535  # the initial window, and not a byte more

    def held() -> list[tuple[bool, int]]:
        return [
            (s.upstream_paused, s.queued)
            for c in proxy.server.state.connections
            for s in getattr(c, "streams", {}).values()
        ]

    # the proxy stops reading the upstream instead of buffering the body: what it holds stays
    # near its high-water mark (what the upstream has sent meanwhile waits in kernel buffers)
    deadline = time.monotonic() + WAIT
    while not any(paused for paused, _ in proxy.loop.call(held)):
        assert time.monotonic() < deadline, "the proxy never paused the upstream"
    assert all(queued < 2 * ProxySettings().high_water for _, queued in proxy.loop.call(held))
    client.auto_ack = True
    client.h2.acknowledge_received_data(65_535, sid)
    client.flush()
    answer = client.answer(sid)
    client.close()
    assert len(answer.body) == size and answer.ended
    assert upstream.stats.bytes_out >= size


def test_a_plain_listener_without_h2c_answers_the_preface_400(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}))
    sock = connect(proxy.port)
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    responses = read_responses(sock)
    sock.close()
    assert responses[0].status == 400


def test_http11_still_works_on_an_h2c_listener(h2c_proxy: tuple[ProxyHarness, TestUpstream]) -> None:
    proxy, _ = h2c_proxy
    sock = connect(proxy.port)
    sock.sendall(b"GET /x HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
    responses = read_responses(sock)
    sock.close()
    assert responses[0].status == 200


def test_websocket_over_h2_is_refused_as_documented(h2c_proxy: tuple[ProxyHarness, TestUpstream]) -> None:
    # RFC 8441: extended CONNECT is offered by SETTINGS_ENABLE_CONNECT_PROTOCOL=1, which we never
    # send; a client must then use WebSocket over HTTP/1.1, which the proxy tunnels (test_websocket.py)
    proxy, upstream = h2c_proxy
    client = H2Client(proxy.port).start()
    client.until(lambda: any(isinstance(event, RemoteSettingsChanged) for event in client.events))
    assert client.h2.remote_settings.get(SettingCodes.ENABLE_CONNECT_PROTOCOL, 0) == 0
    client.h2.config.validate_outbound_headers = False  # h2 itself would not send :protocol now
    sid = client.h2.get_next_available_stream_id()
    client.h2.send_headers(
        sid,
        [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
         (":authority", "shop.example.com"), (":path", "/chat")],
    )  # fmt: skip
    client.flush()
    client.answers[sid] = Answer()
    assert client.answer(sid).reset == ErrorCodes.PROTOCOL_ERROR
    # a plain CONNECT is a request a reverse proxy does not serve: 405, as over HTTP/1.1
    plain = client.h2.get_next_available_stream_id()
    client.h2.send_headers(plain, [(":method", "CONNECT"), (":authority", "shop.example.com:443")])
    client.flush()
    client.answers[plain] = Answer()
    assert client.answer(plain).status == 405
    client.close()
    assert upstream.stats.requests == []


def test_access_log_and_metrics_carry_h2(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    records: list[tuple[object, ...]] = []  # AccessRecord tuples (proxy/accesslog.py)
    proxy = make_proxy(
        make_state([route("shop.example.com", "/", "web")]),
        backends({"web": [upstream.url]}),
        ProxySettings(h2c=True, access_log=True),
        records.append,
    )
    client = H2Client(proxy.port).start()
    assert client.answer(client.request("/logged")).status == 200
    assert client.answer(client.request("/missing", host="nowhere.example.net")).status == 404
    client.close()
    assert [(r[1], r[3], r[5]) for r in records] == [  # protocol, target, status
        ("h2", b"/logged", 200),
        ("h2", b"/missing", 404),
    ]


def test_shutdown_sends_goaway_and_lets_streams_finish(h2c_proxy: tuple[ProxyHarness, TestUpstream]) -> None:
    proxy, upstream = h2c_proxy
    sock = raw_connection(proxy.port)
    held = [(b":method", b"GET"), *REQUEST[1:3], (b":path", b"/hold")]
    sock.sendall(headers_frame(1, held).serialize())
    assert upstream.stats.request_seen.wait(WAIT)
    proxy.loop.call(lambda: [conn.shutdown() for conn in list(proxy.server.state.connections)])
    proxy.loop.call(upstream.release.set)
    frames = read_frames(sock, 1, "END_STREAM")  # begun before GOAWAY: answered in full
    goaways = [frame for frame in frames if isinstance(frame, GoAwayFrame)]
    assert [(g.error_code, g.last_stream_id) for g in goaways] == [(ErrorCodes.NO_ERROR, 1)]
    assert any(isinstance(frame, HeadersFrame) and frame.stream_id == 1 for frame in frames), frames
    assert sock.recv(65536) == b""  # and then the connection closes
    sock.close()


def test_head_and_bodiless_statuses(h2c_proxy: tuple[ProxyHarness, TestUpstream]) -> None:
    proxy, _ = h2c_proxy
    client = H2Client(proxy.port).start()
    head = client.answer(client.request("/big?size=1000", method="HEAD"))
    empty = client.answer(client.request("/status/204"))
    streamed = client.answer(client.request("/stream?n=3&size=5"))  # chunked upstream: DATA, no length
    own = client.answer(client.request("/missing", host="nowhere.example.net", method="HEAD"))  # the proxy's page
    client.close()
    assert (own.status, own.body, own.ended) == (404, b"", True)
    assert (head.status, head.header(b"content-length"), head.body, head.ended) == (200, b"1000", b"", True)
    assert (empty.status, empty.header(b"content-length"), empty.body, empty.ended) == (204, None, b"", True)
    assert (streamed.status, streamed.header(b"content-length"), streamed.body) == (200, None, b"x" * 15)
    assert streamed.header(b"transfer-encoding") is None
