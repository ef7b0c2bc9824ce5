"""proxy/tlsalerts.py on its own: the ClientHello's ALPN list read from a real client's bytes
(tests/proxy/test_tls_alerts.py has the alerts reaching clients through the proxy's record layer)."""

from __future__ import annotations

import ssl

import pytest

from gitops_ingress.proxy.tlsalerts import offered_alpn


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
