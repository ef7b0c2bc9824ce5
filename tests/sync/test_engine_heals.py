"""Issue 12, points 11 and 12, with the real Engine and a real Mirror of a real bare remote: a
mirror deleted under the running engine is made again and the fault is reported while it lasts;
a burst of push notifications during a slow fetch costs one more fetch, not one per branch."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest

from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.status import SyncState
from tests.support.gitrepos import git
from tests.support.manifests import ingress, to_yaml
from tests.sync.conftest import running, seed

pytestmark = pytest.mark.anyio


async def test_a_deleted_mirror_is_reported_while_it_lasts_and_made_again(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    async with running(tmp_path, remote) as h:
        shutil.rmtree(h.mirror.path)
        hidden = remote.path.rename(remote.path.with_name("away.git"))  # nothing to make it from yet
        await h.engine.push("main", False)
        await h.wait_until(lambda: h.engine.remote_error is not None)
        assert "mirror" in h.engine.remote_error and str(h.mirror.path) in h.engine.remote_error  # type: ignore[operator]
        status = h.engine.branch("main")
        assert status is not None and status.state is SyncState.ERROR
        assert str(h.mirror.path) in status.message
        assert h.resolve("shop.example.com") == "shop/web:80"  # the last good routes keep serving

        hidden.rename(remote.path)
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v2"))})
        head = work.commit("v2")
        work.push("main")
        await h.engine.push("main", False)  # a one-branch request: the refill fetches every branch
        await h.wait_until(lambda: h.resolve("shop.example.com") == "shop/web-v2:80")
        await h.engine.settle()
        assert h.engine.remote_error is None
        assert (h.mirror.path / "HEAD").is_file() and h.mirror.branches() == remote.branches()
        healed = h.engine.branch("main")
        assert healed is not None and healed.state is SyncState.APPLIED and healed.applied_commit == head


async def test_a_deleted_mirror_heals_at_the_next_fetch_when_the_remote_is_there(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/x")
    async with running(tmp_path, remote) as h:
        shutil.rmtree(h.mirror.path)
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-x"))})
        work.commit("x2")
        work.push("feature/x")
        await h.refresh("feature/x")
        host = preview_host("feature/x", "shop.example.com", "preview.localhost")
        assert h.resolve(host) == "shop/web-x:80"
        assert h.mirror.branches() == remote.branches()  # main came back too, not only feature/x
        assert h.engine.remote_error is None


async def test_requests_for_many_branches_during_one_slow_fetch_cost_one_more_fetch(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    names = [f"feature/b{n:02d}" for n in range(20)]
    async with running(tmp_path, remote) as h:
        before = h.mirror.fetches
        git(work.path, "push", "-q", "--no-verify", "origin", *(f"HEAD:refs/heads/{n}" for n in names))
        h.mirror.hold = threading.Event()  # the remote is slow: the first fetch waits
        await h.engine.push(names[0], False)
        await h.mirror.wait_fetches(before + 1)
        for name in names:  # one push, one notification per branch, all during that fetch
            await h.engine.push(name, False)
        h.mirror.hold.set()
        await h.engine.settle()
        assert h.mirror.fetches - before <= 2, h.mirror.asked[before:]
        hosts = {n: preview_host(n, "shop.example.com", "preview.localhost") for n in names}
        assert all(h.resolve(host) == "shop/web:80" for host in hosts.values())


async def test_a_burst_for_one_branch_during_a_slow_fetch_costs_one_more_fetch(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/hot")
    async with running(tmp_path, remote) as h:
        before = h.mirror.fetches
        h.mirror.hold = threading.Event()
        await h.engine.push("feature/hot", False)
        await h.mirror.wait_fetches(before + 1)
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-hot"))})
        work.commit("hot")
        work.push("feature/hot")
        await asyncio.gather(*(h.engine.push("feature/hot", False) for _ in range(200)))
        h.mirror.hold.set()
        await h.engine.settle()
        assert h.mirror.asked[before:] == ["feature/hot", "feature/hot"]
        assert h.resolve(preview_host("feature/hot", "shop.example.com", "preview.localhost")) == "shop/web-hot:80"
