"""Two ``serve --target kubernetes`` replicas against the stand-in API server: the follower shows
its branches as ``standby``, naming the replica that leads, and writes no history row while it
waits (issue 12: it showed ERROR "not the leader" and stored a row per retry); once the leader
stops, the follower takes the lease and applies them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kube.target_kit import shop_remote
from tests.support.kubeapi import StandIn, run_stand_in
from tests.support.processes import Child, poll

WAIT = 30.0
BRANCHES = {"main", "feature/login"}


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    with run_stand_in(bookmark_interval=0.5) as server:
        yield server


class Replica(Child):
    def __init__(self, tmp_path: Path, repo: Path, name: str, env: dict[str, str]) -> None:
        args = [
            "serve", "--repo", str(repo), "--target", "kubernetes", "--listen", "127.0.0.1:0",
            "--state-dir", str(tmp_path / name), "--poll-interval", "3600",
        ]  # fmt: skip
        super().__init__(args, r"api (http://\S+) target kubernetes", wait=WAIT, env={**env, "POD_NAME": name})
        self.http = httpx.Client(base_url=self.address, timeout=WAIT)

    def branches(self) -> dict[str, dict[str, Any]]:
        return {b["name"]: b for b in self.http.get("/api/branches").json()}

    def states(self) -> set[str]:
        return {b["state"] for name, b in self.branches().items() if name in BRANCHES}


@pytest.mark.slow
def test_a_follower_waits_in_standby_naming_the_leader_then_takes_over(stand_in: StandIn, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_INGRESS_")}
    env["KUBECONFIG"] = str(stand_in.kubeconfig_path)
    remote, _work = shop_remote(tmp_path, "feature/login")
    leader = Replica(tmp_path, remote.path, "replica-a", env)
    try:
        poll(lambda: leader.states() == {"applied"}, "the leader applying both branches", WAIT, logs=leader.log)
        follower = Replica(tmp_path, remote.path, "replica-b", env)
        try:
            poll(lambda: follower.states() == {"standby"}, "the follower in standby", WAIT, logs=follower.log)
            for name in BRANCHES:
                message = follower.branches()[name]["message"]
                assert "replica-a leads and applies it" in message, message
            # nothing happened on the follower, so nothing is in its history: no row per retry
            history = follower.http.get("/api/v1/history").json()
            assert [row for row in history if row["result"] == "error"] == []
            assert leader.states() == {"applied"}

            assert leader.stop() == 0  # releases the lease
            poll(lambda: follower.states() == {"applied"}, "the follower taking over", WAIT, logs=follower.log)
            assert {row["result"] for row in follower.http.get("/api/v1/history").json()} == {"applied"}
            assert follower.stop() == 0
        finally:
            follower.kill()
    finally:
        leader.kill()
