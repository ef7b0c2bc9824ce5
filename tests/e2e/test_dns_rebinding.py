"""DNS rebinding, against the real processes: a page whose own name resolves to 127.0.0.1 sends
its name in ``Host``; ``serve``'s API, dashboard, proxy stream and metrics, and the proxy's admin
port, must not answer it, while loopback names, IP literals and configured names still work."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.proxy.fixtures_ops import ProxyProcess
from tests.support.gitrepos import make_sample_remote
from tests.support.processes import Child, serve_args

WAIT = 20.0
READY = r"gitops-ingress serve: api (\S+) "
GUARDED = ("/api/branches", "/api/v1/branches", "/", "/api/v1/proxy/stream", "/metrics", "/search?q=shop")

pytestmark = pytest.mark.slow


def _serve(tmp_path: Path, **environ: str) -> Child:
    remote, _ = make_sample_remote(tmp_path)
    args = serve_args(tmp_path, str(remote.path))
    return Child(args, READY, wait=WAIT, env={**os.environ, **environ})


def test_serve_answers_only_names_that_cannot_be_rebound(tmp_path: Path) -> None:
    serve = _serve(tmp_path, GITOPS_INGRESS_WEB_ALLOWED_HOSTS="gitops.example.com")
    try:
        port = httpx.URL(serve.address).port
        with httpx.Client(base_url=serve.address, timeout=WAIT) as client:
            for path in GUARDED:
                refused = client.get(path, headers={"Host": f"attacker.example:{port}"})
                assert refused.status_code == 421, (path, refused.text)
                assert "GITOPS_INGRESS_WEB_ALLOWED_HOSTS" in refused.text
                assert "shop" not in refused.text  # nothing of the state leaks into the refusal
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", "gitops.example.com"):
                assert client.get("/api/branches", headers={"Host": host}).status_code == 200, host
            # probes and signed webhooks keep working under any name
            assert client.get("/healthz", headers={"Host": "svc.cluster.internal"}).status_code == 200
            hook = client.post("/webhooks/generic", headers={"Host": "hooks.example.com"}, json={})
            assert hook.status_code != 421
    finally:
        serve.stop()


def test_the_public_url_admits_its_host(tmp_path: Path) -> None:
    serve = _serve(tmp_path, GITOPS_INGRESS_WEB_PUBLIC_URL="https://dash.example.net/")
    try:
        with httpx.Client(base_url=serve.address, timeout=WAIT) as client:
            assert client.get("/api/branches", headers={"Host": "dash.example.net"}).status_code == 200
            assert client.get("/api/branches", headers={"Host": "other.example.net"}).status_code == 421
    finally:
        serve.stop()


def test_the_proxy_admin_port_refuses_foreign_names(tmp_path: Path) -> None:
    folder = tmp_path / "ingresses"
    folder.mkdir()
    args = ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--ingress-dir", str(folder)]
    with ProxyProcess([*args, "--no-access-log"]) as proxy:
        proxy.wait_serving()
        with httpx.Client(base_url=proxy.admin_url, timeout=WAIT) as client:
            assert client.get("/metrics", headers={"Host": "attacker.example"}).status_code == 421
            assert client.get("/readyz", headers={"Host": "attacker.example"}).status_code == 421
            assert client.get("/healthz", headers={"Host": "attacker.example"}).status_code == 200
            assert client.get("/metrics").status_code == 200  # httpx sends Host: 127.0.0.1:PORT
            assert client.get("/metrics", headers={"Host": "localhost"}).status_code == 200
