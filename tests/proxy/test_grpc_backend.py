"""gRPC backends (grpcio servers) behind the proxy, reached by HTTP/1.1 clients speaking gRPC's
framing: the h2c upstream side of gRPC, trailers to HTTP/1.1 (``TE: trailers``), and the
proxy's own statuses (UNAVAILABLE, DEADLINE_EXCEEDED) as trailers-only responses."""

from __future__ import annotations

import socket
import struct

import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends, make_state, route
from tests.support.grpc_servers import SERVICE, EchoServer
from tests.support.upstreams import refused_port


@pytest.fixture
def grpc_proxy(make_proxy):
    def make(url: str, **changes):
        state = make_state([route("grpc.example.com", "/", "api")])
        settings = ProxySettings(connect_timeout=5, read_timeout=5).with_changes(**changes)
        return make_proxy(state, backends({"api": [url]}), settings)

    return make


def frame(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


def call(port: int, method: str, body: bytes, extra: bytes = b"") -> tuple[bytes, list[bytes], dict[bytes, bytes]]:
    """One gRPC call over HTTP/1.1: (head, messages, trailers)."""
    request = (
        b"POST /%s/%s HTTP/1.1\r\nHost: grpc.example.com\r\nContent-Type: application/grpc\r\nTE: trailers\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n%b\r\n%b"
    ) % (SERVICE.encode(), method.encode(), len(body), extra, body)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    fields = dict(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
    )
    data = b""
    trailers = {k: v for k, v in fields.items() if k.startswith(b"grpc-") or k.endswith(b"-bin")}  # trailers-only
    if fields.get(b"transfer-encoding") == b"chunked":
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                for line in rest.split(b"\r\n"):
                    if line:
                        name, _, value = line.partition(b":")
                        trailers[name.strip().lower()] = value.strip()
                break
            data, rest = data + rest[:size], rest[size + 2 :]
    else:
        data = rest
    messages = []
    while data:
        (length,) = struct.unpack(">I", data[1:5])
        messages.append(data[5 : 5 + length])
        data = data[5 + length :]
    return head, messages, trailers


def test_unary_call_with_trailers_and_binary_metadata(grpc_proxy, grpc_server) -> None:
    proxy = grpc_proxy(f"grpc://127.0.0.1:{grpc_server.port}")
    head, messages, trailers = call(proxy.port, "Unary", frame(b"ping"), b"x-tag: a\r\nx-tag-bin: AAE=\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert messages == [b"ping"]
    assert trailers[b"grpc-status"] == b"0"
    assert trailers[b"x-tag"] == b"a" and trailers[b"x-tag-bin"] == b"AAE"  # -bin, as grpcio wrote it (unpadded)


def test_server_and_client_streaming(grpc_proxy, grpc_server) -> None:
    proxy = grpc_proxy(f"grpc://127.0.0.1:{grpc_server.port}")
    _, messages, trailers = call(proxy.port, "ServerStream", frame(b"\x03ab"))
    assert messages == [b"\x03ab"] * 3 and trailers[b"grpc-status"] == b"0"
    _, messages, trailers = call(proxy.port, "ClientStream", frame(b"one") + frame(b"two") + frame(b"three"))
    assert messages == [b"onetwothree"] and trailers[b"grpc-status"] == b"0"


def test_error_status_message_and_binary_trailer_pass_through(grpc_proxy, grpc_server) -> None:
    proxy = grpc_proxy(f"grpc://127.0.0.1:{grpc_server.port}")
    _, messages, trailers = call(proxy.port, "Fail", frame(b""))
    assert messages == []
    assert trailers[b"grpc-status"] == b"5" and trailers[b"grpc-message"] == b"no such thing"
    assert trailers[b"detail-bin"] == b"/wA"  # base64 of ff00, unpadded as grpcio writes it


def test_unreachable_backend_is_unavailable_for_grpc(grpc_proxy) -> None:
    proxy = grpc_proxy(f"grpc://127.0.0.1:{refused_port()}")
    head, messages, trailers = call(proxy.port, "Unary", frame(b"ping"))
    assert head.startswith(b"HTTP/1.1 200") and messages == [], head
    assert trailers[b"grpc-status"] == b"14"


def test_grpc_timeout_ends_the_upstream_call_with_deadline_exceeded(grpc_proxy, start_h2) -> None:
    """The proxy's own deadline. Not a grpcio server: it ends the call at the same grpc-timeout
    itself, and whichever of the two timers fired first decided the test (a loaded CI machine
    let grpcio's win). This upstream never answers and never gives up."""
    upstream = start_h2("hold")
    proxy = grpc_proxy(upstream.url("grpc"), read_timeout=60)  # past call()'s 10 s: only the deadline ends it
    _, _, trailers = call(proxy.port, "Slow", frame(b""), b"grpc-timeout: 300m\r\n")
    assert trailers[b"grpc-status"] == b"4"
    assert "timeout" in proxy.observer.errors
    assert upstream.reset_seen.wait(5) and upstream.resets == [1]  # the proxy ended the upstream stream


def test_grpcs_backend_over_tls_with_alpn_h2(grpc_proxy, tmp_path, monkeypatch) -> None:
    import grpc

    from tests.proxy.fixtures_ops import CertificateAuthority

    ca = CertificateAuthority(tmp_path / "ca")
    ca.issue(tmp_path / "tls.crt", tmp_path / "tls.key", "localhost")
    credentials = grpc.ssl_server_credentials(
        [((tmp_path / "tls.key").read_bytes(), (tmp_path / "tls.crt").read_bytes())]
    )
    server = EchoServer(credentials)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.path))  # the proxy verifies backends against this CA
    try:
        proxy = grpc_proxy(f"grpcs://localhost:{server.port}")
        _, messages, trailers = call(proxy.port, "Unary", frame(b"secret"))
        assert messages == [b"secret"] and trailers[b"grpc-status"] == b"0"
    finally:
        server.stop()
