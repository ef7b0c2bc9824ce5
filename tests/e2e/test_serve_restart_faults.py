"""Issue 12, points 10 and 14, with real ``serve`` processes: a restart against a remote that
hangs serves the stored state at once (the fetch goes on in the background), and every sync
result is one JSON line on stderr, in the proxy's access-log format."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_serve import ServeProcess, repository, served_by, served_once, upstreams
from tests.gitrepo.servers import peer_open, silent_server
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

pytestmark = pytest.mark.slow
__all__ = ["upstreams"]  # the fixture, imported for these tests
SYNC_LINE = r'^\{.*"event":"sync"'


def test_a_restart_against_a_hanging_remote_serves_the_stored_state_at_once(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    _remote, backends = served_once(tmp_path, upstreams)
    held: list[socket.socket] = []
    with silent_server(held) as (port, connected):
        second = ServeProcess(tmp_path, f"http://127.0.0.1:{port}/config.git", backends)
        try:
            assert connected.wait(second.wait), "the background fetch never reached the remote"
            before = len(upstreams["web"].stats.requests)
            assert served_by(upstreams["web"], second.get("shop.example.com"), before)  # the proxy
            branches = second.branches()  # the API
            assert branches["main"]["state"] == "applied" and "feature/new-shop" in branches
            # both answered while the fetch still hangs: git holds its connection open
            assert held and peer_open(held[-1])
        finally:
            assert second.stop() == 0, second.log()  # a hanging fetch does not hold up the exit


def _sync_lines(serve: ServeProcess, count: int) -> list[dict[str, Any]]:
    return [json.loads(serve.expect(SYNC_LINE).string) for _ in range(count)]


def test_every_sync_result_is_one_json_log_line(tmp_path: Path, upstreams: dict[str, TestUpstream]) -> None:
    remote, work = repository(tmp_path)
    branch = "feature/new-shop"
    serve = ServeProcess(tmp_path, remote.url, {f"{name}:80": up.url for name, up in upstreams.items()})
    try:
        first = sorted(_sync_lines(serve, 2), key=lambda line: str(line["branch"]))
        heads = remote.branches()
        assert [(line["branch"], line["commit"], line["result"]) for line in first] == [
            (branch, heads[branch], "applied"),
            ("main", heads["main"], "applied"),
        ]
        assert all(line["environments"] == {"production": "applied"} for line in first)
        assert all(isinstance(line["duration_ms"], float) and isinstance(line["time"], float) for line in first)

        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "Shop_Example.com", "web"))})
        bad = work.commit("bad host")
        work.push(branch)
        assert serve.webhook(branch).status_code == 202
        (refused,) = _sync_lines(serve, 1)
        assert (refused["branch"], refused["commit"], refused["result"]) == (branch, bad, "refused")
        assert refused["environments"] == {"production": "refused"}
        assert "environments/production/shop.yaml:" in refused["message"]
    finally:
        code = serve.stop()
    assert code == 0, serve.log()
    assert sum(1 for line in serve.lines if '"event":"sync"' in line) == 3, serve.log()
