"""Fixtures for tests that talk to a Kubernetes API: the in-process stand-in API server, an
official-client ``ApiClient`` pointed at it, and a ``kubectl`` runner with its own cache folder.

Every test gets a fresh server on a free port, so discovery caches (kubectl's cache folder, the
DynamicClient's cache file keyed by host) never see a previous test's server.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from collections.abc import Callable, Iterator

import kubernetes
import pytest

from tests.support.kubeapi import StandIn, run_stand_in

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    """A running stand-in API server (bookmarks every 0.2 s so watch tests stay fast)."""
    with run_stand_in(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
def api_client(stand_in: StandIn) -> Iterator[kubernetes.client.ApiClient]:
    config = kubernetes.client.Configuration()
    config.host = stand_in.url
    with kubernetes.client.ApiClient(config) as client:
        yield client


KubectlRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kubectl(stand_in: StandIn, tmp_path: pathlib.Path) -> KubectlRunner:
    """``kubectl("get", "ns")`` -> CompletedProcess (text, never raises on a non-zero exit)."""
    cache = tmp_path / "kubectl-cache"

    def run(
        *args: str,
        input: str | None = None,  # mirrors subprocess.run
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KUBECTL, "--kubeconfig", str(stand_in.kubeconfig_path), "--cache-dir", str(cache), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
