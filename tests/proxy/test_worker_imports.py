"""A proxy worker imports only what its route source needs (proxy/app.py ``make_source``): one
that follows the control plane loads neither the Kubernetes client nor the Ingress build, which
were most of its memory at start. And the features loaded on demand still work in a real process:
files with an annotated Ingress, HTTP/2 with prior knowledge, the access log."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, ProxyProcess, write

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
P = "nginx.ingress.kubernetes.io/"

# the worker as ``gitops-ingress proxy ARGS`` wires it, short of listening; then what it imported
WIRED = """
import sys
from gitops_ingress.cli import build_parser
from gitops_ingress.cli.proxy import build_options
from gitops_ingress.cli.variables import Variables
from gitops_ingress.proxy.app import Worker
argv = ["proxy", *sys.argv[1:]]
Worker(build_options(build_parser(argv).parse_args(argv), Variables.read({})))
print("\\n".join(sorted(sys.modules)))
"""
NOT_FOR_THE_CONTROL_PLANE = ("kubernetes", "requests", "jsonschema", "gitops_ingress.core.build",
                             "gitops_ingress.kustomize", "gitops_ingress.proxy.sources.files")  # fmt: skip


def imported(*args: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", WIRED, *args], capture_output=True, text=True, timeout=WAIT, check=True)
    return set(out.stdout.split())


def test_a_worker_following_the_control_plane_loads_neither_kubernetes_nor_the_build() -> None:
    modules = imported("--listen", f"{LOOPBACK}:0", "--controller", f"http://{LOOPBACK}:1")
    assert "gitops_ingress.proxy.sources.controller" in modules
    assert (
        sorted(m for m in modules if m.split(".")[0] in NOT_FOR_THE_CONTROL_PLANE or m in NOT_FOR_THE_CONTROL_PLANE)
        == []
    )


def test_a_worker_serving_files_loads_the_build(tmp_path: Path) -> None:
    modules = imported("--listen", f"{LOOPBACK}:0", "--ingress-dir", str(tmp_path), "--backend", "web:80=http://x")
    assert {"gitops_ingress.proxy.sources.files", "gitops_ingress.core.build"} <= modules
    assert "kubernetes" not in modules


def test_annotations_http2_and_the_access_log_work_in_a_real_process(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "web", path="/api",
                                             annotations={P + "rewrite-target": "/v2"})))  # fmt: skip
    args = ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env), "--backend", f"web:80={upstream.url}", "--h2c"]
    with ProxyProcess(args) as proxy:
        base = proxy.wait_serving().url()
        plain = httpx.get(base + "/api", headers={"Host": "shop.example.com"}, timeout=WAIT)
        with httpx.Client(http1=False, http2=True, timeout=WAIT) as client:  # h2c with prior knowledge
            h2 = client.get(base + "/api", headers={"Host": "shop.example.com"})
        assert proxy.stop() == 0
    assert (plain.status_code, plain.json()["path"]) == (200, "/v2")  # rewritten by the annotation
    assert (h2.http_version, h2.status_code, h2.json()["path"]) == ("HTTP/2", 200, "/v2")
    logged = [json.loads(line) for line in proxy.output]
    assert [(line["protocol"], line["target"], line["status"]) for line in logged] == [
        ("h1", "/v2", 200),  # the target as forwarded
        ("h2", "/v2", 200),
    ]
