"""Push to live between real processes: ``serve`` over a bare repository, a push, a signed GitHub
delivery, and the sync it caused found in ``/api/v1/history`` with when the push was noticed and
how long it took to go live, that time in the sync log line, on ``/metrics`` and on the branch
page's timeline."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from gitops_ingress.core.naming import preview_host
from tests.core.test_webhooks import sign
from tests.e2e import test_serve
from tests.e2e.test_serve import SECRET, ServeProcess, repository
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

upstreams = test_serve.upstreams  # the fixture: web, web-v2 and web-v3


def github_push(serve: ServeProcess, branch: str, before: str, after: str) -> int:
    """POST a GitHub push delivery for ``branch``, signed as GitHub signs it; the status code."""
    return github_delivery(serve, branch, before, after).status_code


def github_delivery(serve: ServeProcess, branch: str, before: str, after: str) -> httpx.Response:
    """The same delivery (its id, ``push-AFTER``, is the same each time); the whole answer."""
    body = json.dumps({"ref": f"refs/heads/{branch}", "before": before, "after": after}).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": f"push-{after}",
        "X-Hub-Signature-256": "sha256=" + sign(body, SECRET),
        "Content-Type": "application/json",
    }
    return serve.http.post(f"{serve.api}/webhooks/github", content=body, headers=headers)


@pytest.mark.slow
def test_a_pushed_commit_shows_when_it_was_noticed_and_its_push_to_live_time(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    remote, work = repository(tmp_path)
    branch = "feature/new-shop"
    host = preview_host(branch, "shop.example.com", "preview.localhost")
    serve = ServeProcess(tmp_path, remote.url, {f"{name}:80": up.url for name, up in upstreams.items()})
    try:
        with serve.states() as wait:
            wait(lambda s: branch in s.previews)
            before = remote.head(branch)
            work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v3"))})
            commit = work.commit("v3")
            work.push(branch)
            sent = datetime.now(UTC)
            assert github_push(serve, branch, before, commit) == 202
            wait(lambda s: str(s.resolve(host, "/").match.backend) == "shop/web-v3:80")

        def synced() -> bool:
            history = serve.http.get(f"{serve.api}/api/v1/history", params={"branch": branch}).json()
            return any(r["commit"] == commit and r["push_to_live_ms"] is not None for r in history)

        serve.poll(synced, "the pushed commit's sync in the history")  # the store write follows going live
        history = serve.http.get(f"{serve.api}/api/v1/history", params={"branch": branch}).json()
        rows = [r for r in history if r["commit"] == commit]
        for row in rows:
            noticed = datetime.fromisoformat(row["noticed_at"])
            started = datetime.fromisoformat(row["started_at"])
            end = started.timestamp() + row["duration_ms"] / 1000
            # noticed by the delivery (not by the start or a poll), before the sync ended
            assert sent <= noticed and noticed.timestamp() < end and row["push_to_live_ms"] > 0
            assert row["push_to_live_ms"] >= row["duration_ms"]  # it includes the sync itself
        older = [r for r in history if r["commit"] == before]
        assert older and all(
            r["push_to_live_ms"] is not None for r in older
        )  # the first sync: noticed by the start's fetch

        line = serve.expect(rf'"event":"sync".*"commit":"{commit}".*"push_to_live_ms":([\d.]+)')
        assert float(line.group(1)) == pytest.approx(rows[0]["push_to_live_ms"], abs=0.001)  # the sync log says it too

        metrics = serve.http.get(f"{serve.api}/metrics").text
        count = re.search(r"^gitops_ingress_push_to_live_seconds_count (\S+)$", metrics, re.MULTILINE)
        assert count is not None and float(count.group(1)) >= 2  # the first sync and this one

        page = serve.http.get(f"{serve.api}/branches/{branch}").text
        assert re.search(r"push to live: median [\d.,]+ ms, last [\d.,]+ ms", page)
        assert 'class="push"' in page and 'class="live"' in page
    finally:
        assert serve.stop() == 0
