"""Push to live: when a push was noticed, carried watcher -> engine -> store, and how long its
commit took to go live (real git remote, real store, the local target)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import pytest

from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync import Store
from gitops_ingress.sync.pushes import PER_BRANCH, PushTimes
from gitops_ingress.sync.store import SyncEntry
from gitops_ingress.sync.watcher import Noticed, NoticedMap, Watcher
from tests.support.manifests import ingress, to_yaml
from tests.sync.conftest import BAD_HOST, running, seed

pytestmark = pytest.mark.anyio


async def test_the_watcher_hands_over_the_earliest_notice_per_pending_branch() -> None:
    seen: list[tuple[str | None, dict[str | None, Noticed]]] = []
    finished = asyncio.Event()

    async def refresh(branch: str | None, noticed: NoticedMap) -> None:
        seen.append((branch, dict(noticed)))

    watcher = Watcher(refresh, interval=3600, debounce=0.05, on_change=finished.set)
    watcher.start()
    try:
        before = time.monotonic()
        watcher.request("feature/a")
        first = time.monotonic()
        watcher.request("feature/a")  # a retried delivery of the same push
        watcher.request("feature/b")
        await asyncio.wait_for(finished.wait(), 5)
    finally:
        await watcher.stop()
    ((branch, noticed),) = seen
    assert branch is None and noticed.keys() == {"feature/a", "feature/b"}
    assert before <= noticed["feature/a"].clock <= first <= noticed["feature/b"].clock
    assert datetime.fromisoformat(noticed["feature/a"].at).tzinfo is not None


def test_push_times_are_kept_per_commit_first_notice_wins_and_bounded() -> None:
    times = PushTimes()
    early, late = Noticed("2026-12-02T00:00:00+00:00", 1.0), Noticed("2026-12-02T00:00:05+00:00", 6.0)
    times.note("b", "c1", early)
    times.note("b", "c1", late)  # noticed again by a poll: still the first time
    times.note("b", "c2", late)  # a newer push while c1 syncs: its own time, c1's kept
    assert times.get("b", "c1") is early and times.get("b", "c2") is late
    times.forget("b", "c1")
    assert times.get("b", "c1") is None and times.get("b", "c2") is late
    for index in range(PER_BRANCH + 2):
        times.note("b", f"x{index}", early)
    assert times.get("b", "c2") is None and times.get("b", f"x{PER_BRANCH + 1}") is early
    times.forget("b")
    assert times.get("b", f"x{PER_BRANCH + 1}") is None


async def test_a_pushed_commit_records_when_it_was_noticed_and_its_time_to_live(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/x")
    async with running(tmp_path, remote) as h:
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v2"))})
        commit = work.commit("v2")
        work.push("feature/x")
        event = await h.wait_event(
            lambda e: e.type == "sync" and e.branch == "feature/x", lambda: h.engine.push("feature/x", False)
        )
        assert event.data["commit"] == commit and event.data["push_to_live_ms"] > 0
        rows = [r for r in h.engine.history("feature/x") if r.commit == commit]
        assert rows and all(r.push_to_live_ms == pytest.approx(event.data["push_to_live_ms"], abs=0.001) for r in rows)
        assert all(datetime.fromisoformat(r.noticed_at) <= datetime.fromisoformat(r.started_at) for r in rows)
        count = h.engine.metrics.registry.get_sample_value("gitops_ingress_push_to_live_seconds_count")
        assert count is not None and count >= 1

        work.write({"environments/production/broken.yaml": BAD_HOST})
        refused = work.commit("broken")
        work.push("feature/x")
        event = await h.wait_event(
            lambda e: e.type == "sync" and e.data["commit"] == refused, lambda: h.engine.push("feature/x", False)
        )
        assert event.data["result"] == "refused" and event.data["push_to_live_ms"] is None
        rows = [r for r in h.engine.history("feature/x") if r.commit == refused]
        assert rows and all(r.noticed_at and r.push_to_live_ms is None for r in rows)  # noticed, never live
        assert h.engine.branch("feature/x").state is SyncState.REFUSED  # type: ignore[union-attr]


def test_an_old_state_db_gains_the_push_columns(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(
        """CREATE TABLE syncs (id INTEGER PRIMARY KEY AUTOINCREMENT, branch TEXT NOT NULL,
        commit_sha TEXT NOT NULL, environment TEXT NOT NULL DEFAULT '', started_at TEXT NOT NULL,
        duration_ms REAL NOT NULL, result TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
        findings TEXT NOT NULL DEFAULT '[]', files_parsed INTEGER NOT NULL DEFAULT 0);
        INSERT INTO syncs (branch, commit_sha, started_at, duration_ms, result)
        VALUES ('main', 'c0', '2026-12-01T00:00:00+00:00', 3.0, 'applied');"""
    )
    old.close()
    store = Store(path)
    try:
        store.save_branch(
            "main",
            head="c1",
            head_info=None,
            state=SyncState.APPLIED,
            message="",
            updated_at="2026-12-02T00:00:01+00:00",
            history=[
                SyncEntry(
                    "c1",
                    "production",
                    "2026-12-02T00:00:00.5+00:00",
                    2.0,
                    "applied",
                    noticed_at="2026-12-02T00:00:00+00:00",
                    push_to_live_ms=750.0,
                )
            ],
        )
        new, kept = store.history("main")
    finally:
        store.close()
    assert (kept.commit, kept.noticed_at, kept.push_to_live_ms) == ("c0", "", None)
    assert (new.commit, new.noticed_at, new.push_to_live_ms) == ("c1", "2026-12-02T00:00:00+00:00", 750.0)
    Store(path).close()  # opening a migrated file again adds nothing twice


async def test_a_failed_fetch_keeps_its_notice_times_for_the_fetch_that_follows() -> None:
    seen: list[tuple[str | None, dict[str | None, Noticed]]] = []
    fetched = asyncio.Event()

    async def refresh(branch: str | None, noticed: NoticedMap) -> None:
        seen.append((branch, dict(noticed)))
        fetched.set()
        if len(seen) == 1:
            raise SourceError("the remote is down")

    watcher = Watcher(refresh, interval=3600, debounce=0.01, retry_initial=3600)
    watcher.start()
    try:
        for branch in ("feature/a", "feature/b", None):
            fetched.clear()
            watcher.request(branch)  # a delivery wakes the watcher even while it backs off
            await asyncio.wait_for(fetched.wait(), 5)
    finally:
        await watcher.stop()
    (_, first), (second_target, second), (third_target, third) = seen
    assert second_target == "feature/b" and second["feature/a"] is first["feature/a"]  # carried over
    assert third_target is None and third["feature/a"] is first["feature/a"]  # not fetched by the one-ref fetch
    assert "feature/b" not in third  # fetched: done


def test_a_moment_read_earlier_keeps_its_clock_and_gets_its_wall_time() -> None:
    clock = time.monotonic() - 2.0  # a delivery that arrived two seconds ago
    noticed, now = Noticed.at_clock(clock), Noticed.now()
    assert noticed.clock == clock and noticed.elapsed_ms() >= 2000
    seconds = (datetime.fromisoformat(now.at) - datetime.fromisoformat(noticed.at)).total_seconds()
    assert 1.9 <= seconds <= 2.5
