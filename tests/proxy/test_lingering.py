"""Lingering close (proxy/linger.py): a connection the proxy ends with bytes of the client's still
unread (a refusal, a body it will not read) is half-closed after the answer and read to its end,
so the client reads the whole answer and then EOF, never a reset; it is closed when the client
closes, after ``lingering_timeout`` of silence, after ``lingering_time`` in all, or at shutdown;
an answer still being written waits for a reader that takes none of it ``write_timeout`` only.

A client here keeps sending after the answer came, as one busy with its upload does: to a proxy
that closed, those bytes are answered with a reset, which the client sees on its next send or
read (and which can discard the answer before it is read)."""

from __future__ import annotations

import asyncio
import re
import select
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from gitops_ingress.core.annotations import PREFIX
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.linger import Lingering
from gitops_ingress.proxy.tls import CertificateStore
from tests.proxy.conftest import ProxyHarness, backends, make_state, route
from tests.proxy.rawclient import connect, read_responses
from tests.proxy.test_annotations import state_of
from tests.support.manifests import ingress
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, CertificateAuthority, ca_fixture  # noqa: F401

pytestmark = pytest.mark.timeout(120)
H = b"Host: shop.example.com\r\n"
LINE = b"X-More: " + b"v" * 90 + b"\r\n"
BOUND = dict(max_header_bytes=2048, max_request_line=1024)  # a head past 6 KiB is refused
MORE = 20  # lines a client sends after the answer came


def _proxy(make_proxy: Callable[..., ProxyHarness], upstream: TestUpstream, **settings: object) -> ProxyHarness:
    state = make_state([route("shop.example.com", "/", "web")])
    return make_proxy(state, backends({"web": [upstream.url]}), ProxySettings(**settings))  # type: ignore[arg-type]


def _received(sock: socket.socket) -> bytes | None:
    """What has arrived, without waiting: None when nothing has (``sock`` may be a TLS socket,
    whose session tickets make the raw socket readable before any answer: hence a read)."""
    sock.setblocking(False)
    try:
        return sock.recv(65536)  # b"": the end of the stream
    except (BlockingIOError, ssl.SSLWantReadError):
        return None
    finally:
        sock.settimeout(WAIT)


def _refused_head(sock: socket.socket) -> int:
    """Send an oversized head a line per write, on until the answer came and then ``MORE`` lines;
    read the answer, whole, and then the end of the stream (a reset raises ConnectionResetError).
    The answer's status."""
    sock.sendall(b"GET / HTTP/1.1\r\n" + H)
    got = b""
    ended = False
    after = 0
    for _ in range(100_000):
        sock.sendall(LINE)
        if not got:
            got = _received(sock) or b""
        elif after < MORE:
            after += 1
        else:
            break
    else:
        pytest.fail("no answer to a head of 10 MB")
    while not ended:
        data = sock.recv(65536)
        got += data
        ended = not data
    head, _, body = got.partition(b"\r\n\r\n")
    length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
    assert length is not None and len(body) == int(length.group(1)), got  # one answer, whole, then EOF
    return int(head[9:12])


def _read_answer_then_eof(sock: socket.socket) -> int:
    """The one answer, whole, then the end of the stream (a reset raises ConnectionResetError)."""
    (response,) = read_responses(sock)
    assert sock.recv(65536) == b""
    return response.status


def _kinds(proxy: ProxyHarness) -> list[str]:
    """What the proxy's open connections are doing: ``lingering`` or ``serving``."""
    return proxy.loop.call(
        lambda: ["lingering" if isinstance(conn, Lingering) else "serving" for conn in proxy.server.state.connections]
    )


def _open(proxy: ProxyHarness) -> int:
    """The open connections the proxy's observer counts (what the open_connections gauge shows)."""
    return proxy.loop.call(lambda: proxy.observer.open)


def _wait_closed_by_proxy(proxy: ProxyHarness) -> None:
    proxy.loop.run(asyncio.wait_for(proxy.server.state.until_idle(), WAIT))


def _reset_on_send(sock: socket.socket) -> None:
    """The proxy's socket is gone (not half-closed): a byte sent to it is answered with a reset."""
    poller = select.poll()
    poller.register(sock, 0)  # POLLERR and POLLHUP are reported whatever the mask
    try:
        sock.send(b"x")
    except (ConnectionResetError, BrokenPipeError):
        return
    assert poller.poll(WAIT * 1000), "no reset for a byte sent after the proxy closed"


def test_an_oversized_head_sent_line_by_line_gets_its_whole_431_then_eof(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    proxy = _proxy(make_proxy, upstream, **BOUND)
    for _ in range(20):
        with connect(proxy.port) as sock:
            assert _refused_head(sock) == 431
    assert upstream.stats.requests == []
    _wait_closed_by_proxy(proxy)
    assert _open(proxy) == 0  # every lingering connection was counted, and counted down
    with connect(proxy.port) as sock:  # a whole request and Connection: close: nothing left unread
        sock.sendall(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        assert _read_answer_then_eof(sock) == 200
        assert _kinds(proxy) == []  # closed at once, not lingering


@pytest.mark.parametrize("limit", ["max_body", "proxy-body-size"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_big_body_the_proxy_refuses_is_read_and_dropped_and_the_413_arrives(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream], framing: str, limit: str
) -> None:
    upstream = start_upstream("echo")
    if limit == "max_body":  # refused while the request is read (request_reader.py)
        proxy = _proxy(make_proxy, upstream, max_body=1000)
    else:  # the route's own limit, refused by the exchange as the body comes (annotated.py)
        limited = ingress(host="shop.example.com", annotations={PREFIX + "proxy-body-size": "1k"})
        proxy = make_proxy(state_of(limited), backends({"web": [upstream.url]}))
    body = b"b" * (4 << 20)  # far more than the socket buffers of both sides hold
    if framing == "chunked":
        head = b"POST /up HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    else:
        head = b"POST /up HTTP/1.1\r\n" + H + b"Content-Length: %d\r\n\r\n" % len(body)
    with connect(proxy.port) as sock:
        sock.sendall(head)
        for at in range(0, len(body), 65536):  # all of it: the proxy reads what it will not use
            sock.sendall(body[at : at + 65536])
        assert _read_answer_then_eof(sock) == 413
    assert upstream.stats.requests == []  # no request of it reached the upstream whole


def test_a_silent_client_is_closed_after_lingering_timeout(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream]
) -> None:
    proxy = _proxy(make_proxy, start_upstream("echo"), lingering_timeout=2.0, **BOUND)
    with connect(proxy.port) as sock:
        assert _refused_head(sock) == 431
        assert _kinds(proxy) == ["lingering"]
        assert _open(proxy) == 1  # counted among the open connections while it lingers
        _wait_closed_by_proxy(proxy)  # the client holds its socket open and sends nothing
        _reset_on_send(sock)
    assert _open(proxy) == 0


def test_lingering_time_bounds_a_client_that_trickles_bytes_forever(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream]
) -> None:
    proxy = _proxy(make_proxy, start_upstream("echo"), lingering_time=2.0, lingering_timeout=WAIT, **BOUND)
    with connect(proxy.port) as sock:
        assert _refused_head(sock) == 431
        assert _kinds(proxy) == ["lingering"]
        poller = select.poll()
        poller.register(sock, 0)
        for _ in range(int(WAIT / 0.02)):
            try:
                sock.send(b"x")  # a byte every 20 ms at most: never lingering_timeout apart
            except (ConnectionResetError, BrokenPipeError):
                break
            if poller.poll(20):  # the reset of a proxy that closed
                break
        else:
            pytest.fail("the proxy kept reading a trickle past lingering_time")
    _wait_closed_by_proxy(proxy)


@pytest.mark.parametrize("off", [{"lingering_time": 0}, {"lingering_timeout": 0}])
def test_lingering_zero_closes_at_once(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream], off: dict[str, float]
) -> None:
    proxy = _proxy(make_proxy, start_upstream("echo"), **BOUND, **off)
    head = b"GET / HTTP/1.1\r\n" + H + LINE * (2 * (2048 + 1024) // len(LINE) + 2)
    with connect(proxy.port) as sock:
        sock.sendall(head)  # in one write, read whole: a close without lingering is no reset here
        assert _read_answer_then_eof(sock) == 431
        assert _kinds(proxy) == []  # closed, not half-closed


def test_a_server_shutdown_closes_lingering_connections_at_once(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream]
) -> None:
    proxy = _proxy(make_proxy, start_upstream("echo"), lingering_time=4 * WAIT, lingering_timeout=2 * WAIT, **BOUND)
    with connect(proxy.port) as sock:
        assert _refused_head(sock) == 431
        assert _kinds(proxy) == ["lingering"]
        # a drain of 4 * WAIT: only closing the lingering connection at once ends it within WAIT
        proxy.loop.run(proxy.server.shutdown(4 * WAIT), timeout=WAIT)
        _reset_on_send(sock)


def test_https_refusals_are_read_whole_then_close_notify(
    tmp_path: Path,
    ca: CertificateAuthority,
    make_proxy: Callable[..., ProxyHarness],
    start_upstream: Callable[[str], TestUpstream],
) -> None:
    ca.secret(tmp_path / "tls", "shop-tls", "shop.example.com")
    store = CertificateStore(tmp_path / "tls")
    state = make_state([route("shop.example.com", "/", "web")])
    settings = ProxySettings(lingering_time=4 * WAIT, lingering_timeout=2 * WAIT, **BOUND)  # type: ignore[arg-type]
    proxy = make_proxy(
        state, backends({"web": [start_upstream("echo").url]}), settings, ssl_context=store.server_context
    )
    context = ssl.create_default_context(cafile=str(ca.path))
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3) * 5:
        context.maximum_version = version
        raw = socket.create_connection((LOOPBACK, proxy.port), timeout=WAIT)
        with context.wrap_socket(raw, server_hostname="shop.example.com", suppress_ragged_eofs=False) as tls:
            # the end after the answer: the proxy's close_notify (a bare TCP end raises SSLEOFError)
            assert _refused_head(tls) == 431
            assert _kinds(proxy) == ["lingering"]
            plain = tls.unwrap()  # our close_notify ends the lingering at once (no timeout is near)
            _wait_closed_by_proxy(proxy)
            plain.close()


def _small_send_buffer(proxy: ProxyHarness) -> None:
    """Shrink the send buffer of the proxy's one connection (once it has one) to a few KiB."""

    def shrink() -> bool:
        for conn in proxy.server.state.connections:
            conn.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        return bool(proxy.server.state.connections)

    for _ in range(10_000):
        if proxy.loop.call(shrink):
            return
    pytest.fail("the proxy never took the connection")


def test_an_early_answer_the_client_reads_none_of_is_cut_off_after_write_timeout(
    make_proxy: Callable[..., ProxyHarness], raw_upstream: Callable[[list[bytes]], str]
) -> None:
    # the upstream answers after the head, before the body; the kernel buffers on both sides are
    # a few KiB, so the proxy ends the exchange with most of the answer still in its own buffer
    # (under its high-water mark) and the body unread: it lingers behind an answer being written
    size = 48 * 1024
    url = raw_upstream([b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size, b"a" * size])
    state = make_state([route("shop.example.com", "/", "web")])
    settings = ProxySettings(write_timeout=0.5, lingering_time=4 * WAIT, lingering_timeout=2 * WAIT)
    proxy = make_proxy(state, backends({"web": [url]}), settings)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: no autotuning
        sock.settimeout(WAIT)
        sock.connect((LOOPBACK, proxy.port))
        _small_send_buffer(proxy)
        sock.sendall(b"POST /up HTTP/1.1\r\n" + H + b"Content-Length: 100000000\r\n\r\n" + b"b" * 1000)
        # it reads nothing: the rest of the answer waits in the proxy, until write_timeout ends it
        _wait_closed_by_proxy(proxy)
