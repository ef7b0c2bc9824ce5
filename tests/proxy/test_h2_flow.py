"""HTTP/2 from clients, over real sockets: request flow control (a slow upstream holds the
client's window, so the proxy never buffers a whole body; a client that sends past a window is
answered with the error RFC 9113 6.9.1 names), routing by ``:authority`` to a branch's preview
host, and a route swap under an open connection."""

from __future__ import annotations

import json
import select
import time
from collections.abc import Callable

import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import DataFrame, RstStreamFrame

from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.upstream import UpstreamConnection
from tests.support.upstreams import WAIT, Blackhole, TestUpstream

from .conftest import ProxyHarness, backends, make_state, route
from .h2client import REQUEST, H2Client, goaway_code, headers_frame, raw_connection, read_frames

pytestmark = pytest.mark.timeout(60)
POST = [(b":method", b"POST"), *REQUEST[1:]]


def proxy_to(make_proxy: Callable[..., ProxyHarness], url: str, **settings: object) -> ProxyHarness:
    state = make_state([route("shop.example.com", "/", "web")])
    return make_proxy(state, backends({"web": [url]}), ProxySettings(h2c=True).with_changes(**settings))


def buffered(proxy: ProxyHarness) -> int:
    """Request body bytes the proxy holds: waiting for an upstream connection, or in the upstream
    socket's write buffer (what the kernel took is not ours)."""

    def count() -> int:
        total = 0
        for conn in proxy.server.state.connections:
            for stream in getattr(conn, "streams", {}).values():
                exchange = stream.exchange
                if exchange is None:
                    continue
                total += sum(map(len, exchange.pending))
                upstream = exchange.upstream
                if isinstance(upstream, UpstreamConnection) and upstream.transport is not None:
                    total += upstream.transport.get_write_buffer_size()
        return total

    return int(proxy.loop.call(count))


def held(proxy: ProxyHarness) -> bool:
    """Whether some client stream's DATA is no longer acknowledged (the upstream cannot take it)."""
    return bool(
        proxy.loop.call(
            lambda: any(s.held for c in proxy.server.state.connections for s in getattr(c, "streams", {}).values())
        )
    )


def test_a_slow_upstream_holds_the_clients_window(make_proxy, start_upstream) -> None:
    """The upstream never reads: the client can send only what the windows, the proxy's marks
    and the kernel's buffers hold, far from its 64 MiB, and the proxy itself keeps at most about a
    high-water mark of it."""
    upstream: TestUpstream = start_upstream("stall")
    proxy = proxy_to(make_proxy, upstream.url)
    size = 64 * 1024 * 1024
    client = H2Client(proxy.port).start()
    sid = client.h2.get_next_available_stream_id()
    client.h2.send_headers(sid, [(k.decode(), v.decode()) for k, v in POST] + [("content-length", str(size))])
    client.flush()
    sent = 0
    piece = b"u" * 16384
    deadline = time.monotonic() + WAIT * 3
    while sent < size:
        window = min(client.h2.local_flow_control_window(sid), client.h2.max_outbound_frame_size)
        if window > 0:
            client.h2.send_data(sid, piece[:window])
            client.flush()
            sent += min(window, len(piece))
            continue
        # no window left: wait until the proxy either opens more or holds the stream back
        assert time.monotonic() < deadline, "the proxy neither opened the window nor held the stream"
        if select.select([client.sock], [], [], 0.05)[0]:
            assert client.read_once()
        elif held(proxy):
            break
    assert sent < size // 4  # the body was never taken whole
    settings = ProxySettings()
    assert buffered(proxy) <= settings.high_water + settings.h2_stream_window  # bounded, whatever the body
    client.close()


def test_data_past_the_stream_window_is_a_stream_error(make_proxy, start_upstream) -> None:
    upstream: TestUpstream = start_upstream("echo")
    proxy = proxy_to(make_proxy, upstream.url, h2_stream_window=1000)
    sock = raw_connection(proxy.port)
    sock.sendall(headers_frame(1, POST, flags=("END_HEADERS",)).serialize() + DataFrame(1, b"d" * 2000).serialize())
    resets = [f.error_code for f in read_frames(sock, 1, "RST") if isinstance(f, RstStreamFrame) and f.stream_id == 1]
    assert resets == [ErrorCodes.FLOW_CONTROL_ERROR]
    sock.sendall(headers_frame(3, REQUEST).serialize())  # a stream error: the connection serves on
    assert any(f.stream_id == 3 and "END_STREAM" in f.flags for f in read_frames(sock, 3, "END_STREAM"))
    sock.close()


def test_data_past_the_connection_window_is_a_connection_error(make_proxy) -> None:
    """Seventeen streams of 4 KiB each to an upstream that never accepts: their bytes wait (past
    the high-water mark, so none is acknowledged) and together pass the connection's window of
    16 x 4 KiB: GOAWAY FLOW_CONTROL_ERROR."""
    hole = Blackhole()
    try:
        proxy = proxy_to(make_proxy, f"http://127.0.0.1:{hole.port}", h2_stream_window=4096, high_water=1024,
                         low_water=512, connect_timeout=30)  # fmt: skip
        sock = raw_connection(proxy.port)
        streams = b"".join(
            headers_frame(sid, POST, flags=("END_HEADERS",)).serialize() + DataFrame(sid, b"c" * 4096).serialize()
            for sid in range(1, 35, 2)
        )
        sock.sendall(streams)
        assert goaway_code(sock) == ErrorCodes.FLOW_CONTROL_ERROR
        sock.close()
    finally:
        hole.close()


@pytest.fixture
def two_upstreams(start_upstream) -> tuple[TestUpstream, TestUpstream]:
    return start_upstream("echo"), start_upstream("echo")


def test_preview_host_is_routed_by_authority(make_proxy, two_upstreams) -> None:
    stable, preview = two_upstreams
    state = make_state(
        [route("shop.example.com", "/", "web")], previews={"feature-x": [route("shop.example.com", "/", "web-v2")]}
    )
    proxy = make_proxy(state, backends({"web": [stable.url], "web-v2": [preview.url]}), ProxySettings(h2c=True))
    client = H2Client(proxy.port).start()
    answers = [client.answer(client.request("/", host=host)) for host in
               ("feature-x--shop-example-com.preview.localhost", "shop.example.com")]  # fmt: skip
    client.close()
    assert [(a.status, json.loads(a.body)["port"]) for a in answers] == [(200, preview.port), (200, stable.port)]


def test_a_route_swap_routes_the_next_stream_of_an_open_connection(make_proxy, two_upstreams) -> None:
    old, new = two_upstreams
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [old.url]}),
                       ProxySettings(h2c=True))  # fmt: skip
    client = H2Client(proxy.port).start()
    before = client.answer(client.request("/"))
    proxy.swap(make_state([route("shop.example.com", "/", "web-v2")], version=2), backends({"web-v2": [new.url]}))
    after = client.answer(client.request("/"))  # the same connection, a new stream
    client.close()
    assert [json.loads(a.body)["port"] for a in (before, after)] == [old.port, new.port]
