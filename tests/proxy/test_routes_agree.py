"""``routes --host --path`` says what the proxy does: for each request, the redirect it prints is
the status and Location the real proxy process answers, and the upstream path, Host and
X-Forwarded-Prefix it prints are what the real upstream receives (tests/cli/test_routes_answers.py
has the output's form)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gitops_ingress.cli import main
from tests.cli.test_routes_answers import INGRESSES
from tests.support.manifests import to_yaml
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, ProxyProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
REQUESTS = [
    ("plain.example.com", "/cart?x=1"),
    ("shop.example.com", "/API/users?page=2"),
    ("shop.example.com", "/api"),
    ("old.example.com", "/a"),
    ("pay.example.com", "/pay?id=1"),
    ("app.example.com", "/"),
    ("app.example.com", "/app/x"),
    ("www.shop.example.org", "/x?y=1"),
]


def _routes(environments: Path, host: str, path: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["routes", str(environments), "--host", host, "--path", path, "--format", "json"]) == 0
    answer: dict[str, object] = json.loads(capsys.readouterr().out)
    return answer


def test_routes_answers_as_the_proxy_does(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream], capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = start_upstream("echo")
    folder = tmp_path / "environments" / "production"
    folder.mkdir(parents=True)
    for name, obj in INGRESSES.items():
        (folder / name).write_text(to_yaml(obj))
    services = ("web", "api", "pay", "app")
    args = ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(folder), "--no-access-log"]
    for service in services:
        args += ["--backend", f"shop/{service}:80={upstream.url}"]
    expected = {request: _routes(tmp_path / "environments", *request, capsys) for request in REQUESTS}
    assert sum("redirect" in answer for answer in expected.values()) == 4  # the premise: both kinds are asked
    assert sum("upstream" in answer for answer in expected.values()) == 2
    with ProxyProcess(args) as proxy, httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
        for (host, path), answer in expected.items():
            got = client.get(path, headers={"Host": host})
            redirect = answer.get("redirect")
            if isinstance(redirect, dict):
                assert (got.status_code, got.headers["location"]) == (redirect["status"], redirect["location"])
                continue
            assert got.status_code == 200, (host, path)
            record = json.loads(got.text)
            headers = {name.lower(): value for name, value in record["headers"]}
            seen = {"target": record["path"], "host": headers["host"]}
            if "x-forwarded-prefix" in headers:
                seen["xForwardedPrefix"] = headers["x-forwarded-prefix"]
            upstream_answer = answer.get("upstream")
            wanted = {"target": path, "host": host} | (upstream_answer if isinstance(upstream_answer, dict) else {})
            assert seen == wanted, (host, path)
        assert proxy.stop() == 0
