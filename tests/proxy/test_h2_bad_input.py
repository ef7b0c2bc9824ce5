"""HTTP/2 bad input over real sockets: every malformed request is a stream error (RST_STREAM
PROTOCOL_ERROR, the connection serves on), every connection-level violation and known attack a
GOAWAY and a closed connection, while other clients keep being served: for the known attacks a
bystander has a stream open across the attack and is answered correctly on it and after it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import hpack
import pytest
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from gitops_ingress.proxy.config import ProxySettings
from tests.support.upstreams import WAIT, TestUpstream

from .conftest import ProxyHarness, backends, make_state, route
from .h2client import (
    PREFACE,
    REQUEST,
    Answer,
    H2Client,
    frames_until_closed,
    goaway_code,
    headers_frame,
    raw_connection,
    read_frames,
)
from .rawclient import connect

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def upstream(start_upstream: Callable[[str], TestUpstream]) -> TestUpstream:
    return start_upstream("echo")


@pytest.fixture
def proxy_for(make_proxy: Callable[..., ProxyHarness], upstream: TestUpstream) -> Iterator[Callable[..., ProxyHarness]]:
    def make(**settings: object) -> ProxyHarness:
        state = make_state([route("shop.example.com", "/", "web")])
        return make_proxy(state, backends({"web": [upstream.url]}), ProxySettings(h2c=True).with_changes(**settings))

    yield make


@pytest.fixture
def proxy(proxy_for: Callable[..., ProxyHarness]) -> ProxyHarness:
    return proxy_for()


def still_serving(proxy: ProxyHarness) -> bool:
    client = H2Client(proxy.port).start()
    answer = client.answer(client.request("/ok"))
    client.close()
    return answer.status == 200


class Bystander:
    """Another client, served while an attack goes on: it has a stream open before the attack
    (held by the upstream until ``served`` releases it) and opens another on the same connection
    after it; both must get their own answers."""

    def __init__(self, proxy: ProxyHarness, upstream: TestUpstream) -> None:
        self.proxy, self.upstream = proxy, upstream
        self.client = H2Client(proxy.port).start()
        self.held = self.client.request("/hold?who=bystander")
        deadline = time.monotonic() + WAIT
        while not any(r["path"] == "/hold?who=bystander" for r in upstream.stats.requests):  # it reached the upstream
            assert time.monotonic() < deadline
            upstream.stats.request_seen.wait(0.05)

    def served(self) -> bool:
        self.proxy.loop.call(self.upstream.release.set)
        held = self.client.answer(self.held)
        after = self.client.answer(self.client.request("/after?who=bystander"))
        self.client.close()
        return [(a.status, json.loads(a.body)["path"]) for a in (held, after)] == [
            (200, "/hold?who=bystander"),
            (200, "/after?who=bystander"),
        ]


def reset_code(
    proxy: ProxyHarness, extra: list[tuple[str, str]], path: str = "/", body: bytes | None = None
) -> tuple[int | None, bool]:
    """Send one request with ``extra`` fields; the reset code it gets, and whether the same
    connection then serves a good request."""
    client = careless_client(proxy)
    fields = [(":method", "POST" if body is not None else "GET"), (":scheme", "http"),
              (":authority", "shop.example.com"), (":path", path), *extra]  # fmt: skip
    bad = send(client, fields, body)
    good = client.answer(client.request("/after")).status == 200
    client.close()
    return bad.reset, good


def careless_client(proxy: ProxyHarness) -> H2Client:
    client = H2Client(proxy.port).start()
    client.h2.config.validate_outbound_headers = False  # we mean to send what h2 would refuse
    client.h2.config.normalize_outbound_headers = False
    return client


def send(client: H2Client, fields: list[tuple[str, str]], body: bytes | None = None) -> Answer:
    """One request of exactly ``fields`` on ``client``, and its answer."""
    sid = client.h2.get_next_available_stream_id()
    client.h2.send_headers(sid, fields, end_stream=body is None)
    if body is not None:
        client.h2.send_data(sid, body, end_stream=True)
    client.flush()
    client.answers[sid] = Answer()
    return client.answer(sid)


def test_a_preface_that_is_not_a_preface_gets_goaway(proxy: ProxyHarness) -> None:
    sock = connect(proxy.port)
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + SettingsFrame(0).serialize())
    assert goaway_code(sock) == ErrorCodes.PROTOCOL_ERROR
    sock.close()
    assert still_serving(proxy)


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ([("X-Upper", "1")], "/"),
        ([("connection", "keep-alive")], "/"),
        ([("transfer-encoding", "chunked")], "/"),
        ([("upgrade", "websocket")], "/"),
        ([("te", "gzip")], "/"),
        ([("x-bad", "a\r\nb")], "/"),
        ([], ""),
        ([], "nope"),
        ([(":protocol", "websocket")], "/"),  # extended CONNECT: never enabled (RFC 8441)
    ],
)
def test_malformed_requests_are_stream_errors(proxy: ProxyHarness, extra: list[tuple[str, str]], path: str) -> None:
    assert reset_code(proxy, extra, path) == (ErrorCodes.PROTOCOL_ERROR, True)


METHOD, SCHEME, AUTHORITY, PATH = (
    (":method", "GET"),
    (":scheme", "http"),
    (":authority", "shop.example.com"),
    (":path", "/"),
)
SEEN = ("x-seen", "1")


@pytest.mark.parametrize(
    "fields",
    [
        [METHOD, SCHEME, AUTHORITY, SEEN, PATH],  # a pseudo-header after a regular field
        [METHOD, SCHEME, AUTHORITY, PATH, PATH],  # a pseudo-header repeated
        [METHOD, SCHEME, AUTHORITY, SEEN],  # no :path
        [METHOD, AUTHORITY, PATH, SEEN],  # no :scheme
        [METHOD, SCHEME, (":authority", "other.example.com"), PATH, ("host", "shop.example.com")],
        [METHOD, SCHEME, AUTHORITY, PATH, ("te", "gzip")],  # te seen before, with "trailers"
        [METHOD, SCHEME, AUTHORITY, PATH, ("X-Seen", "1")],
    ],
    ids=["pseudo-after-regular", "pseudo-repeated", "no-path", "no-scheme", "host-not-authority", "te", "uppercase"],
)
def test_fields_a_connection_repeats_are_checked_again_in_each_request(
    proxy: ProxyHarness, fields: list[tuple[str, str]]
) -> None:
    # h2fields.py remembers the fields of a connection that passed the checks of one field alone;
    # a request made only of such repeats must still be refused for how they are put together
    client = careless_client(proxy)
    good = [METHOD, SCHEME, AUTHORITY, PATH, ("te", "trailers"), SEEN, ("host", "shop.example.com")]
    assert [send(client, good).status for _ in range(2)] == [200, 200]
    assert send(client, fields).reset == ErrorCodes.PROTOCOL_ERROR
    assert send(client, good).status == 200
    client.close()


def serves_on(sock: socket.socket, sid: int) -> bool:
    """Whether the connection answers a good request on stream ``sid`` after a stream error."""
    sock.sendall(headers_frame(sid, REQUEST).serialize())
    return any(frame.stream_id == sid and "END_STREAM" in frame.flags for frame in read_frames(sock, sid, "END_STREAM"))


def rst_codes(sock: socket.socket, sid: int) -> list[int]:
    return [f.error_code for f in read_frames(sock, sid, "RST") if isinstance(f, RstStreamFrame) and f.stream_id == sid]


@pytest.mark.parametrize("announced", [3, 10])
def test_content_length_disagreeing_with_data_is_a_stream_error(proxy: ProxyHarness, announced: int) -> None:
    # RFC 9113 8.1.1: a malformed request, RST_STREAM PROTOCOL_ERROR; the connection serves on
    sock = raw_connection(proxy.port)
    fields = [(b":method", b"POST"), *REQUEST[1:], (b"content-length", b"%d" % announced)]
    sock.sendall(headers_frame(1, fields, flags=("END_HEADERS",)).serialize()
                 + DataFrame(1, b"hello", flags=("END_STREAM",)).serialize())  # fmt: skip
    assert rst_codes(sock, 1) == [ErrorCodes.PROTOCOL_ERROR]
    assert serves_on(sock, 3)
    sock.close()


def test_data_after_the_client_ended_its_stream_is_a_stream_error(proxy: ProxyHarness) -> None:
    # RFC 9113 5.1: the stream is half-closed (remote) while its answer is pending: STREAM_CLOSED
    sock = raw_connection(proxy.port)
    held = [(b":method", b"GET"), *REQUEST[1:3], (b":path", b"/hold")]
    sock.sendall(headers_frame(1, held).serialize() + DataFrame(1, b"late").serialize())
    assert rst_codes(sock, 1) == [ErrorCodes.STREAM_CLOSED]
    assert serves_on(sock, 3)
    sock.close()


def test_frames_on_a_closed_stream_get_rst_stream_closed(proxy: ProxyHarness) -> None:
    sock = raw_connection(proxy.port)
    sock.sendall(headers_frame(1, REQUEST).serialize())
    assert any(frame.stream_id == 1 and "END_STREAM" in frame.flags for frame in read_frames(sock, 1, "END_STREAM"))
    sock.sendall(DataFrame(1, b"late", flags=("END_STREAM",)).serialize())  # closed both ways now
    resets = [frame for frame in read_frames(sock, 1, "RST") if isinstance(frame, RstStreamFrame)]
    assert [frame.error_code for frame in resets] == [ErrorCodes.STREAM_CLOSED]
    sock.sendall(headers_frame(3, REQUEST).serialize())  # a stream error: the connection serves on
    assert any(frame.stream_id == 3 and "END_STREAM" in frame.flags for frame in read_frames(sock, 3, "END_STREAM"))
    sock.close()


def test_headers_without_end_headers_then_another_streams_frame(proxy: ProxyHarness) -> None:
    sock = raw_connection(proxy.port)
    sock.sendall(headers_frame(1, REQUEST, flags=()).serialize() + headers_frame(3, REQUEST).serialize())
    assert goaway_code(sock) == ErrorCodes.PROTOCOL_ERROR
    sock.close()
    assert still_serving(proxy)


def test_continuation_flood_gets_goaway(proxy: ProxyHarness, upstream: TestUpstream) -> None:
    bystander = Bystander(proxy, upstream)
    sock = raw_connection(proxy.port)
    block = hpack.Encoder().encode(REQUEST)
    flood = HeadersFrame(1, block, flags=()).serialize()
    flood += b"".join(ContinuationFrame(1, b"\x00" * 0).serialize() for _ in range(200))
    sock.sendall(flood)
    assert goaway_code(sock) == ErrorCodes.PROTOCOL_ERROR
    sock.close()
    assert bystander.served()  # served meanwhile, then served on


def test_hpack_bomb_gets_goaway(proxy: ProxyHarness, upstream: TestUpstream) -> None:
    bystander = Bystander(proxy, upstream)
    encoder = hpack.Encoder()
    big = (b"x-big", b"v" * 4000)
    block = encoder.encode([*REQUEST, big]) + b"".join(encoder.encode([big]) for _ in range(40))  # ~160 KB decoded
    sock = raw_connection(proxy.port)
    sock.sendall(HeadersFrame(1, block, flags=("END_HEADERS", "END_STREAM")).serialize())
    assert goaway_code(sock) == ErrorCodes.ENHANCE_YOUR_CALM  # h2: a header list past our SETTINGS is a DoS
    sock.close()
    assert bystander.served()  # served meanwhile, then served on


def test_rapid_reset_gets_goaway(proxy_for: Callable[..., ProxyHarness], upstream: TestUpstream) -> None:
    proxy = proxy_for(h2_max_resets=50)
    bystander = Bystander(proxy, upstream)
    sock = raw_connection(proxy.port)
    burst = b"".join(
        headers_frame(sid, REQUEST).serialize() + RstStreamFrame(sid, error_code=ErrorCodes.CANCEL).serialize()
        for sid in range(1, 2 * 80, 2)
    )
    sock.sendall(burst)
    assert goaway_code(sock) == ErrorCodes.ENHANCE_YOUR_CALM
    sock.close()
    assert bystander.served()  # served meanwhile, then served on


@pytest.mark.parametrize("frame", [PingFrame(0, b"12345678"), SettingsFrame(0)], ids=["ping", "settings"])
def test_control_frame_floods_get_goaway(
    proxy_for: Callable[..., ProxyHarness], upstream: TestUpstream, frame: Frame
) -> None:
    proxy = proxy_for(h2_max_control_frames=20)
    bystander = Bystander(proxy, upstream)
    sock = raw_connection(proxy.port)
    sock.sendall(frame.serialize() * 100)
    assert goaway_code(sock) == ErrorCodes.ENHANCE_YOUR_CALM
    sock.close()
    assert bystander.served()  # served meanwhile, then served on


def test_a_zero_window_stall_gets_goaway(proxy_for: Callable[..., ProxyHarness]) -> None:
    proxy = proxy_for(write_timeout=0.5)
    sock = connect(proxy.port)
    zero = SettingsFrame(0, settings={SettingCodes.INITIAL_WINDOW_SIZE: 0})
    sock.sendall(PREFACE + zero.serialize() + headers_frame(1, REQUEST).serialize())
    # the response HEADERS go out, its DATA never can: the proxy gives up after write_timeout
    frames = frames_until_closed(sock)
    sock.close()
    assert [f.error_code for f in frames if isinstance(f, GoAwayFrame)] == [ErrorCodes.ENHANCE_YOUR_CALM]
    assert any(isinstance(f, HeadersFrame) for f in frames)
    assert not any(isinstance(f, DataFrame) and f.data for f in frames)
    assert still_serving(proxy)


def test_streams_past_the_limit_are_refused(proxy_for: Callable[..., ProxyHarness]) -> None:
    proxy = proxy_for(h2_max_streams=2)
    sock = raw_connection(proxy.port)
    held = [(b":method", b"GET"), *REQUEST[1:3], (b":path", b"/hold")]  # answered only when released
    sock.sendall(b"".join(headers_frame(sid, held).serialize() for sid in (1, 3, 5)))
    # RFC 9113 5.1.2: a stream error the client may retry, not the connection's end
    assert rst_codes(sock, 5) == [ErrorCodes.REFUSED_STREAM]
    sock.sendall(PingFrame(0, b"still-on").serialize())
    pongs = [f for f in read_frames(sock, 0, "ACK") if isinstance(f, PingFrame)]
    assert [f.opaque_data for f in pongs] == [b"still-on"]
    sock.close()
    assert still_serving(proxy)


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        (DataFrame(1, b"x").serialize(), ErrorCodes.PROTOCOL_ERROR),  # DATA on an idle stream
        (WindowUpdateFrame(7, 10).serialize(), ErrorCodes.PROTOCOL_ERROR),  # on an idle stream
        (WindowUpdateFrame(0, 2**31 - 1).serialize(), ErrorCodes.FLOW_CONTROL_ERROR),  # window overflow
        (
            SettingsFrame(0, settings={SettingCodes.INITIAL_WINDOW_SIZE: 2**31}).serialize(),
            ErrorCodes.FLOW_CONTROL_ERROR,
        ),
        (SettingsFrame(0, settings={SettingCodes.MAX_FRAME_SIZE: 100}).serialize(), ErrorCodes.PROTOCOL_ERROR),
        (b"\x00\x00\x01\x06\x00\x00\x00\x00\x00x", ErrorCodes.FRAME_SIZE_ERROR),  # a PING of 1 octet
        (b"\x00\x40\x01\x00\x00\x00\x00\x00\x01" + b"x" * 16385, ErrorCodes.FRAME_SIZE_ERROR),  # too big
        (HeadersFrame(1, b"\xbf\x7f", flags=("END_HEADERS",)).serialize(), ErrorCodes.COMPRESSION_ERROR),
    ],
    ids=[
        "data-idle",
        "window-idle",
        "window-overflow",
        "settings-window",
        "settings-frame-size",
        "ping-size",
        "frame-size",
        "hpack-index",
    ],
)
def test_connection_errors_get_goaway_with_their_code(proxy: ProxyHarness, frames: bytes, code: ErrorCodes) -> None:
    sock = raw_connection(proxy.port)
    sock.sendall(frames)
    assert goaway_code(sock) == code
    sock.close()
    assert still_serving(proxy)


def test_a_zero_window_increment_on_a_stream_is_a_stream_error(proxy: ProxyHarness) -> None:
    sock = raw_connection(proxy.port)
    held = [(b":method", b"GET"), *REQUEST[1:3], (b":path", b"/hold")]
    sock.sendall(headers_frame(1, held).serialize() + WindowUpdateFrame(1, 0).serialize())
    assert rst_codes(sock, 1) == [ErrorCodes.PROTOCOL_ERROR]  # RFC 9113 6.9
    assert serves_on(sock, 3)
    sock.close()
