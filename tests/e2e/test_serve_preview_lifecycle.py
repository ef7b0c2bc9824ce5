"""The preview lifecycle against a real ``serve`` (docs/previews-lifecycle.md): a bare repository
whose ``gitops-ingress.yaml`` sets a TTL of 1 s (or a cap of one preview), real pushes and
webhooks, the proxy's answers and the API's states; and what the forge is told (stand-ins of the
GitHub and GitLab APIs over real HTTP). Waits follow the route stream or poll the API
with the suite's deadline; the TTL is small enough that nothing waits long."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops_ingress.core.naming import preview_host
from tests.e2e import test_serve
from tests.e2e.test_serve import WAIT, ServeProcess, served_by
from tests.kube.target_kit import shop_remote
from tests.support.forge_api import GitLabStandIn
from tests.support.github_api import GitHubStandIn
from tests.support.gitrepos import WorkTree
from tests.support.manifests import ingress, to_yaml
from tests.support.processes import poll
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
        page = serve.http.get(f"{serve.api}/branches/feature%2Fidle", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "preview expired after 1s idle; push to bring it back" in page.text
        assert 'class="state state-expired"' in page.text
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
        page = serve.http.get(f"{serve.api}/branches/feature%2Fold", headers={"Accept": "text/html"})
        assert "preview refused: max_previews=1 reached" in page.text and "state-capped" in page.text
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


def forge_env(**variables: str) -> dict[str, str]:
    """This process's environment without its own settings, plus ``GITOPS_INGRESS_WEB_<NAME>``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_INGRESS_")}
    return environ | {f"GITOPS_INGRESS_WEB_{name}": value for name, value in variables.items()}


@pytest.mark.slow
def test_serve_deploys_previews_on_github_and_marks_them_inactive_when_they_go(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    # the preview goes by deletion here: an expiry's timing would race the deployment under load
    # (the expiry's own status is the GitLab test's and the unit tests' business)
    remote, work = shop_remote(tmp_path, "feature/x")
    head = remote.head("feature/x")
    with GitHubStandIn(token="gh-token", repository="acme/routes") as api:
        env = forge_env(GITHUB_API_URL=api.url, GITHUB_REPOSITORY="acme/routes", GITHUB_TOKEN="gh-token")
        serve = ServeProcess(tmp_path, remote.url, {"web:80": upstreams["web"].url}, env=env)
        try:
            poll(lambda: bool(api.deployments), "the deployment", WAIT, logs=serve.log)
            work.delete_remote_branch("feature/x")
            assert serve.webhook("feature/x").status_code == 202

            def inactive() -> bool:
                return any(s["state"] == "inactive" for d in api.deployments for s in api.deployment_statuses[d["id"]])

            poll(inactive, "the deployment marked inactive", WAIT, logs=serve.log)
        finally:
            code = serve.stop()
    assert code == 0, serve.log()
    (deployment,) = api.deployments
    assert (deployment["ref"], deployment["environment"]) == (head, "preview/feature/x")
    success, gone = api.deployment_statuses[deployment["id"]]
    assert success["state"] == "success" and shop("feature/x") in success["environment_url"]
    assert gone == {"state": "inactive", "description": "the branch was deleted; its previews were removed"}
    assert ("success", "routes applied; previews are live") in [
        (s["state"], s["description"]) for s in api.statuses[head]
    ]
    assert all("target_url" not in s for s in api.statuses[head])  # no public URL: no link to give


@pytest.mark.slow
def test_serve_sets_gitlab_commit_statuses_as_previews_are_capped(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    remote, work = shop_remote(tmp_path, "feature/old", settings="max_previews: 1\n")
    old = remote.head("feature/old")
    with GitLabStandIn(token="glpat", project="grp/routes") as api:
        env = forge_env(
            FORGE="gitlab",
            FORGE_API_URL=api.url + "/api/v4",
            FORGE_REPOSITORY="grp/routes",
            FORGE_TOKEN="glpat",
            PUBLIC_URL="https://dash.example.com",
        )
        serve = ServeProcess(tmp_path, remote.url, {f"{n}:80": up.url for n, up in upstreams.items()}, env=env)
        try:
            poll(lambda: bool(api.statuses.get(old)), "the first status", WAIT, logs=serve.log)
            work.branch("feature/new")
            push_backend(work, "feature/new", "web-v2")
            assert serve.webhook("feature/new").status_code == 202

            def refused() -> bool:
                return any(s["state"] == "failed" for s in api.statuses.get(old, []))

            poll(refused, "the cap's failed status", WAIT, logs=serve.log)
        finally:
            code = serve.stop()
    assert code == 0, serve.log()
    assert [s["state"] for s in api.statuses[old]][-2:] == ["success", "failed"]
    assert api.statuses[old][-1] == {
        "state": "failed",
        "name": "gitops-ingress/preview",
        "description": "preview refused: max_previews reached",
        "target_url": "https://dash.example.com/branches/feature%2Fold",
    }
    assert {r.path for r in api.requests} >= {f"/api/v4/projects/grp%2Froutes/statuses/{old}"}
