"""The proxy's TLS record layer (proxy/tlsconn.py) over real sockets: records and handshakes cut
anywhere, clients that leave mid-handshake, close_notify both ways, a slow reader, large bodies
both ways, and renegotiation refused."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitops_ingress.proxy.tls import CertificateStore
from tests.proxy.conftest import ProxyHarness, backends, make_state, route
from tests.proxy.rawclient import read_responses
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, CertificateAuthority, ca_fixture  # noqa: F401

pytestmark = pytest.mark.timeout(60)
H = b"Host: shop.example.com\r\n"


@pytest.fixture
def tls_proxy(
    tmp_path: Path,
    ca: CertificateAuthority,
    make_proxy: Callable[..., ProxyHarness],
    start_upstream: Callable[[str], TestUpstream],
) -> tuple[ProxyHarness, TestUpstream]:
    ca.secret(tmp_path / "tls", "shop-tls", "shop.example.com")
    store = CertificateStore(tmp_path / "tls")
    upstream = start_upstream("echo")
    state = make_state([route("shop.example.com", "/", "web")])
    return make_proxy(state, backends({"web": [upstream.url]}), ssl_context=store.server_context), upstream


@pytest.fixture
def client_context(ca: CertificateAuthority) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca.path))


@pytest.fixture
def tls_socket(
    tls_proxy: tuple[ProxyHarness, TestUpstream], client_context: ssl.SSLContext
) -> Iterator[Callable[[], ssl.SSLSocket]]:
    opened: list[socket.socket] = []

    def connect() -> ssl.SSLSocket:
        raw = socket.create_connection((LOOPBACK, tls_proxy[0].port), timeout=WAIT)
        opened.append(raw)
        tls = client_context.wrap_socket(raw, server_hostname="shop.example.com", suppress_ragged_eofs=False)
        opened.append(tls)
        return tls

    yield connect
    for sock in opened:
        sock.close()


class ClientInMemory:
    """A TLS client over memory BIOs, so that a test decides how its bytes are cut on the wire."""

    def __init__(self, context: ssl.SSLContext, port: int) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="shop.example.com")
        self.sock = socket.create_connection((LOOPBACK, port), timeout=WAIT)

    def send_in_pieces(self, size: int) -> None:
        data = self.outgoing.read()
        for at in range(0, len(data), size):
            self.sock.sendall(data[at : at + size])

    def handshake(self, piece: int) -> None:
        for _ in range(20):
            try:
                self.tls.do_handshake()
                self.send_in_pieces(piece)
                return
            except ssl.SSLWantReadError:
                self.send_in_pieces(piece)
                self.incoming.write(self.sock.recv(65536))
        raise AssertionError("no handshake in 20 flights")

    def read_plaintext(self) -> bytes:
        """What arrives until the server closes."""
        plain = b""
        while data := self.sock.recv(65536):
            self.incoming.write(data)
            try:
                while chunk := self.tls.read(65536):
                    plain += chunk
            except ssl.SSLWantReadError:
                continue
            except ssl.SSLZeroReturnError:
                break
        return plain


@pytest.mark.parametrize("piece", [1, 7, 1000])
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_handshake_and_records_cut_into_pieces_are_put_together(
    tls_proxy: tuple[ProxyHarness, TestUpstream], client_context: ssl.SSLContext, piece: int, version: ssl.TLSVersion
) -> None:
    # TLS 1.2: the client's handshake ends after the server's, so the request's records arrive
    # at an open connection in pieces (in TLS 1.3 they may come along with the client's Finished)
    client_context.maximum_version = version
    client = ClientInMemory(client_context, tls_proxy[0].port)
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # every piece a segment of its own
    with client.sock:
        client.handshake(piece)
        client.tls.write(b"GET /cut HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        client.send_in_pieces(piece)
        answer = client.read_plaintext()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["path"] == "/cut"


@pytest.mark.parametrize("cut", ["before the hello ends", "after the hello"])
def test_a_client_leaving_mid_handshake_is_closed_and_the_next_one_served(
    tls_proxy: tuple[ProxyHarness, TestUpstream],
    client_context: ssl.SSLContext,
    tls_socket: Callable[[], ssl.SSLSocket],
    cut: str,
) -> None:
    client = ClientInMemory(client_context, tls_proxy[0].port)
    with client.sock:
        with pytest.raises(ssl.SSLWantReadError):
            client.tls.do_handshake()
        hello = client.outgoing.read()
        client.sock.sendall(hello[: len(hello) // 2] if cut == "before the hello ends" else hello)
        client.sock.shutdown(socket.SHUT_WR)
        while client.sock.recv(65536):  # the server's flight, if any, then its close
            pass
    with tls_socket() as tls:
        tls.sendall(b"GET /next HTTP/1.1\r\n" + H + b"\r\n")
        (response,) = read_responses(tls)
    assert response.status == 200


def test_the_proxy_closes_with_close_notify(tls_socket: Callable[[], ssl.SSLSocket]) -> None:
    with tls_socket() as tls:
        tls.sendall(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        (response,) = read_responses(tls)  # reads to the end: an EOF without close_notify raises
        assert response.status == 200
        assert tls.recv(100) == b""  # suppress_ragged_eofs=False: a bare TCP close would raise SSLEOFError


def test_a_clients_close_notify_is_answered_with_one(tls_socket: Callable[[], ssl.SSLSocket]) -> None:
    with tls_socket() as tls:
        tls.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        (response,) = read_responses(tls)
        assert response.status == 200
        plain = tls.unwrap()  # sends close_notify and waits for the proxy's
        assert plain.recv(100) == b""


def test_a_slow_reader_holds_the_upstream_back(
    tls_proxy: tuple[ProxyHarness, TestUpstream], tls_socket: Callable[[], ssl.SSLSocket]
) -> None:
    proxy, upstream = tls_proxy
    with tls_socket() as tls:  # reading 20 MB of the 100 MB resumes the upstream
        proxy.assert_slow_reader_holds_back(upstream, tls, size=100_000_000, read=20_000_000)


def read_whole(tls: ssl.SSLSocket) -> tuple[bytes, bytes]:
    """One response with a Content-Length body: its head and its body (a bytearray, not the
    test client's bytes concatenation, so that 10 MiB arrive in linear time)."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        data += tls.recv(1 << 16)
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1]
    )
    body = bytearray(rest)
    while len(body) < length:
        chunk = tls.recv(1 << 20)
        assert chunk
        body += chunk
    return head, bytes(body)


def test_ten_mib_go_up_and_come_back_whole(tls_socket: Callable[[], ssl.SSLSocket]) -> None:
    body = b"0123456789abcdef" * (10 * 1024 * 1024 // 16)  # JSON keeps these as they are
    with tls_socket() as tls:
        tls.sendall(b"POST /up HTTP/1.1\r\n" + H + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        head, answer = read_whole(tls)
        assert head.startswith(b"HTTP/1.1 200 ")
        seen = json.loads(answer)
        assert seen["body_len"] == len(body)
        assert seen["body"].encode("latin-1") == body  # and back: the echo's answer holds the body
        tls.sendall(b"GET /big?size=%d HTTP/1.1\r\n" % len(body) + H + b"\r\n")
        head, answer = read_whole(tls)
        assert head.startswith(b"HTTP/1.1 200 ") and len(answer) == len(body)


def test_renegotiation_is_refused(tls_proxy: tuple[ProxyHarness, TestUpstream]) -> None:
    # s_client's "R" line asks for a TLS 1.2 renegotiation; the request after it shows whether the
    # connection still works (it must not, or must without a second handshake)
    run = subprocess.run(
        ["openssl", "s_client", "-connect", f"{LOOPBACK}:{tls_proxy[0].port}", "-tls1_2", "-servername",
         "shop.example.com", "-no_ign_eof"],
        input=b"R\nGET / HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n",
        capture_output=True, timeout=WAIT,
    )  # fmt: skip
    out = (run.stdout + run.stderr).decode(errors="replace")
    assert "RENEGOTIATING" in out
    assert "no renegotiation" in out
