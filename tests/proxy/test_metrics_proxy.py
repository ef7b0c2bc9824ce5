"""Metrics and the access log with real traffic through the wired proxy (app.Worker)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gitops_ingress.core.settings import Settings
from gitops_ingress.proxy.app import ProxyOptions
from gitops_ingress.proxy.config import ProxySettings
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream, refused_port

from .fixtures_ops import LOOPBACK, WAIT, ProxyThread, write

pytestmark = pytest.mark.timeout(60)


def options(tmp_path: Path, upstream: TestUpstream, access_log: bool) -> ProxyOptions:
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    write(env / "down.yaml", to_yaml(ingress("down", "down.example.com", "gone")))
    return ProxyOptions(
        listen=(LOOPBACK, 0),
        admin_listen=(LOOPBACK, 0),
        proxy=ProxySettings(access_log=access_log, retries=0),
        settings=Settings(),
        ingress_dirs=(str(env),),
        backends=(f"storefront:80={upstream.url}", f"gone:80=http://{LOOPBACK}:{refused_port()}"),
    )


def test_traffic_shows_in_metrics_and_the_access_log(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    with ProxyThread(options(tmp_path, upstream, access_log=True)) as proxy:
        with httpx.Client(base_url=proxy.url(), timeout=WAIT) as client:
            assert client.get("/a", headers={"Host": "shop.example.com"}).status_code == 200
            assert client.get("/b", headers={"Host": "shop.example.com"}).status_code == 200
            assert client.get("/", headers={"Host": "down.example.com"}).status_code == 502
            assert client.get("/", headers={"Host": "nowhere.example.net"}).status_code == 404
        proxy.call(lambda: None)  # one round trip through the loop: every callback before it ran
        metrics = httpx.get(proxy.admin_url + "/metrics", timeout=WAIT).text
        assert (
            'requests_total{branch="",host="shop.example.com",kind="stable",protocol="h1",status_class="2xx"} 2.0'
            in metrics
        )
        assert (
            'requests_total{branch="",host="down.example.com",kind="stable",protocol="h1",status_class="5xx"} 1.0'
            in metrics
        )
        assert 'upstream_errors_total{reason="connect"} 1.0' in metrics
        assert "gitops_ingress_proxy_route_table_version 1.0" in metrics
        assert httpx.get(proxy.admin_url + "/readyz", timeout=WAIT).status_code == 200
    # records are buffered (proxy/accesslog.py) and written within 0.2 s, and at the latest at stop
    lines = [json.loads(line) for line in proxy.access.getvalue().splitlines()]
    assert [(r["host"], r["target"], r["status"]) for r in lines] == [
        ("shop.example.com", "/a", 200),
        ("shop.example.com", "/b", 200),
        ("down.example.com", "/", 502),
        ("nowhere.example.net", "/", 404),
    ]
    assert all(isinstance(r["seconds"], float) and r["pid"] > 0 and r["protocol"] == "h1" for r in lines)


def test_the_access_log_can_be_switched_off(tmp_path: Path, start_upstream: Callable[[str], TestUpstream]) -> None:
    upstream = start_upstream("echo")
    with ProxyThread(options(tmp_path, upstream, access_log=False)) as proxy:
        assert proxy.worker is not None and proxy.worker.access_log is None
        answer = httpx.get(proxy.url() + "/", headers={"Host": "shop.example.com"}, timeout=WAIT)
        assert answer.status_code == 200
        proxy.call(lambda: None)
    assert proxy.access.getvalue() == ""


def test_access_log_lines_are_batched_and_flushed_on_a_timer() -> None:
    import asyncio
    import io

    from gitops_ingress.proxy.accesslog import DictLog

    async def scenario() -> tuple[str, int]:
        flushed = asyncio.get_running_loop().create_future()
        flushes: list[int] = []

        class Recording(io.StringIO):
            def flush(self) -> None:
                flushes.append(len(self.getvalue()))
                if not flushed.done():
                    flushed.set_result(None)

        stream = Recording()
        log = DictLog(stream, flush_delay=0.01, max_records=1000)  # the timer, not a full buffer (test_accesslog.py)
        for index in range(100):
            log({"status": 200, "n": index})
        assert flushes == []  # nothing flushed per line
        await asyncio.wait_for(flushed, WAIT)
        return stream.getvalue(), len(flushes)

    text, flush_count = asyncio.run(scenario())
    assert flush_count == 1  # one flush for the whole batch
    lines = [json.loads(line) for line in text.splitlines()]
    assert [r["n"] for r in lines] == list(range(100))
    assert all("time" in r and "pid" in r for r in lines)
