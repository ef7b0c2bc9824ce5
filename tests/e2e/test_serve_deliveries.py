"""A webhook delivery answered 202 is on disk: ``serve`` killed (SIGKILL) right after the answer
still knows the delivery id after a restart, so the forge's redelivery of it is a replay.

The store groups its writes per burst (sync/storewriter.py); this is the guarantee that grouping
must keep: the 202 waits for the transaction that holds the delivery's row."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import test_serve
from tests.e2e.test_serve import ServeProcess, repository
from tests.e2e.test_serve_push_to_live import github_delivery
from tests.support.upstreams import TestUpstream

upstreams = test_serve.upstreams  # the fixture: web, web-v2 and web-v3


@pytest.mark.slow
def test_a_delivery_answered_202_survives_a_kill(tmp_path: Path, upstreams: dict[str, TestUpstream]) -> None:
    remote, work = repository(tmp_path)
    branch = "feature/new-shop"
    backends = {f"{name}:80": up.url for name, up in upstreams.items()}
    serve = ServeProcess(tmp_path, remote.url, backends)
    try:
        with serve.states() as wait:
            wait(lambda s: branch in s.previews)
        before = remote.head(branch)
        work.write({"notes.txt": "a change outside the environments\n"})
        commit = work.commit("extra")
        work.push(branch)
        answer = github_delivery(serve, branch, before, commit)
        assert (answer.status_code, answer.json()["status"]) == (202, "accepted")
    finally:
        serve.kill()  # SIGKILL at once after the 202, the fetch and sync under way
        serve.http.close()
    again = ServeProcess(tmp_path, remote.url, backends)
    try:
        replay = github_delivery(again, branch, before, commit)
        assert (replay.status_code, replay.json()["status"]) == (202, "ignored")
        assert "already received" in replay.json()["reason"]
    finally:
        assert again.stop() == 0
