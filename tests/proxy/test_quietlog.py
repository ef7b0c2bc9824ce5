"""Warnings that every request would repeat are logged once per key per interval (proxy/quietlog.py):
a ``gitops-ingress proxy`` process with a Service that has no endpoint and one whose endpoint
refuses connections, answering a burst of requests to each; its stderr is read line by line."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.proxy.config import ProxySettings
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import refused_port

from .fixtures_ops import LOOPBACK, WAIT, ProxyProcess, write

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

INTERVAL = 2.0  # seconds: --set warning_interval; a burst takes well under it
BURST = 7


def test_a_burst_of_the_same_warning_is_one_line_then_a_count_per_interval(tmp_path: Path) -> None:
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "web")))
    write(env / "pay.yaml", to_yaml(ingress("pay", "pay.example.com", "checkout")))
    args = ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env), "--no-access-log",
            "--backend", f"web:80=http://{LOOPBACK}:{refused_port()}", "--set", f"warning_interval={INTERVAL}"]  # fmt: skip
    with ProxyProcess(args) as proxy, httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:

        def burst(host: str, count: int, status: int) -> None:
            for _ in range(count):
                assert client.get("/", headers={"Host": host}).status_code == status

        burst("pay.example.com", BURST, 503)
        burst("shop.example.com", BURST, 502)
        # each key's first occurrence at once, in full; then, at the end of the interval, its count
        first = proxy.wait_stderr(r"no ready endpoint|upstream error")
        assert re.search(r"no ready endpoint for service shop/checkout:80 \(host pay\.example\.com\)$", first)
        second = proxy.wait_stderr(r"no ready endpoint|upstream error")
        assert re.search(r"upstream error for shop/web:80: .*connect", second)
        summaries = {proxy.wait_stderr(r"more in the last") for _ in range(2)}
        assert {re.sub(r".*WARNING gitops_ingress.proxy: ", "", line) for line in summaries} >= {
            f"no ready endpoint for service shop/checkout:80 (host pay.example.com) ({BURST - 1} more in the last {INTERVAL:g} s)"
        }
        assert any(re.search(rf"upstream error for shop/web:80: .* \({BURST - 1} more in the last {INTERVAL:g} s\)$", line)
                   for line in summaries)  # fmt: skip
        # still repeating: counted on, one line in the next interval, not a full line per request
        burst("pay.example.com", 3, 503)
        assert proxy.wait_stderr(r"no ready endpoint|upstream error").endswith(f"(3 more in the last {INTERVAL:g} s)")
        written = "".join(proxy.lines)
    assert written.count("no ready endpoint for service") == 3  # of 10 requests: one in full, two counts
    assert written.count("upstream error for") == 2


def test_the_interval_is_a_positive_proxy_setting() -> None:
    assert ProxySettings().warning_interval == 10.0
    with pytest.raises(ConfigError, match="warning_interval"):
        ProxySettings().with_changes(warning_interval=0)
