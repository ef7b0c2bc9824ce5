"""gRPC end to end: grpcio clients, the proxy (h2c from the client, h2c or TLS to the backend),
grpcio servers. All four call kinds, metadata and trailers both ways, error statuses, deadlines,
and the proxy's own UNAVAILABLE."""

from __future__ import annotations

import grpc
import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends, make_state, route
from tests.support.grpc_servers import SERVICE
from tests.support.upstreams import refused_port

HOST = "grpc.example.com"


@pytest.fixture
def channel_to(make_proxy):
    channels: list[grpc.Channel] = []

    def make(url: str, **changes) -> grpc.Channel:
        state = make_state([route(HOST, "/", "api")])
        settings = ProxySettings(connect_timeout=5, read_timeout=5, h2c=True).with_changes(**changes)
        proxy = make_proxy(state, backends({"api": [url]}), settings)
        channel = grpc.insecure_channel(f"127.0.0.1:{proxy.port}", options=[("grpc.default_authority", HOST)])
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        channel.close()


def method(name: str) -> str:
    return f"/{SERVICE}/{name}"


def test_all_four_call_kinds_through_the_proxy(channel_to, grpc_server) -> None:
    channel = channel_to(f"grpc://127.0.0.1:{grpc_server.port}")
    assert channel.unary_unary(method("Unary"))(b"ping", timeout=10) == b"ping"
    assert list(channel.unary_stream(method("ServerStream"))(b"\x04x", timeout=10)) == [b"\x04x"] * 4
    assert channel.stream_unary(method("ClientStream"))(iter([b"a", b"b", b"c"]), timeout=10) == b"abc"
    replies = channel.stream_stream(method("Bidi"))(iter([b"1", b"22", b"333"]), timeout=10)
    assert list(replies) == [b"1", b"22", b"333"]


def test_metadata_and_binary_trailers_pass_both_ways(channel_to, grpc_server) -> None:
    channel = channel_to(f"grpc://127.0.0.1:{grpc_server.port}")
    reply, call = channel.unary_unary(method("Unary")).with_call(
        b"m", metadata=[("x-tag", "hello"), ("x-tag-bin", b"\x00\xff\x01")], timeout=10
    )
    assert reply == b"m"
    trailing = dict(call.trailing_metadata())
    assert trailing["x-tag"] == "hello" and trailing["x-tag-bin"] == b"\x00\xff\x01"
    assert call.code() == grpc.StatusCode.OK


def test_error_status_message_and_details_reach_the_client(channel_to, grpc_server) -> None:
    channel = channel_to(f"grpc://127.0.0.1:{grpc_server.port}")
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(method("Fail"))(b"", timeout=10)
    error = caught.value
    assert error.code() == grpc.StatusCode.NOT_FOUND and error.details() == "no such thing"
    assert dict(error.trailing_metadata())["detail-bin"] == b"\xff\x00"


def test_unreachable_backend_is_unavailable_not_a_502(channel_to) -> None:
    channel = channel_to(f"grpc://127.0.0.1:{refused_port()}")
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(method("Unary"))(b"ping", timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_deadline_ends_the_backend_call_too(channel_to, grpc_server) -> None:
    channel = channel_to(f"grpc://127.0.0.1:{grpc_server.port}")  # read timeout 5 s, deadline 0.3 s
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(method("Slow"))(b"", timeout=0.3)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert grpc_server.cancelled.wait(5)  # the proxy cancelled the backend's stream
