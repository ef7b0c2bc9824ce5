"""Issue 13, point 1: ``gitops-ingress proxy --ingress-dir OVERLAY`` serves what ``kubectl
kustomize`` renders (the real kubectl, the real proxy process, a real upstream): the overlay's
namespace and patched host, not the base's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.cli.test_kustomize_commands import OVERLAY, kustomize_repository
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, ProxyProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_an_overlay_folder_is_served_as_rendered(tmp_path: Path, start_upstream: Callable[[str], TestUpstream]) -> None:
    upstream = start_upstream("echo")
    root = kustomize_repository(tmp_path / "repo")
    args = [
        "--listen",
        f"{LOOPBACK}:0",
        "--ingress-dir",
        str(root / OVERLAY),
        "--backend",
        f"prod/web:80={upstream.url}",  # the render's namespace: the base alone would be default/web
        "--no-access-log",
    ]
    with ProxyProcess(args) as proxy, httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
        answer = client.get("/cart", headers={"Host": "prod.example.com"})
        assert answer.status_code == 200 and '"/cart"' in answer.text
        assert client.get("/", headers={"Host": "base.example.com"}).status_code == 404  # patched away
        assert proxy.stop() == 0
