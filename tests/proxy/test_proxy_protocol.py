"""The PROXY protocol on a listener, over raw sockets: v1 text and v2 binary headers name the
client, whom trusted_proxies then judges; anything else closes the connection unanswered
(proxy/proxyheader.py)."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import struct
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gitops_ingress.core.settings import Settings
from gitops_ingress.proxy.app import ProxyOptions
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.proxyheader import MAX_V2_PAYLOAD, V2_SIGNATURE
from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import connect, read_responses
from tests.support.manifests import ingress, to_yaml

from .fixtures_ops import LOOPBACK, WAIT, CertificateAuthority, ProxyThread, ca_fixture, write  # noqa: F401

GET = b"GET /who HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"


def v2(source: str, destination: str, *, local: bool = False, tlvs: bytes = b"") -> bytes:
    src, dst = ipaddress.ip_address(source), ipaddress.ip_address(destination)
    family = 0x11 if src.version == 4 else 0x21
    payload = src.packed + dst.packed + struct.pack("!HH", 56324, 80) + tlvs
    return V2_SIGNATURE + bytes([0x20 if local else 0x21, family]) + struct.pack("!H", len(payload)) + payload


@pytest.fixture
def behind_balancer(make_proxy, start_upstream):
    def make(**settings: object):
        upstream = start_upstream("echo")
        records: list[tuple[object, ...]] = []  # AccessRecord tuples (proxy/accesslog.py)
        proxy = make_proxy(
            make_state([route("shop.example.com", "/", "web")]),
            backends({"web": [upstream.url]}),
            ProxySettings(access_log=True, **settings),  # type: ignore[arg-type]
            records.append,
            proxy_protocol=True,
        )
        return proxy, upstream, records

    return make


def ask(port: int, *pieces: bytes) -> dict[str, str]:
    with connect(port) as sock:
        for piece in pieces:
            sock.sendall(piece)
        (response,) = read_responses(sock)
    assert response.status == 200
    return {name.lower(): value for name, value in json.loads(response.body)["headers"]}


@pytest.mark.parametrize(
    ("header", "client"),
    [
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 56324 80\r\n", "203.0.113.7"),
        (b"PROXY TCP6 2001:db8::7 2001:db8::1 56324 80\r\n", "2001:db8::7"),
        (v2("203.0.113.7", "10.0.0.1"), "203.0.113.7"),
        (v2("2001:db8::7", "2001:db8::1"), "2001:db8::7"),
        (v2("203.0.113.7", "10.0.0.1", tlvs=b"\x01\x00\x02h2" + b"\x04\x00\x05vpc-1"), "203.0.113.7"),  # ALPN, NOOP
        (b"PROXY UNKNOWN\r\n", LOOPBACK),  # the balancer's own health check: the TCP peer stays
        (v2("203.0.113.7", "10.0.0.1", local=True), LOOPBACK),
    ],
    ids=["v1-ipv4", "v1-ipv6", "v2-ipv4", "v2-ipv6", "v2-tlvs-ignored", "v1-unknown", "v2-local"],
)
def test_the_header_names_the_client(behind_balancer, header: bytes, client: str) -> None:
    proxy, _, records = behind_balancer()
    headers = ask(proxy.port, header + GET)
    assert (headers["x-forwarded-for"], headers["x-real-ip"]) == (client, client)
    proxy.loop.call(lambda: None)
    assert records[-1][0] == client.encode()  # the client address comes first


@pytest.mark.parametrize("header", [b"PROXY TCP4 203.0.113.7 10.0.0.1 56324 80\r\n", v2("203.0.113.7", "10.0.0.1")])
def test_a_header_in_pieces_and_the_request_after_it(behind_balancer, header: bytes) -> None:
    proxy, _, _ = behind_balancer()
    headers = ask(proxy.port, *[header[i : i + 1] for i in range(len(header))], GET[:5], GET[5:])
    assert headers["x-forwarded-for"] == "203.0.113.7"


def test_trusted_proxies_judge_the_address_the_header_names(behind_balancer) -> None:
    proxy, _, _ = behind_balancer(trusted_proxies=("203.0.113.0/24",))
    chained = b"GET /who HTTP/1.1\r\nHost: shop.example.com\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n"
    trusted = ask(proxy.port, b"PROXY TCP4 203.0.113.7 10.0.0.1 1 80\r\n" + chained)
    assert (trusted["x-forwarded-for"], trusted["x-real-ip"]) == ("198.51.100.1, 203.0.113.7", "198.51.100.1")
    stranger = ask(proxy.port, b"PROXY TCP4 192.0.2.9 10.0.0.1 1 80\r\n" + chained)
    assert (stranger["x-forwarded-for"], stranger["x-real-ip"]) == ("192.0.2.9", "192.0.2.9")


@pytest.mark.parametrize(
    "opening",
    [
        GET,  # no header at all
        b"PROXY TCP4 203.0.113.7\r\n" + GET,  # too few fields
        b"PROXY TCP4 2001:db8::7 10.0.0.1 1 80\r\n" + GET,  # the family does not fit
        b"PROXY TCP4 203.0.113.7 10.0.0.1 1 99999\r\n" + GET,
        b"PROXY TCP4 203.0.113.7 10.0.0.1 1 80\n" + GET,  # LF alone
        b"PROXY " + b"x" * 120,  # no CRLF within 107 bytes
        V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", MAX_V2_PAYLOAD + 1) + b"\x00" * 64,
        V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\x00" * 12 + GET,  # version 3
        V2_SIGNATURE[:8] + b"XXXX" + GET,
    ],
    ids=["none", "short-v1", "family", "port", "lf", "long-v1", "long-v2", "v2-version", "v2-signature"],
)
def test_a_connection_without_a_valid_header_is_closed_unanswered(behind_balancer, opening: bytes) -> None:
    proxy, upstream, _ = behind_balancer()
    with connect(proxy.port) as sock:
        sock.sendall(opening)
        assert closed_unanswered(sock)
    assert not upstream.stats.requests


def closed_unanswered(sock: socket.socket) -> bool:
    """The proxy closed without a byte: an end of file, or a reset (closing a socket that still
    holds unread bytes sends one)."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_a_header_that_never_ends_is_cut_at_the_header_timeout(behind_balancer) -> None:
    proxy, _, _ = behind_balancer(header_timeout=0.3)
    with connect(proxy.port, timeout=WAIT) as sock:
        sock.sendall(b"PROXY TCP4 ")
        assert closed_unanswered(sock)  # by the proxy, well before the socket's timeout


def test_a_tls_listener_reads_the_header_before_the_handshake(
    tmp_path: Path, ca: CertificateAuthority, start_upstream
) -> None:
    upstream = start_upstream("echo")
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    ca.secret(tmp_path / "tls", "shop-example-com-tls", "shop.example.com")
    options = ProxyOptions(
        listen=(LOOPBACK, 0),
        tls_listen=(LOOPBACK, 0),
        tls_dir=str(tmp_path / "tls"),
        proxy=ProxySettings(access_log=False, proxy_protocol=("tls",)),
        settings=Settings(),
        ingress_dirs=(str(env),),
        backends=(f"storefront:80={upstream.url}",),
    )
    with ProxyThread(options) as proxy:
        port = urlsplit(proxy.url("https")).port
        assert port is not None
        context = ssl.create_default_context(cafile=str(ca.path))
        with socket.create_connection((LOOPBACK, port), timeout=WAIT) as raw:
            raw.sendall(v2("203.0.113.7", "10.0.0.1"))
            with context.wrap_socket(raw, server_hostname="shop.example.com") as sock:
                sock.sendall(GET)
                (response,) = read_responses(sock)  # type: ignore[arg-type]
        headers = {k.lower(): v for k, v in json.loads(response.body)["headers"]}
        assert (headers["x-forwarded-for"], headers["x-forwarded-proto"]) == ("203.0.113.7", "https")
        plain = urlsplit(proxy.url()).port  # the plain listener was not asked to expect a header
        assert plain is not None
        with connect(plain) as sock:
            sock.sendall(GET)
            assert read_responses(sock)[0].status == 200
