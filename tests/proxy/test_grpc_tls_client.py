"""gRPC over TLS from the client: a grpcio ``secure_channel`` that trusts the test CA, the
proxy's TLS listener (HTTP/2 by ALPN, the certificate chosen by SNI), a grpcio server behind
it over h2c. All four call kinds, and an error status with its message and binary details.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.tls import CertificateStore
from tests.support.grpc_servers import EchoServer

from .conftest import ProxyHarness, backends, make_state, route
from .fixtures_ops import CertificateAuthority, ca_fixture  # noqa: F401
from .test_grpc import HOST, method

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def tls_port(
    tmp_path: Path, ca: CertificateAuthority, make_proxy: Callable[..., ProxyHarness], grpc_server: EchoServer
) -> int:
    """The proxy's TLS listener, with a certificate for HOST from the test CA."""
    ca.secret(tmp_path / "tls", "grpc-tls", HOST)
    store = CertificateStore(tmp_path / "tls")
    proxy = make_proxy(
        make_state([route(HOST, "/", "api")]),
        backends({"api": [f"grpc://127.0.0.1:{grpc_server.port}"]}),
        ProxySettings(connect_timeout=5, read_timeout=5),
        ssl_context=store.server_context,
    )
    return proxy.port


def open_channel(port: int, roots: Path) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(root_certificates=roots.read_bytes())
    # HOST is the name the certificate is checked against, and the SNI and :authority sent
    return grpc.secure_channel(f"127.0.0.1:{port}", credentials, options=[("grpc.ssl_target_name_override", HOST)])


@pytest.fixture
def secure_channel(tls_port: int, ca: CertificateAuthority) -> Iterator[grpc.Channel]:
    with open_channel(tls_port, ca.path) as channel:
        yield channel


def test_all_four_call_kinds_over_tls(secure_channel: grpc.Channel) -> None:
    channel = secure_channel
    assert channel.unary_unary(method("Unary"))(b"ping", timeout=10) == b"ping"
    assert list(channel.unary_stream(method("ServerStream"))(b"\x03y", timeout=10)) == [b"\x03y"] * 3
    assert channel.stream_unary(method("ClientStream"))(iter([b"a", b"b", b"c"]), timeout=10) == b"abc"
    replies = channel.stream_stream(method("Bidi"))(iter([b"1", b"22", b"333"]), timeout=10)
    assert list(replies) == [b"1", b"22", b"333"]


def test_error_status_and_message_over_tls(secure_channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        secure_channel.unary_unary(method("Fail"))(b"", timeout=10)
    error = caught.value
    assert error.code() == grpc.StatusCode.NOT_FOUND and error.details() == "no such thing"
    assert dict(error.trailing_metadata())["detail-bin"] == b"\xff\x00"


def test_a_channel_that_does_not_trust_the_ca_is_refused(tls_port: int, tmp_path: Path) -> None:
    # TLS is really checked end to end: another CA's channel never gets a call through
    stranger = CertificateAuthority(tmp_path / "other-ca")
    with open_channel(tls_port, stranger.path) as channel, pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(method("Unary"))(b"ping", timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
