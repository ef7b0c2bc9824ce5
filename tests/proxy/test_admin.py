"""The admin port over a real socket: /healthz, /readyz before and after a route table, /metrics."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from gitops_ingress.core.routing import RoutingState
from gitops_ingress.proxy.admin import AdminServer
from gitops_ingress.proxy.app import listen_socket
from gitops_ingress.proxy.metrics import ProxyMetrics
from gitops_ingress.proxy.snapshot import Snapshot, SnapshotHolder

from .fixtures_ops import LOOPBACK, WAIT

pytestmark = pytest.mark.timeout(60)


def run(scenario) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        holder = SnapshotHolder()
        metrics = ProxyMetrics()
        metrics.follow(holder)
        draining = asyncio.Event()
        admin = AdminServer(holder, metrics, draining.is_set)
        await admin.start(listen_socket((LOOPBACK, 0), reuse_port=False))
        try:
            async with httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{admin.port}", timeout=WAIT) as client:
                await scenario(client, holder, metrics, draining, admin)
        finally:
            await admin.close()

    asyncio.run(main())


def test_readyz_waits_for_a_route_table_and_reports_draining() -> None:
    async def scenario(client, holder, metrics, draining, admin):  # type: ignore[no-untyped-def]
        health = await client.get("/healthz")
        assert (health.status_code, health.text) == (200, "ok\n")
        before = await client.get("/readyz")
        assert before.status_code == 503 and "no route table" in before.text
        holder.swap(Snapshot(RoutingState(version=3), source="files"))
        after = await client.get("/readyz")
        assert after.status_code == 200 and "version 3 from files" in after.text
        draining.set()
        leaving = await client.get("/readyz")
        assert leaving.status_code == 503 and "draining" in leaving.text

    run(scenario)


def test_metrics_are_served_in_the_prometheus_format() -> None:
    async def scenario(client, holder, metrics, draining, admin):  # type: ignore[no-untyped-def]
        metrics.request_counter("preview", "feature-x", "shop.example.com").count(200, 0.01)
        holder.swap(Snapshot(RoutingState(version=5)))
        answer = await client.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=")
        assert (
            'gitops_ingress_proxy_requests_total{branch="feature-x",host="shop.example.com",kind="preview",protocol="h1",status_class="2xx"} 1.0'
            in answer.text
        )
        assert "gitops_ingress_proxy_route_table_version 5.0" in answer.text
        assert "gitops_ingress_proxy_route_table_reloads_total 1.0" in answer.text

    run(scenario)


def test_other_paths_methods_and_junk() -> None:
    async def scenario(client, holder, metrics, draining, admin):  # type: ignore[no-untyped-def]
        assert (await client.get("/nope")).status_code == 404
        assert (await client.post("/metrics", content=b"x")).status_code == 405
        head = await client.head("/healthz")
        assert head.status_code == 200 and head.content == b""
        reader, writer = await asyncio.open_connection(LOOPBACK, admin.port)
        writer.write(b"GARBAGE\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), WAIT)
        assert answer.startswith(b"HTTP/1.1 400 ")
        writer.close()
        # a head that never ends is cut off at the size bound, not buffered forever
        reader, writer = await asyncio.open_connection(LOOPBACK, admin.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 20_000)
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        writer.close()

    run(scenario)


def test_listen_socket_errors_name_the_option() -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        from gitops_ingress.core.errors import ConfigError

        with pytest.raises(ConfigError, match=rf"--admin-listen 127.0.0.1:{port}: cannot listen"):
            listen_socket((LOOPBACK, port), reuse_port=False, option="--admin-listen")
