"""Test parts for the proxy's surroundings: certificates, a proxy in a thread, a stand-in control
plane, and a ``gitops-ingress proxy`` subprocess that reports when it is serving (the shared
harness of tests/support/processes.py). Upstreams come from tests/support/upstreams.py (the
``start_upstream`` fixture of conftest.py).

Everything listens on 127.0.0.1 only. Waits are on events (threading.Event, a line on a pipe)
with timeouts, never on sleeps.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gitops_ingress.proxy.app import ProxyOptions, Worker, serve
from tests.support.processes import Child

LOOPBACK = "127.0.0.1"
WAIT = 30.0  # seconds any single wait may take before the test fails (generous: CI machines are shared)


# --- certificates --------------------------------------------------------------------------------


@dataclass
class CertificateAuthority:
    folder: Path
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    cert: x509.Certificate | None = None

    def __post_init__(self) -> None:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitops-ingress test CA")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    @property
    def path(self) -> Path:
        return self.folder / "ca.pem"

    def issue(self, cert_path: Path, key_path: Path, *names: str) -> int:
        """A leaf for ``names`` (DNS SANs) written as PEM; returns its serial number."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        assert self.cert is not None
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        # write the key first: a reader that sees the new certificate must find its key
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert.serial_number

    def secret(self, tls_dir: Path, secret_name: str, *names: str) -> int:
        """A kubernetes.io/tls-style folder ``tls_dir/secret_name/tls.{crt,key}``."""
        return self.issue(tls_dir / secret_name / "tls.crt", tls_dir / secret_name / "tls.key", *names)


@pytest.fixture(name="ca")
def ca_fixture(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path / "ca")


def peer_serial(port: int, server_name: str | None, ca_path: Path) -> int:
    """Handshake with 127.0.0.1:port sending ``server_name`` as SNI (None: no SNI); the serial
    number of the certificate the server chose."""
    context = ssl.create_default_context(cafile=str(ca_path))
    context.check_hostname = False  # we check which certificate came, not whether it fits
    with (
        socket.create_connection((LOOPBACK, port), timeout=WAIT) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def handshake_outcome(port: int, context: ssl.SSLContext) -> str:
    """How a handshake with 127.0.0.1:port (SNI shop.example.com, no verification) ends: the
    negotiated ALPN protocol, or the client's error, whose text names the alert it read."""
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


# --- the proxy in a thread ------------------------------------------------------------------------


class ProxyThread:
    """``app.serve`` on its own event loop in a thread, for in-process tests of the wiring."""

    def __init__(self, options: ProxyOptions) -> None:
        self.options = options
        self.access = io.StringIO()
        self.worker: Worker | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(WAIT), "proxy did not start"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "proxy did not stop"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()

        def ready(worker: Worker) -> None:
            self.worker = worker
            self._ready.set()

        await serve(self.options, self._stop, on_ready=ready, access_stream=self.access)

    def url(self, kind: str = "http") -> str:
        assert self.worker is not None
        for url in self.worker.urls:
            if url.startswith(kind + "://") and not url.endswith("(admin)"):
                return url
        raise AssertionError(f"no {kind} listener in {self.worker.urls}")

    @property
    def admin_url(self) -> str:
        assert self.worker is not None
        return next(u.split(" ")[0] for u in self.worker.urls if u.endswith("(admin)"))

    def call(self, fn, *args):  # type: ignore[no-untyped-def]
        """Run ``fn(*args)`` on the proxy's loop and return its result (bounded wait)."""
        return asyncio.run_coroutine_threadsafe(_call(fn, *args), self._loop).result(WAIT)


async def _call(fn, *args):  # type: ignore[no-untyped-def]
    return fn(*args)


# --- the proxy as a subprocess --------------------------------------------------------------------

PROXY_COMMAND = [sys.executable, "-m", "gitops_ingress", "proxy"]
SERVING = re.compile(r"worker (\d+) serving (.+)$")


class ProxyProcess(Child):
    """``gitops-ingress proxy ...`` as a child process (the shared harness, with its stdout: the
    access log); ``wait_serving`` waits for each worker's "serving" line."""

    def __init__(self, args: list[str], workers: int = 1, cwd: Path | None = None) -> None:
        super().__init__(["proxy", *args], wait=WAIT, cwd=cwd, keep_stdout=True)
        self.workers: dict[int, list[str]] = {}
        self.expected = workers

    def wait_serving(self) -> ProxyProcess:
        deadline = time.monotonic() + WAIT
        while len(self.workers) < self.expected:
            match = self.expect(SERVING.pattern, wait=deadline - time.monotonic())
            self.workers[int(match.group(1))] = match.group(2).split(", ")
        return self

    def wait_stderr(self, pattern: str) -> str:
        """The next stderr line matching ``pattern``."""
        return self.expect(pattern).string

    def url(self, kind: str = "http") -> str:
        urls = next(iter(self.workers.values()))
        return next(u for u in urls if u.startswith(kind + "://") and not u.endswith("(admin)"))

    @property
    def admin_url(self) -> str:
        urls = next(iter(self.workers.values()))
        return next(u.split(" ")[0] for u in urls if u.endswith("(admin)"))


def in_background(fn: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[object]]:
    """Run a blocking request in a thread; its response or its httpx error lands in the list."""
    result: list[object] = []

    def run() -> None:
        try:
            result.append(fn())
        except httpx.HTTPError as exc:
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- a stand-in control plane ---------------------------------------------------------------------


class FakeControlPlane:
    """Serves ``GET /api/v1/proxy/stream`` on 127.0.0.1 as chunked NDJSON, one line per item put
    in ``lines`` (a ``None`` item closes the connection). ``statuses`` answers the first
    connections with other statuses (e.g. ``[503]``). Runs on the caller's event loop."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.lines: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.statuses = list(statuses or [])
        self.connections = 0
        self.connected = asyncio.Event()
        self.paths: list[str] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, LOOPBACK, 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{LOOPBACK}:{self._server.sockets[0].getsockname()[1]}"

    def send(self, message: dict[str, object] | bytes | None) -> None:
        if isinstance(message, dict):
            message = json.dumps(message).encode()
        self.lines.put_nowait(message)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.paths.append(head.split(b" ")[1].decode())
            self.connections += 1
            if self.statuses:
                status = self.statuses.pop(0)
                writer.write(f"HTTP/1.1 {status} Nope\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
            self.connected.set()
            while True:
                line = await self.lines.get()
                if line is None:
                    return
                data = line + b"\n"
                writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
