"""Branch lifecycle against real git: new branch -> previews, update -> re-apply, delete -> gone,
bad commits refused while the last good routes keep serving, include/exclude patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from tests.support.manifests import ingress, to_yaml
from tests.sync.conftest import BAD_HOST, running, seed

pytestmark = pytest.mark.anyio
DOMAIN = "preview.localhost"


def preview(branch: str, host: str) -> str:
    return preview_host(branch, host, DOMAIN)


async def test_stable_and_preview_routes_from_branches(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    work.branch("feature/api-v2")
    work.write({"environments/production/api.yaml": to_yaml(ingress("api", "api.example.com", "api-v2", path="/v1"))})
    work.commit("api v2")
    work.push("feature/api-v2")
    async with running(tmp_path, remote) as h:
        assert h.resolve("api.example.com", "/v1/x") == "shop/api:80"
        assert h.resolve(preview("feature/api-v2", "api.example.com"), "/v1/x") == "shop/api-v2:80"
        assert h.resolve(preview("feature/api-v2", "shop.staging.example.com")) == "shop/web:80"
        main, feature = h.engine.branches()
        assert (main.name, main.stable, main.state) == ("main", True, SyncState.APPLIED)
        assert feature.state is SyncState.APPLIED and feature.applied_commit == remote.head("feature/api-v2")
        assert {p.host for p in feature.preview_urls} >= {preview("feature/api-v2", "api.example.com")}
        assert not main.preview_urls
        diff = h.engine.diff("feature/api-v2")
        assert diff is not None and diff.counts == {"retargeted": 1}


async def test_push_reapplies_and_parses_only_changed_files(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/x")
    async with running(tmp_path, remote) as h:
        host = preview("feature/x", "shop.example.com")
        assert h.resolve(host) == "shop/web:80"
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v2"))})
        commit = work.commit("v2")
        work.push("feature/x")
        event = await h.wait_event(
            lambda e: e.type == "sync" and e.branch == "feature/x", lambda: h.engine.push("feature/x", False)
        )
        assert event.data["commit"] == commit
        assert event.data["files_parsed"] == 1 and event.data["files"] == 3
        assert h.resolve(host) == "shop/web-v2:80"
        assert h.resolve("shop.example.com") == "shop/web:80"  # main untouched
        records = h.engine.history("feature/x")
        assert {r.commit for r in records[:2]} == {commit} and all(r.files_parsed == 1 for r in records[:2])


async def test_deleted_branch_loses_previews_at_once(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/gone")
    async with running(tmp_path, remote) as h:
        host = preview("feature/gone", "shop.example.com")
        assert h.resolve(host) == "shop/web:80"
        work.delete_remote_branch("feature/gone")
        await h.wait_event(lambda e: e.type == "deleted", lambda: h.engine.push("feature/gone", True))
        resolution = h.engine.routing_state().resolve(host, "/")
        assert resolution.unknown_preview and resolution.match.backend is None
        assert h.engine.branch("feature/gone") is None
        assert h.target.removed == ["feature/gone"]
        assert h.engine.history("feature/gone")[0].result == "removed"


async def test_deleted_branch_keeps_previews_for_the_ttl(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/ttl")
    settings = Settings(deleted_preview_grace=0.5)
    async with running(tmp_path, remote, settings) as h:
        host = preview("feature/ttl", "shop.example.com")
        work.delete_remote_branch("feature/ttl")
        await h.refresh(None)
        status = h.engine.branch("feature/ttl")
        assert status is not None and status.state is SyncState.DELETED and status.deleted_at
        assert h.resolve(host) == "shop/web:80"  # still served during the TTL
        await h.wait_event(lambda e: e.type == "deleted")
        assert h.resolve(host) is None and h.engine.branch("feature/ttl") is None


async def test_branch_that_comes_back_within_the_ttl_is_kept(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/back")
    async with running(tmp_path, remote, Settings(deleted_preview_grace=3600)) as h:
        work.delete_remote_branch("feature/back")
        await h.refresh(None)
        assert h.engine.branch("feature/back").state is SyncState.DELETED  # type: ignore[union-attr]
        work.push("feature/back")
        await h.refresh(None)
        status = h.engine.branch("feature/back")
        assert status is not None and status.state is SyncState.APPLIED and status.deleted_at is None


async def test_bad_commit_on_main_keeps_the_stable_routes(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    async with running(tmp_path, remote) as h:
        good = remote.head("main")
        work.write(
            {
                "environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-new")),
                "environments/production/broken.yaml": BAD_HOST,
            }
        )
        bad = work.commit("broken")
        work.push("main")
        await h.refresh("main")
        status = h.engine.branch("main")
        assert status is not None and status.state is SyncState.REFUSED
        assert "environments/production/broken.yaml:" in status.message
        assert status.head is not None and status.head.sha == bad
        production = {e.environment: e for e in status.environments}["production"]
        assert production.state is SyncState.REFUSED and production.applied_commit == good
        assert any(f.file == "environments/production/broken.yaml" and f.line for f in production.findings)
        assert h.resolve("shop.example.com") == "shop/web:80"  # last good, not web-new
        staging = {e.environment: e for e in status.environments}["staging"]
        # a commit is one unit: the valid environment is held back at its last good commit too
        assert staging.state is SyncState.REFUSED and staging.applied_commit == good and not staging.findings
        assert status.applied_commit == good
        refused = [r for r in h.engine.history("main") if r.result == "refused"]
        assert refused and refused[0].commit == bad and refused[0].findings


async def test_a_new_branch_refused_in_one_environment_gets_no_preview_at_all(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    work.branch("feature/bad")
    work.write({"environments/production/broken.yaml": BAD_HOST})
    work.commit("bad")
    work.push("feature/bad")
    async with running(tmp_path, remote) as h:
        status = h.engine.branch("feature/bad")
        assert status is not None and status.state is SyncState.REFUSED
        assert status.preview_urls == () and status.applied_commit is None
        assert "nothing was live before, so nothing serves" in status.message  # and no claim otherwise
        assert h.resolve(preview("feature/bad", "shop.example.com")) is None
        assert h.resolve(preview("feature/bad", "shop.staging.example.com")) is None


async def test_include_and_exclude_patterns_choose_previews(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    for name in ("feature/a", "feature/wip-b", "release/1"):
        work.branch(name)
        work.push(name)
    settings = Settings.build({"branches": {"include": ["feature/*"], "exclude": ["*/wip-*"]}})
    async with running(tmp_path, remote, settings) as h:
        assert [b.name for b in h.engine.branches()] == ["main", "feature/a"]
        assert set(h.engine.routing_state().previews) == {"feature/a"}


async def test_repository_without_environments_is_refused_with_a_finding(tmp_path: Path) -> None:
    remote, _work = seed(tmp_path, {"README.md": "no environments here\n"})
    async with running(tmp_path, remote) as h:
        status = h.engine.branch("main")
        assert status is not None and status.state is SyncState.REFUSED
        assert "config/no-yaml" in status.message


async def test_empty_repository_then_first_push(tmp_path: Path) -> None:
    from tests.support.gitrepos import make_remote

    remote = make_remote(tmp_path)
    async with running(tmp_path, remote) as h:
        assert h.engine.branches() == []
        work = remote.clone()
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web"))})
        work.commit("first")
        work.push("main")
        await h.refresh(None)
        assert h.resolve("shop.example.com") == "shop/web:80"


async def test_polling_picks_up_pushes_without_a_webhook(tmp_path: Path) -> None:
    from gitops_ingress.sync import EngineOptions

    remote, work = seed(tmp_path)
    options = EngineOptions(poll_interval=0.2, poll_jitter=0.5, retry_initial=0.05, retry_max=0.2)
    async with running(tmp_path, remote, options=options) as h:
        work.branch("feature/polled")
        work.push("feature/polled")
        event = await h.wait_event(lambda e: e.type == "sync" and e.branch == "feature/polled")
        assert event.data["commit"] == remote.head("feature/polled")


async def test_a_status_is_made_once_and_follows_every_change(tmp_path: Path) -> None:
    """A branch's status (with its preview hosts) is kept until the branch changes: asked twice
    it is the same object, and a new host or a refused commit shows at once."""
    remote, work = seed(tmp_path, branch="feature/x")
    async with running(tmp_path, remote) as h:

        async def synced(path: str, text: str) -> str:
            work.write({path: text})
            commit = work.commit(f"{path} changed")
            work.push("feature/x")
            await h.wait_event(
                lambda e: e.type == "branch" and e.branch == "feature/x" and e.data.get("commit") == commit,
                lambda: h.engine.push("feature/x", False),
            )
            return commit

        first = h.engine.branch("feature/x")
        assert first is not None and first is h.engine.branch("feature/x")
        assert first in h.engine.branches()
        commit = await synced("environments/production/new.yaml", to_yaml(ingress("new", "new.example.com", "web")))
        grown = h.engine.branch("feature/x")
        assert grown is not None and grown.applied_commit == commit
        assert {p.host for p in grown.preview_urls} == {p.host for p in first.preview_urls} | {
            preview("feature/x", "new.example.com")
        }
        bad = await synced("environments/production/bad.yaml", BAD_HOST)
        refused = h.engine.branch("feature/x")
        assert refused is not None and refused.state is SyncState.REFUSED and refused.head is not None
        assert refused.head.sha == bad and refused.applied_commit == commit and "refused" in refused.message


async def test_a_commit_whose_tree_was_built_is_not_built_again(tmp_path: Path) -> None:
    """A new branch at a tree already built (a branch made from main, an empty commit) takes that
    build: its commit is never read as files, yet it shows its own commit and serves its previews."""
    remote, work = seed(tmp_path)
    async with running(tmp_path, remote) as h:
        work.branch("feature/same")
        commit = work.commit("nothing changed but the commit")
        work.push("feature/same")
        event = await h.wait_event(
            lambda e: e.type == "sync" and e.branch == "feature/same", lambda: h.engine.push("feature/same", False)
        )
        assert event.data["commit"] == commit and event.data["files_parsed"] == 0
        assert commit not in h.mirror.built and remote.head("main") in h.mirror.built
        status = h.engine.branch("feature/same")
        assert status is not None and status.applied_commit == commit and status.head is not None
        assert status.head.sha == commit and status.head.message.strip() == "nothing changed but the commit"
        assert h.resolve(preview("feature/same", "api.example.com"), "/v1/x") == "shop/api:80"
        assert h.engine.history("feature/same")[0].commit == commit
