"""TLS with ``--workers N``, the real ``gitops-ingress proxy`` process: a session ticket from one
worker resumes on every worker, before and after a certificate renewal, and a renewed default
certificate reaches clients without SNI."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, CertificateAuthority, ProxyProcess, ca_fixture, peer_serial  # noqa: F401
from .test_workers import proxy_args

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

WORKERS = 2
CONNECTIONS = 20  # with a ticket key per worker about half of them would do a full handshake
RELOADED = re.escape("tls: reloaded")


@contextlib.contextmanager
def tls_proxy(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream], ca: CertificateAuthority
) -> Iterator[tuple[ProxyProcess, int]]:
    """The proxy with ``WORKERS`` workers, serving; its HTTPS port."""
    ca.secret(tmp_path / "tls", "default", "default.example.com")
    # not the default: its handshakes switch context by SNI, and tickets must still open everywhere
    ca.secret(tmp_path / "tls", "shop-example-com-tls", "shop.example.com")
    tls_args = ["--workers", str(WORKERS), "--tls-dir", str(tmp_path / "tls"), "--tls-listen", f"{LOOPBACK}:0"]
    with ProxyProcess(proxy_args(tmp_path, start_upstream("echo"), *tls_args), workers=WORKERS) as proxy:
        proxy.wait_serving()
        port = urlsplit(proxy.url("https")).port
        assert port is not None
        yield proxy, port
        assert proxy.stop(signal.SIGTERM) == 0


def renew(proxy: ProxyProcess, ca: CertificateAuthority, folder: Path, name: str) -> int:
    """A new certificate for ``folder/name`` (same names), once every worker has swapped it in."""
    serial = ca.secret(folder.parent, folder.name, name)
    for _ in range(WORKERS):  # each worker watches the folder and says when it swapped
        proxy.expect(RELOADED)
    return serial


def request(
    port: int, context: ssl.SSLContext, path: str, session: ssl.SSLSession | None
) -> tuple[ssl.SSLSession, bool]:
    """One HTTPS request on a new connection offering ``session``; the session it ends with (a
    TLS 1.3 ticket arrives after the handshake, so it is read after the answer) and whether the
    handshake resumed."""
    with (
        socket.create_connection((LOOPBACK, port), timeout=WAIT) as raw,
        context.wrap_socket(raw, server_hostname="shop.example.com", session=session) as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        assert tls.session is not None
        return tls.session, tls.session_reused


def resumes(proxy: ProxyProcess, port: int, context: ssl.SSLContext, session: ssl.SSLSession, stage: str) -> None:
    """``CONNECTIONS`` new connections offering ``session`` all resume, and every worker had some."""
    reused_by_path = {}
    for index in range(CONNECTIONS):
        _, reused_by_path[f"/{stage}{index}"] = request(port, context, f"/{stage}{index}", session)
    served_by: dict[str, int] = {}
    while len(served_by) < CONNECTIONS:
        record = json.loads(proxy.expect(r"^\{", stdout=True).string)  # the next access log line
        if record["target"].startswith(f"/{stage}"):
            served_by[record["target"]] = record["pid"]
    assert set(served_by.values()) == set(proxy.workers), f"not every worker was reached: {served_by}"
    refused = {path: served_by[path] for path, reused in reused_by_path.items() if not reused}
    assert not refused, f"{stage} the renewal, the ticket did not resume on: {refused}"


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["TLSv1.2", "TLSv1.3"])
def test_a_session_ticket_resumes_on_every_worker(
    tmp_path: Path, ca: CertificateAuthority, start_upstream: Callable[[str], TestUpstream], version: ssl.TLSVersion
) -> None:
    with tls_proxy(tmp_path, start_upstream, ca) as (proxy, port):
        context = ssl.create_default_context(cafile=str(ca.path))
        context.minimum_version = context.maximum_version = version
        session, reused = request(port, context, "/full", None)
        assert not reused
        assert session.has_ticket, "the proxy issued no session ticket"
        resumes(proxy, port, context, session, "before")
        renew(proxy, ca, tmp_path / "tls" / "shop-example-com-tls", "shop.example.com")
        resumes(proxy, port, context, session, "after")  # a reload keeps the ticket keys


def test_clients_without_sni_get_the_renewed_default_certificate(
    tmp_path: Path, ca: CertificateAuthority, start_upstream: Callable[[str], TestUpstream]
) -> None:
    with tls_proxy(tmp_path, start_upstream, ca) as (proxy, port):
        before = peer_serial(port, None, ca.path)
        renewed = renew(proxy, ca, tmp_path / "tls" / "default", "default.example.com")
        assert renewed != before
        for _ in range(CONNECTIONS):  # new connections, spread over both workers by the kernel
            assert peer_serial(port, None, ca.path) == renewed
