"""What a TLS client the proxy cannot serve is told, over real handshakes with a ``gitops-ingress
proxy`` process (uvloop, as in production): RFC 7301 3.2 and RFC 8446 6.2 want a fatal alert
(``no_application_protocol``, ``protocol_version``), which proxy/tlsalerts.py makes reach the
client despite Python's ssl (no ALPN failure) and the event loops' SSL transports (CPython
gh-98078). Both Python's ssl and ``openssl s_client`` are asked, since each reports the alert it
read in its own words. And what a client that can be served keeps: its session, resumed by a
ticket (TLS 1.2 and 1.3) or by session ID (TLS 1.2)."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.support.manifests import ingress, to_yaml

from .fixtures_ops import LOOPBACK, WAIT, CertificateAuthority, ProxyProcess, write
from .fixtures_ops import handshake_outcome as handshake

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


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


def test_a_client_offering_no_protocol_we_speak_gets_no_application_protocol(tls_port: int) -> None:
    outcome = handshake(tls_port, client("h3"))
    assert "no application protocol" in outcome.lower(), outcome
    outcome = handshake(tls_port, client("h3", "spdy/3"))
    assert "no application protocol" in outcome.lower(), outcome
    # the connection after it is served as ever: the failure is that connection's alone
    assert handshake(tls_port, client("http/1.1")) == "negotiated http/1.1"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_a_tls11_client_gets_protocol_version(tls_port: int) -> None:
    old = client()
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 will not offer TLS 1.1 at its default level
    outcome = handshake(tls_port, old)
    assert "alert protocol version" in outcome.lower(), outcome


def s_client(port: int, *options: str) -> str:
    """What ``openssl s_client`` prints (both streams) for one handshake that sends nothing after."""
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", "-servername", "shop.example.com", *options],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    return (done.stdout + done.stderr).decode(errors="replace")  # h2's SETTINGS frame is binary


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_openssl_s_client_reads_no_application_protocol(tls_port: int, version: str) -> None:
    printed = s_client(tls_port, version, "-alpn", "h3")
    assert "alert no application protocol" in printed, printed
    assert "ALPN protocol: h2" in s_client(tls_port, version, "-alpn", "h2"), "h2 alone is served"


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_openssl_s_client_below_tls12_reads_protocol_version(tls_port: int, version: str) -> None:
    printed = s_client(tls_port, version, "-cipher", "DEFAULT:@SECLEVEL=0")
    assert "alert protocol version" in printed, printed


def resumes(port: int, version: ssl.TLSVersion, *, tickets: bool) -> tuple[bool, bool]:
    """Two connections, the second offering the first's session: (first resumed, second resumed).
    Without ``tickets`` the client refuses TLS 1.2 session tickets, so only the server's session
    ID cache can resume it."""
    context = client()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.minimum_version = context.maximum_version = version
    if not tickets:
        context.options |= ssl.OP_NO_TICKET
    session = None
    reused: list[bool] = []
    for _ in range(2):
        with (
            socket.create_connection((LOOPBACK, port), timeout=WAIT) as raw,
            context.wrap_socket(raw, server_hostname="shop.example.com", session=session) as tls,
        ):
            tls.sendall(b"GET / HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n")
            while tls.recv(65536):  # the answer, and with TLS 1.3 the session ticket before it
                pass
            reused.append(tls.session_reused)
            session = tls.session
    return reused[0], reused[1]


@pytest.mark.parametrize(
    ("version", "tickets"),
    [(ssl.TLSVersion.TLSv1_2, True), (ssl.TLSVersion.TLSv1_2, False), (ssl.TLSVersion.TLSv1_3, True)],
    ids=["tls1.2-ticket", "tls1.2-session-id", "tls1.3-ticket"],
)
def test_sessions_resume_by_ticket_and_by_session_id(tls_port: int, version: ssl.TLSVersion, tickets: bool) -> None:
    assert resumes(tls_port, version, tickets=tickets) == (False, True)
