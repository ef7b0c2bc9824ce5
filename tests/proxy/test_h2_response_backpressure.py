"""Back-pressure on responses from HTTP/2 upstreams: a client that does not read stops the upstream.

The upstream (tests/support/h2senders.py) sends a 32 MiB body only as far as the windows the
proxy grants, so what it got to send is what the proxy let in. A client that reads nothing,
over HTTP/1.1 and over h2, must leave the upstream's window at 0 (the proxy stops sending
WINDOW_UPDATEs for that stream) with a bounded number of bytes in between; reading then resumes
the stream and the whole body arrives.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.support.h2senders import H2BodySender
from tests.support.upstreams import WAIT, LoopThread

from .conftest import ProxyHarness, backends, make_state, route
from .h2client import H2Client
from .rawclient import connect

pytestmark = pytest.mark.timeout(60)

SIZE = 32 * 1024 * 1024
SETTINGS = ProxySettings(h2c=True, read_timeout=30)


@pytest.fixture
def sender(loop_thread: LoopThread) -> Iterator[Callable[[], H2BodySender]]:
    yield from loop_thread.serving(H2BodySender)


@pytest.fixture
def proxied(
    make_proxy: Callable[..., ProxyHarness], sender: Callable[[], H2BodySender]
) -> tuple[ProxyHarness, H2BodySender]:
    upstream = sender()
    state = make_state([route("shop.example.com", "/", "web")])
    return make_proxy(state, backends({"web": [upstream.url()]}), SETTINGS), upstream


def stalled(proxy: ProxyHarness, upstream: H2BodySender) -> int:
    """Wait until the proxy holds the upstream's window at 0; what the upstream sent by then."""
    assert proxy.loop.run(upstream.wait_stalled(WAIT)), "the proxy let the upstream send the whole body"
    sent: int = proxy.loop.call(lambda: upstream.sent)
    return sent


def test_an_http11_client_that_does_not_read_stops_the_h2_upstream(proxied: tuple[ProxyHarness, H2BodySender]) -> None:
    proxy, upstream = proxied
    sock = connect(proxy.port, timeout=WAIT)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b"GET /big?size=%d HTTP/1.1\r\nHost: shop.example.com\r\n\r\n" % SIZE)
    sent = stalled(proxy, upstream)
    # kernel buffers on both sides, the proxy's high-water marks and one window: not the body
    assert sent < SIZE // 2
    buffered = proxy.loop.call(lambda: [c.transport.get_write_buffer_size() for c in proxy.server.state.connections])
    assert max(buffered) <= 2 * 1024 * 1024
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"content-length: %d" % SIZE in head.lower()
    got = len(body)
    while got < SIZE:  # reading resumes the stream: the proxy opens the window again
        chunk = sock.recv(1 << 20)
        assert chunk, f"closed after {got} bytes"
        got += len(chunk)
    sock.close()
    assert got == SIZE and proxy.loop.call(lambda: upstream.sent) == SIZE


def test_an_h2_client_that_does_not_open_its_window_stops_the_h2_upstream(
    proxied: tuple[ProxyHarness, H2BodySender],
) -> None:
    proxy, upstream = proxied
    client = H2Client(proxy.port).start()
    client.auto_ack = False  # the client's 64 KiB window, never opened
    sid = client.request(f"/big?size={SIZE}")
    client.until(lambda: len(client.answers[sid].body) >= 65_535)
    sent = stalled(proxy, upstream)
    received = len(client.answers[sid].body)
    assert received == 65_535
    # between the two windows the proxy holds about its high-water mark, and the upstream's
    # window is no larger: a few times 256 KiB, never the 32 MiB
    assert sent - received <= 4 * SETTINGS.high_water
    client.auto_ack = True
    client.h2.acknowledge_received_data(received, sid)
    client.flush()
    answer = client.answers[sid]
    got = 0
    while not answer.ended and not client.closed:
        client.read_once()
        got += len(answer.body)
        answer.body = b""  # counted, not kept: 32 MiB appended frame by frame is slow in Python
    client.close()
    assert answer.status == 200 and answer.ended and got == SIZE  # the first 64 KiB included
    assert proxy.loop.call(lambda: upstream.sent) == SIZE
