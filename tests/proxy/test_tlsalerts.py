"""proxy/tlsalerts.py on its own: the ClientHello's ALPN list read from a real client's bytes, and
the alerts reaching a client through asyncio's own SSL transport (tests/proxy/test_tls_alerts.py
covers uvloop's, in a proxy process)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from gitops_ingress.proxy.tls import CertificateStore
from gitops_ingress.proxy.tlsalerts import offered_alpn

from .fixtures_ops import LOOPBACK, CertificateAuthority, ca_fixture, handshake_outcome  # noqa: F401


def client_hello(*alpn: str) -> bytes:
    """The first flight of Python's own TLS client: the ClientHello records."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if alpn:
        context.set_alpn_protocols(list(alpn))
    outgoing = ssl.MemoryBIO()
    sslobj = context.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="shop.example.com")
    with pytest.raises(ssl.SSLWantReadError):
        sslobj.do_handshake()
    return outgoing.read()


def test_the_alpn_list_is_read_from_a_real_client_hello() -> None:
    assert offered_alpn(client_hello("h3", "spdy/3")) == (b"h3", b"spdy/3")
    assert offered_alpn(client_hello("h2", "http/1.1")) == (b"h2", b"http/1.1")
    assert offered_alpn(client_hello()) is None


def test_a_client_hello_in_pieces_or_not_one_at_all_is_left_to_openssl() -> None:
    hello = client_hello("h3")
    assert offered_alpn(hello[:5]) is None
    assert offered_alpn(hello[:60]) is None
    assert offered_alpn(b"GET / HTTP/1.1\r\n\r\n") is None
    # one ClientHello split over two handshake records, as RFC 8446 section 5.1 allows
    body = hello[5:]
    split = b"".join(b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part for part in (body[:50], body[50:]))
    assert offered_alpn(split) == (b"h3",)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_asyncios_own_transport_sends_the_alerts(ca: CertificateAuthority, tmp_path: Path) -> None:
    ca.secret(tmp_path, "shop-tls", "shop.example.com")
    store = CertificateStore(tmp_path)
    h3 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    h3.set_alpn_protocols(["h3"])
    h11 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    h11.set_alpn_protocols(["http/1.1"])
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")

    async def scenario() -> list[str]:
        server = await asyncio.get_running_loop().create_server(asyncio.Protocol, LOOPBACK, 0, ssl=store.server_context)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return [await asyncio.to_thread(handshake_outcome, port, each) for each in (h3, old, h11)]

    refused, too_old, served = asyncio.run(scenario())
    assert "no application protocol" in refused.lower(), refused
    assert "alert protocol version" in too_old.lower(), too_old
    assert served == "negotiated http/1.1"
