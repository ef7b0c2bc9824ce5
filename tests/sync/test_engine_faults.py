"""Concurrency, restarts and faults: superseded commits, slow targets, failures and recovery,
hostile branch names and hostile repository content."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest

from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.status import SyncState
from tests.gitrepo.servers import closed_port
from tests.support.manifests import ingress, to_yaml
from tests.sync.conftest import WAIT, CountingTarget, running, seed

pytestmark = pytest.mark.anyio


def preview(branch: str, host: str) -> str:
    return preview_host(branch, host, "preview.localhost")


async def test_newer_commit_supersedes_one_still_waiting(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/busy")
    target = CountingTarget()
    async with running(tmp_path, remote, target=target) as h:
        gate = target.gates["feature/busy"] = asyncio.Event()
        target.entered.pop("feature/busy", None)
        commits = []
        for n in range(3):
            work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", f"web-{n}"))})
            commits.append(work.commit(f"v{n}"))
            work.push("feature/busy")
            await h.engine.refresh("feature/busy")
            if n == 0:  # the first sync is now inside the (held) target
                await asyncio.wait_for(target.entered.setdefault("feature/busy", asyncio.Event()).wait(), WAIT)
        gate.set()
        await h.engine.settle(WAIT)
        applied = [envs["production"] for branch, envs in target.applied if branch == "feature/busy"]
        assert applied[-2:] == [commits[0], commits[2]]  # commits[1] was overwritten while waiting
        assert commits[1] not in applied
        assert h.resolve(preview("feature/busy", "shop.example.com")) == "shop/web-2:80"


async def test_a_slow_target_for_one_branch_blocks_neither_others_nor_fetching(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    target = CountingTarget()
    target.gates["feature/slow"] = asyncio.Event()
    async with running(tmp_path, remote, target=target) as h:
        work.branch("feature/slow")
        work.push("feature/slow")
        work.branch("feature/fast")
        work.push("feature/fast")
        await h.engine.refresh(None)  # returns although feature/slow is stuck in the target
        await asyncio.wait_for(target.entered.setdefault("feature/slow", asyncio.Event()).wait(), WAIT)
        await h.wait_until(lambda: h.resolve(preview("feature/fast", "shop.example.com")) == "shop/web:80")
        assert h.engine.branch("feature/slow").state is SyncState.PENDING  # type: ignore[union-attr]
        assert h.engine.metrics.queue_depth._value.get() == 0
        target.gates["feature/slow"].set()
        await h.engine.settle(WAIT)
        assert h.engine.branch("feature/slow").state is SyncState.APPLIED  # type: ignore[union-attr]


async def test_restart_reapplies_nothing_that_is_current(tmp_path: Path) -> None:
    remote, _ = seed(tmp_path, branch="feature/x")
    async with running(tmp_path, remote) as h:
        before = h.engine.routing_state()
        assert len(h.target.applied) == 2
    target = CountingTarget()
    async with running(tmp_path, remote, target=target) as h:
        assert target.applied == [] and sorted(target.adopted) == ["feature/x", "main"]
        after = h.engine.routing_state()
        assert after.stable.version == before.stable.version
        assert {b: t.version for b, t in after.previews.items()} == {b: t.version for b, t in before.previews.items()}
        assert all(b.state is SyncState.APPLIED for b in h.engine.branches())


async def test_a_sync_cut_short_is_completed_by_the_next_start(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    target = CountingTarget()
    async with running(tmp_path, remote, target=target) as h:
        first = remote.head("main")
        target.gates["main"] = asyncio.Event()  # never set: the sync hangs inside the target
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-2"))})
        second = work.commit("v2")
        work.push("main")
        target.entered.pop("main", None)
        await h.engine.refresh("main")
        await asyncio.wait_for(target.entered.setdefault("main", asyncio.Event()).wait(), WAIT)
    # stopped mid-sync: nothing of the second commit was recorded
    async with running(tmp_path, remote) as h:
        assert [envs["production"] for _, envs in h.target.applied] == [second]
        assert h.engine.branch("main").applied_commit == second != first  # type: ignore[union-attr]
        assert h.resolve("shop.example.com") == "shop/web-2:80"


async def test_target_failure_is_shown_and_retried_with_back_off(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    target = CountingTarget()
    failures = {"left": 2}

    def fail(branch: str) -> Exception | None:
        if branch == "feature/flaky" and failures["left"]:
            failures["left"] -= 1
            return SourceError("target unavailable")
        return None

    target.fail = fail
    async with running(tmp_path, remote, target=target) as h:
        work.branch("feature/flaky")
        work.push("feature/flaky")
        event = await h.wait_event(
            lambda e: e.type == "branch" and e.data.get("error") is not None, lambda: h.engine.refresh(None)
        )
        assert "target unavailable" in event.data["error"]
        status = h.engine.branch("feature/flaky")
        assert status is not None and status.state is SyncState.ERROR and "retrying" in status.message
        await h.wait_event(lambda e: e.type == "sync" and e.branch == "feature/flaky")
        assert h.engine.branch("feature/flaky").state is SyncState.APPLIED  # type: ignore[union-attr]
        assert [r.result for r in h.engine.history("feature/flaky")][-2:] == ["error", "error"]


async def test_unreachable_remote_keeps_routes_and_says_why(tmp_path: Path) -> None:
    remote, _work = seed(tmp_path)
    async with running(tmp_path, remote) as h:
        moved = remote.path.with_name("moved.git")
        shutil.move(remote.path, moved)
        with pytest.raises(SourceError):
            await h.engine.refresh(None)
        status = h.engine.branch("main")
        assert status is not None and status.state is SyncState.ERROR
        assert "remote unavailable" in status.message
        assert h.resolve("shop.example.com") == "shop/web:80"
        assert h.engine.metrics.fetch_failures._value.get() == 1
        shutil.move(moved, remote.path)
        await h.engine.refresh(None)
        assert h.engine.branch("main").state is SyncState.APPLIED  # type: ignore[union-attr]


async def test_first_fetch_failing_serves_the_stored_state(tmp_path: Path) -> None:
    remote, _ = seed(tmp_path)
    async with running(tmp_path, remote):
        pass
    # the remote is unreachable at the next start (a local path that vanished is a configuration
    # error instead: tests/e2e/test_serve_repository_faults.py)
    async with running(tmp_path, remote, url=f"http://127.0.0.1:{closed_port()}/config.git") as h:
        assert h.resolve("shop.example.com") == "shop/web:80"
        assert h.engine.remote_error and h.engine.branch("main").state is SyncState.ERROR  # type: ignore[union-attr]


HOSTILE = [
    "feature/ünïcødé-ブランチ",
    "f" * 250,
    "a/b/c/d/e/f/g/h/i/j/k/l/m",
    "--upload-pack=touch",
    "feature/login",
    "feature-login",
]


async def test_hostile_branch_names_are_handled_safely(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    for name in HOSTILE:
        work.branch(name)
        work.push(name)
    async with running(tmp_path, remote) as h:
        names = [b.name for b in h.engine.branches()]
        assert sorted(names) == sorted(["main", *HOSTILE])
        slugs = [b.slug for b in h.engine.branches()]
        assert len(set(slugs)) == len(slugs)
        for name in HOSTILE:
            host = preview(name, "shop.example.com")
            assert len(host.split(".")[0]) <= 63
            assert h.resolve(host) == "shop/web:80", name
        # names from a webhook payload that git would read as options or reject as refs
        marker = tmp_path / "x"
        for name in (f"--upload-pack=touch {marker}", "a..b", "", "-"):
            await h.engine.push(name, False)
        await h.engine.settle(WAIT)
        assert not marker.exists()
        assert h.engine.remote_error is None and len(h.engine.branches()) == len(HOSTILE) + 1


async def test_hostile_repository_content_is_refused_with_findings(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    work.branch("feature/hostile")
    outside = tmp_path / "secret.yaml"
    outside.write_text(to_yaml(ingress("leak", "leak.example.com", "leak")))
    work.symlink("environments/production/link.yaml", str(outside))
    work.write({"environments/production/binary.yaml": b"\x00\xff\xfe binary \x00"})
    work.submodule("environments/production/sub")
    work.commit("hostile")
    work.push("feature/hostile")
    async with running(tmp_path, remote) as h:
        status = h.engine.branch("feature/hostile")
        assert status is not None and status.state is SyncState.REFUSED
        files = {f.file for f in status.findings}
        assert "environments/production/binary.yaml" in files
        assert "environments/production/link.yaml" in files
        assert h.resolve(preview("feature/hostile", "leak.example.com")) is None
        assert h.resolve("shop.example.com") == "shop/web:80"


async def test_a_hanging_fetch_is_stopped_and_reported_while_routes_keep_serving(tmp_path: Path) -> None:
    import socket

    remote, _work = seed(tmp_path)
    async with running(tmp_path, remote):
        pass
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/config.git"
        async with running(tmp_path, remote, url=url, fetch_timeout=1.0) as h:
            assert h.resolve("shop.example.com") == "shop/web:80"
            status = h.engine.branch("main")
            assert status is not None and status.state is SyncState.ERROR
            assert "did not finish within 1 s" in status.message
            assert h.engine.metrics.fetch_failures._value.get() >= 1


async def test_a_hanging_fetch_does_not_hold_up_the_next_read(tmp_path: Path) -> None:
    """RepoAccess: fetches run on their own thread and reads take no lock a fetch holds, so the
    builds of commits already fetched go on while the network hangs."""
    import socket

    from gitops_ingress.core.errors import GitopsIngressError
    from gitops_ingress.gitrepo import Mirror
    from gitops_ingress.sync.repoaccess import RepoAccess

    with socket.socket() as silent:  # accepts the fetch's connection and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        mirror = Mirror(f"http://127.0.0.1:{silent.getsockname()[1]}/config.git", tmp_path / "m.git", fetch_timeout=20)
        access = RepoAccess(mirror)
        try:
            await access.ensure()
            connected = asyncio.create_task(asyncio.to_thread(silent.accept))
            fetching = asyncio.create_task(access.fetch(None))
            connection, _ = await asyncio.wait_for(connected, WAIT)  # the fetch is on the wire now
            try:
                assert await asyncio.to_thread(mirror.branches) == {}  # reads are not held up by it
                assert not fetching.done()
            finally:
                connection.close()  # the remote hangs up: the fetch fails, and says so
            with pytest.raises(GitopsIngressError):
                await asyncio.wait_for(fetching, WAIT)
        finally:
            access.close()
            mirror.close()


async def test_a_fetch_while_a_branch_builds_does_not_throw_the_build_away(tmp_path: Path) -> None:
    """Webhooks keep coming while a branch builds (a push of 500 refs is 500 webhooks, and so
    several fetches): each fetch finds the head being synced and leaves it be, so the commit is
    built once, where each fetch used to discard the build under way and start it again."""
    remote, work = seed(tmp_path, branch="feature/x")
    async with running(tmp_path, remote) as h:
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v2"))})
        commit = work.commit("v2")
        work.push("feature/x")
        h.mirror.build_hold = threading.Event()
        try:
            await h.engine.refresh("feature/x")
            await h.mirror.wait_built(commit)  # its build is under way, and held
            await h.engine.refresh("feature/x")  # more webhooks' fetches see the same head
            await h.engine.refresh(None)
        finally:
            h.mirror.build_hold.set()
        await h.engine.settle(WAIT)
        assert h.mirror.built.count(commit) == 1
        assert h.resolve(preview_host("feature/x", "shop.example.com", "preview.localhost")) == "shop/web-v2:80"
