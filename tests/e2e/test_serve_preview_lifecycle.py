"""The preview lifecycle against a real ``serve`` (docs/previews-lifecycle.md): a bare repository
whose ``gitops-ingress.yaml`` sets a TTL of 1 s (or a cap of one preview), real pushes and
webhooks, the proxy's answers and the API's states. Waits follow the route stream or poll the API
with the suite's deadline; the TTL is small enough that nothing waits long."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.core.naming import preview_host
from tests.e2e import test_serve
from tests.e2e.test_serve import ServeProcess, served_by
from tests.kube.target_kit import shop_remote
from tests.support.gitrepos import WorkTree
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

upstreams = test_serve.upstreams  # the fixture


def shop(branch: str) -> str:
    return preview_host(branch, "shop.example.com", "preview.localhost")


def push_backend(work: WorkTree, branch: str, backend: str) -> None:
    work.switch(branch)
    work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", backend))})
    work.commit(backend)
    work.push(branch)


@pytest.mark.slow
def test_serve_expires_idle_previews_keeps_kept_ones_and_a_push_brings_them_back(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    remote, work = shop_remote(
        tmp_path, "feature/idle", "keep/demo", settings='preview_ttl: 1\npreview_keep: ["keep/*"]\n'
    )
    serve = ServeProcess(tmp_path, remote.url, {f"{name}:80": up.url for name, up in upstreams.items()})
    try:
        serve.poll(lambda: serve.branches().get("feature/idle", {}).get("state") == "expired", "the expiry")
        idle = serve.branches()["feature/idle"]
        assert idle["message"] == "preview expired after 1s idle; push to bring it back", idle
        assert idle["preview_urls"] == []
        assert serve.get(shop("feature/idle")).status_code == 404
        kept = serve.branches()["keep/demo"]
        assert kept["state"] == "applied" and kept["preview_urls"], kept
        before = len(upstreams["web"].stats.requests)
        assert served_by(upstreams["web"], serve.get(shop("keep/demo")), before)
        assert serve.branches()["main"]["state"] == "applied"

        with serve.states() as wait:
            push_backend(work, "feature/idle", "web-v2")
            assert serve.webhook("feature/idle").status_code == 202
            wait(lambda s: str(s.resolve(shop("feature/idle"), "/").match.backend) == "shop/web-v2:80")
            wait(lambda s: "feature/idle" not in s.previews)  # and idle again, one TTL after that push
        serve.poll(lambda: serve.branches()["feature/idle"]["state"] == "expired", "the second expiry")
        history = serve.http.get(f"{serve.api}/api/v1/history", params={"branch": "feature/idle"}).json()
        results = [row["result"] for row in history if row["commit"] == work.head()]
        assert results[0] == "expired" and "applied" in results, history
        assert serve.branches()["keep/demo"]["state"] == "applied"
    finally:
        code = serve.stop()
    assert code == 0, serve.log()


@pytest.mark.slow
def test_serve_caps_live_previews_and_brings_the_capped_back_when_room_frees(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    remote, work = shop_remote(tmp_path, "feature/old", settings="max_previews: 1\n")
    serve = ServeProcess(tmp_path, remote.url, {f"{name}:80": up.url for name, up in upstreams.items()})
    try:
        with serve.states() as wait:
            wait(lambda s: "feature/old" in s.previews and bool(s.stable.routes))
            work.branch("feature/new")
            push_backend(work, "feature/new", "web-v2")
            assert serve.webhook("feature/new").status_code == 202
            wait(lambda s: "feature/new" in s.previews and "feature/old" not in s.previews)
        serve.poll(lambda: serve.branches()["feature/old"]["state"] == "capped", "the cap on the status")
        old = serve.branches()["feature/old"]
        assert old["state"] == "capped" and old["preview_urls"] == [], old
        assert old["message"].startswith("preview refused: max_previews=1 reached"), old
        assert serve.get(shop("feature/old")).status_code == 404
        before = len(upstreams["web-v2"].stats.requests)
        assert served_by(upstreams["web-v2"], serve.get(shop("feature/new")), before)
        before = len(upstreams["web"].stats.requests)
        assert served_by(upstreams["web"], serve.get("shop.example.com"), before)  # main never counts

        with serve.states() as wait:
            work.delete_remote_branch("feature/new")
            assert serve.webhook("feature/new").status_code == 202
            wait(lambda s: "feature/old" in s.previews and "feature/new" not in s.previews)
        # the routes go live before the status is stored (engine.py), so the status is polled
        serve.poll(lambda: serve.branches()["feature/old"]["state"] == "applied", "the capped branch back")
        before = len(upstreams["web"].stats.requests)
        assert served_by(upstreams["web"], serve.get(shop("feature/old")), before)
    finally:
        code = serve.stop()
    assert code == 0, serve.log()
