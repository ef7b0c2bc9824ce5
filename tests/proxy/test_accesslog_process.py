"""The access log of a real proxy process under load and at shutdown: every answer has its line,
once, in the order each connection got its answers, including the lines still buffered when
SIGTERM came and the answer of a request that was still in flight then (proxy/accesslog.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import LoopThread, TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, ProxyProcess, in_background, write

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
CLIENTS, REQUESTS = 16, 40  # 640 answers: ten full batches of 64 written on size, none by the timer


def test_every_answer_is_logged_once_and_in_order_under_load_and_at_shutdown(
    tmp_path: Path, loop_thread: LoopThread, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "web")))
    args = ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env), "--backend", f"web:80={upstream.url}",
            "--set", "access_log_flush=600"]  # fmt: skip  # no timer: only a full batch or the shutdown writes
    with ProxyProcess(args) as proxy:
        base = proxy.wait_serving().url()

        def client(number: int) -> None:
            with httpx.Client(base_url=base, headers={"Host": "shop.example.com"}, timeout=WAIT) as session:
                for index in range(REQUESTS):
                    assert session.get(f"/c{number}/r{index}").status_code == 200

        threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        # one more: a request still in flight when SIGTERM comes, answered during the drain
        upstream.stats.request_seen.clear()  # every earlier request is answered: the next one seen is it
        held, answer = in_background(
            lambda: httpx.get(base + "/hold", headers={"Host": "shop.example.com"}, timeout=WAIT)
        )
        assert upstream.stats.request_seen.wait(WAIT)
        proxy.proc.send_signal(15)
        proxy.wait_stderr("draining")
        loop_thread.call(upstream.release.set)
        held.join(WAIT)
        assert proxy.proc.wait(WAIT) == 0
        assert isinstance(answer[0], httpx.Response) and answer[0].status_code == 200
    lines = [json.loads(line) for line in proxy.output]
    targets = [line["target"] for line in lines]
    assert len(targets) == CLIENTS * REQUESTS + 1 == len(set(targets))  # each answer once
    assert targets[-1] == "/hold"  # the drained answer, written at the very end
    for number in range(CLIENTS):
        mine = [target for target in targets if target.startswith(f"/c{number}/")]
        assert mine == [f"/c{number}/r{index}" for index in range(REQUESTS)]  # complete and in order
    assert all(line["status"] == 200 and line["host"] == "shop.example.com" for line in lines)
