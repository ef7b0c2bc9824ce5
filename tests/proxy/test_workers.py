"""``--workers N`` and SIGTERM, with ``gitops-ingress proxy`` as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.manifests import ingress, to_yaml
from tests.support.processes import poll
from tests.support.upstreams import LoopThread, TestUpstream

from .fixtures_ops import (
    LOOPBACK,
    WAIT,
    ProxyProcess,
    in_background,
    write,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def proxy_args(tmp_path: Path, upstream: TestUpstream, *extra: str) -> list[str]:
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    return [
        "--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env),
        "--backend", f"storefront:80={upstream.url}", *extra,
    ]  # fmt: skip


def get(url: str, path: str = "/", **options: object) -> httpx.Response:
    return httpx.get(url + path, headers={"Host": "shop.example.com", "Connection": "close"}, timeout=WAIT, **options)  # type: ignore[arg-type]


def refused(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=WAIT).close()
    except ConnectionRefusedError:
        return True
    return False


def test_workers_share_one_port_and_the_kernel_spreads_connections(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    with ProxyProcess(proxy_args(tmp_path, upstream, "--workers", "2"), workers=2) as proxy:
        proxy.wait_serving()
        urls = {tuple(urls) for urls in proxy.workers.values()}
        assert len(urls) == 1, f"workers listen on different ports: {proxy.workers}"
        for index in range(60):
            assert get(proxy.url(), f"/n{index}").status_code == 200
        pids = set()
        for _ in range(60):
            record = json.loads(proxy.expect(r"^\{", stdout=True).string)  # the next access log line
            pids.add(record["pid"])
        assert pids == set(proxy.workers), "both workers should have served some of 60 connections"
        assert proxy.stop(signal.SIGTERM) == 0


def test_request_times_are_finer_than_the_event_loops_milliseconds(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream]
) -> None:
    # the real command runs on uvloop, whose loop.time() counts whole milliseconds
    upstream = start_upstream("echo")
    with ProxyProcess(proxy_args(tmp_path, upstream), workers=1) as proxy:
        proxy.wait_serving()
        for index in range(20):
            assert get(proxy.url(), f"/n{index}").status_code == 200
        seconds = [json.loads(proxy.expect(r"^\{", stdout=True).string)["seconds"] for _ in range(20)]
        assert any(round(value * 1000, 6) % 1 for value in seconds), seconds
        assert proxy.stop(signal.SIGTERM) == 0


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_workers_stop_when_their_parent_is_killed(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    with ProxyProcess(proxy_args(tmp_path, upstream, "--workers", "2", "--no-access-log"), workers=2) as proxy:
        proxy.wait_serving()
        assert get(proxy.url(), "/").status_code == 200
        proxy.kill()  # SIGKILL: the parent forwards nothing
        poll(lambda: all(gone(pid) for pid in proxy.workers), "the orphaned workers to exit", WAIT, logs=proxy.log)
        assert refused(proxy.url())


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_accepting_and_drains_in_flight_requests(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream], loop_thread: LoopThread, workers: int
) -> None:
    upstream = start_upstream("echo")
    args = proxy_args(tmp_path, upstream, "--workers", str(workers), "--no-access-log", "--drain-timeout", "30")
    with ProxyProcess(args, workers=workers) as proxy:
        proxy.wait_serving()
        url = proxy.url()
        thread, result = in_background(lambda: get(url, "/hold"))
        assert upstream.stats.request_seen.wait(WAIT)
        proxy.proc.send_signal(signal.SIGTERM)
        for _ in range(workers):
            proxy.wait_stderr("draining")
        assert refused(url), "the listener should be closed once draining starts"
        assert proxy.proc.poll() is None, "the in-flight request keeps the process alive"
        loop_thread.call(upstream.release.set)
        thread.join(WAIT)
        assert isinstance(result[0], httpx.Response) and result[0].status_code == 200
        assert proxy.proc.wait(WAIT) == 0


def test_the_drain_timeout_bounds_the_wait(tmp_path: Path, start_upstream: Callable[[str], TestUpstream]) -> None:
    upstream = start_upstream("echo")
    args = proxy_args(tmp_path, upstream, "--no-access-log", "--drain-timeout", "0.3")
    with ProxyProcess(args) as proxy:
        proxy.wait_serving()
        url = proxy.url()
        thread, result = in_background(lambda: get(url, "/hold"))
        assert upstream.stats.request_seen.wait(WAIT)
        assert proxy.stop(signal.SIGTERM) == 0  # never released: cut off after 0.3 s, still exit 0
        thread.join(WAIT)
        assert isinstance(result[0], httpx.HTTPError)


def test_a_worker_that_dies_stops_the_set_with_exit_2(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    with ProxyProcess(proxy_args(tmp_path, upstream, "--workers", "2", "--no-access-log"), workers=2) as proxy:
        proxy.wait_serving()
        victim = next(iter(proxy.workers))
        os.kill(victim, signal.SIGKILL)
        proxy.wait_stderr(f"worker {victim} exited with -9")
        assert proxy.proc.wait(WAIT) == 2
