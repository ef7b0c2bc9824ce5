"""What a TLS client the proxy cannot serve is told, over real handshakes with a ``gitops-ingress
proxy`` process (uvloop, as in production). RFC 7301 3.2 and RFC 8446 6.2 want a fatal alert
(``no_application_protocol``, ``protocol_version``); neither arrives today, for the reasons
proxy/tls.py's docstring gives (Python's ssl does not fail an ALPN mismatch; asyncio's and
uvloop's SSL transports drop the alert OpenSSL wrote, CPython gh-98078). The strict xfails turn
into failures the day the runtime sends them, so the docs can be corrected then."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.support.manifests import ingress, to_yaml

from .fixtures_ops import LOOPBACK, WAIT, CertificateAuthority, ProxyProcess, write

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
RUNTIME = "the alert is dropped by asyncio's/uvloop's SSL transport (CPython gh-98078); see proxy/tls.py"


@pytest.fixture(scope="module")
def tls_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("alerts")
    CertificateAuthority(folder / "ca").secret(folder / "tls", "shop-tls", "shop.example.com")
    write(folder / "env" / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "web")))
    args = ["--listen", f"{LOOPBACK}:0", "--tls-listen", f"{LOOPBACK}:0", "--tls-dir", str(folder / "tls")]
    args += ["--ingress-dir", str(folder / "env"), "--backend", f"web:80=http://{LOOPBACK}:9", "--no-access-log"]
    with ProxyProcess(args) as proxy:
        port = urlsplit(proxy.wait_serving().url("https")).port
        assert port is not None
        yield port


def handshake(port: int, context: ssl.SSLContext) -> str:
    """How a handshake ends: the negotiated ALPN protocol, or the client's error."""
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((LOOPBACK, port), timeout=WAIT) as raw,
            context.wrap_socket(raw, server_hostname="shop.example.com") as tls,
        ):
            return f"negotiated {tls.selected_alpn_protocol()}"
    except (ssl.SSLError, OSError) as exc:
        return f"failed: {exc}"


def client(*alpn: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def test_alpn_prefers_h2_and_falls_back_to_http11(tls_port: int) -> None:
    assert handshake(tls_port, client("h2", "http/1.1")) == "negotiated h2"
    assert handshake(tls_port, client("h2")) == "negotiated h2"
    assert handshake(tls_port, client("http/1.1")) == "negotiated http/1.1"
    assert handshake(tls_port, client()) == "negotiated None"  # no ALPN at all: HTTP/1.1 as ever


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="Python's ssl answers an ALPN mismatch with NOACK")
def test_a_client_offering_no_protocol_we_speak_gets_no_application_protocol(tls_port: int) -> None:
    outcome = handshake(tls_port, client("h3"))
    assert "no application protocol" in outcome.lower(), outcome


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
@pytest.mark.xfail(strict=True, raises=AssertionError, reason=RUNTIME)
def test_a_tls11_client_gets_protocol_version(tls_port: int) -> None:
    old = client()
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 will not offer TLS 1.1 at its default level
    outcome = handshake(tls_port, old)
    assert "alert protocol version" in outcome.lower(), outcome
