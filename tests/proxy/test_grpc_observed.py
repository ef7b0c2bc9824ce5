"""gRPC outcomes in the metrics and the access log: grpcio client and server through the proxy
(h2c both ways), an OK call, a backend's error status (trailers-only), the proxy's own UNAVAILABLE."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator

import grpc
import pytest

from gitops_ingress.proxy.accesslog import AccessLog
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.metrics import ProxyMetrics
from tests.proxy.conftest import ProxyHarness, backends, make_state, route
from tests.support.grpc_servers import SERVICE
from tests.support.upstreams import refused_port

HOST = "grpc.example.com"
Through = Callable[[str], tuple[grpc.Channel, ProxyHarness, Callable[[], list[dict[str, object]]]]]


@pytest.fixture
def through(make_proxy: Callable[..., ProxyHarness]) -> Iterator[Through]:
    """A channel through a proxy to ``url``, the proxy, and a reader of its access log lines."""
    channels: list[grpc.Channel] = []

    def make(url: str) -> tuple[grpc.Channel, ProxyHarness, Callable[[], list[dict[str, object]]]]:
        stream = io.StringIO()
        log = AccessLog(stream)
        settings = ProxySettings(connect_timeout=5, read_timeout=5, h2c=True, retries=0, access_log=True)
        proxy = make_proxy(make_state([route(HOST, "/", "api")]), backends({"api": [url]}), settings, log)
        channel = grpc.insecure_channel(f"127.0.0.1:{proxy.port}", options=[("grpc.default_authority", HOST)])
        channels.append(channel)

        def lines() -> list[dict[str, object]]:
            proxy.loop.call(log.flush)  # on the proxy's loop: every answer before it is recorded
            return [json.loads(line) for line in stream.getvalue().splitlines()]

        return channel, proxy, lines

    yield make
    for channel in channels:
        channel.close()


def call(channel: grpc.Channel, name: str) -> grpc.StatusCode:
    try:
        channel.unary_unary(f"/{SERVICE}/{name}")(b"ping", timeout=10)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_ok_and_error_statuses_are_logged_and_counted(through: Through, grpc_server) -> None:
    channel, proxy, lines = through(f"grpc://127.0.0.1:{grpc_server.port}")
    assert call(channel, "Unary") == grpc.StatusCode.OK  # grpc-status in the trailers
    assert call(channel, "Fail") == grpc.StatusCode.NOT_FOUND  # in a trailers-only answer
    logged = lines()
    assert [(line["target"], line["status"], line["grpc_status"], line["protocol"]) for line in logged] == [
        (f"/{SERVICE}/Unary", 200, 0, "h2"),
        (f"/{SERVICE}/Fail", 200, 5, "h2"),
    ]
    assert proxy.loop.call(lambda: list(proxy.observer.grpc_answers)) == [(HOST, 0), (HOST, 5)]


def test_the_proxys_own_unavailable_is_logged_and_counted(through: Through) -> None:
    channel, proxy, lines = through(f"grpc://127.0.0.1:{refused_port()}")
    assert call(channel, "Unary") == grpc.StatusCode.UNAVAILABLE
    assert [(line["status"], line["grpc_status"]) for line in lines()] == [(200, 14)]
    assert proxy.loop.call(lambda: list(proxy.observer.grpc_answers)) == [(HOST, 14)]


def test_plain_http_lines_have_no_grpc_status(through: Through, start_upstream) -> None:
    upstream = start_upstream("echo")
    _channel, proxy, lines = through(upstream.url)
    import httpx

    assert httpx.get(proxy.url + "/x", headers={"Host": HOST}, timeout=10).status_code == 200
    assert [("grpc_status" in line, line["status"]) for line in lines()] == [(False, 200)]


def test_metrics_render_calls_by_host_and_grpc_status() -> None:
    metrics = ProxyMetrics(max_series=3)
    for host, code in ((HOST, 0), (HOST, 0), (HOST, 14), ("b.example.com", 99), ("c.example.com", 1)):
        metrics.grpc_answer(host, code)
    text = metrics.render().decode()
    assert 'gitops_ingress_proxy_grpc_calls_total{grpc_status="0",host="grpc.example.com"} 2.0' in text
    assert 'gitops_ingress_proxy_grpc_calls_total{grpc_status="14",host="grpc.example.com"} 1.0' in text
    assert 'gitops_ingress_proxy_grpc_calls_total{grpc_status="other",host="b.example.com"} 1.0' in text
    assert 'gitops_ingress_proxy_grpc_calls_total{grpc_status="1",host="other"} 1.0' in text  # past the cap
