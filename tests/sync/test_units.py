"""Fast tests of the engine's parts on their own: store, event bus, planning, watcher timing,
parse cache, route book."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gitops_ingress.core.annotations.model import Status
from gitops_ingress.core.annotations.usage import AnnotationUse
from gitops_ingress.core.build import EnvironmentBuild, TreeBuild, build
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.routing import Route, RouteTable, RoutingState, ServiceRef
from gitops_ingress.core.settings import RetentionSettings, Settings
from gitops_ingress.core.status import CommitInfo, SyncState
from gitops_ingress.core.tree import MemoryTree
from gitops_ingress.sync.events import EventBus
from gitops_ingress.sync.parsecache import ParseCache
from gitops_ingress.sync.plan import plan_commit
from gitops_ingress.sync.records import BranchRecord, environment_statuses
from gitops_ingress.sync.routebook import RouteBook
from gitops_ingress.sync.store import EnvironmentRow, Store, SyncEntry
from gitops_ingress.sync.watcher import NoticedMap, Watcher
from tests.support.manifests import ingress, to_yaml
from tests.support.stores import save_applied

pytestmark = pytest.mark.anyio


def table(host: str, service: str, env: str = "production") -> RouteTable:
    return RouteTable([Route(host, "/", "Prefix", ServiceRef("shop", service, "80"), "shop/x", "f.yaml", 1, env)])


def error(file: str = "environments/production/a.yaml") -> Finding:
    return Finding(rule="api/host-invalid", severity=Severity.ERROR, message="bad host", file=file, line=7)


# -- store ------------------------------------------------------------------------------------


def test_store_round_trip_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    uses = (AnnotationUse("nginx.ingress.kubernetes.io/canary", Status.DIFFERENT, "a note", 2, "e/p/a.yaml", 7),)
    row = EnvironmentRow("production", SyncState.APPLIED, "c1", table("a.example.com", "web"), (error(),), uses)
    store.save_branch(
        "feature/x",
        head="c1",
        head_info=CommitInfo(sha="c1", author="A"),
        state=SyncState.APPLIED,
        message="",
        updated_at="t",
        environments=[row],
        history=[SyncEntry("c1", "production", "t", 12.5, "applied", findings=(error(),), files_parsed=3)],
    )
    store.close()
    store = Store(tmp_path / "s.db")
    loaded = store.load_branches()["feature/x"]
    env = loaded.environments["production"]
    assert loaded.head_info == CommitInfo(sha="c1", author="A")
    assert env.table is not None and env.table.version == row.table.version  # type: ignore[union-attr]
    assert env.findings == (error(),) and env.annotations == uses  # the PR comment's table survives a restart
    (record,) = store.history("feature/x")
    assert (record.result, record.duration_ms, record.files_parsed, record.findings) == ("applied", 12.5, 3, (error(),))
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_write_is_all_or_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store._db.execute("CREATE TRIGGER no_syncs BEFORE INSERT ON syncs BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(sqlite3.DatabaseError):
        store.save_branch(
            "main",
            head="c1",
            head_info=None,
            state=SyncState.APPLIED,
            message="",
            updated_at="t",
            environments=[EnvironmentRow("production", SyncState.APPLIED, "c1", None, ())],
            history=[SyncEntry("c1", "production", "t", 1.0, "applied")],
        )
    assert store.load_branches() == {}


def test_store_deduplicates_deliveries(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.record_delivery("abc", "github", "t1") is True
    assert store.record_delivery("abc", "github", "t2") is False
    store.delivery_result("abc", "accepted")
    assert store.deliveries() == [("abc", "github", "t1", "accepted")]


def test_store_reads_do_not_wait_for_a_writer_and_writes_work_from_another_thread(tmp_path: Path) -> None:
    """The engine writes on a thread of its own while the dashboard reads on the loop: a read
    must not queue behind a write transaction, and the store must accept the writing thread."""
    store = Store(tmp_path / "s.db")
    entry = [SyncEntry("c1", "production", "t", 1.0, "applied")]
    writer = threading.Thread(target=store.delete_branch, args=("main",), kwargs={"history": entry})
    writer.start()
    writer.join()
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock ...
    other.execute("INSERT INTO syncs (branch, commit_sha, started_at, duration_ms, result) VALUES ('x','c','t',0,'r')")
    try:
        assert [r.commit for r in store.history("main")] == ["c1"]  # ... and reads go on (WAL)
        assert store.deliveries() == []
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()


def test_store_reports_an_unusable_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    from gitops_ingress.core.errors import SourceError

    with pytest.raises(SourceError, match="state database"):
        Store(tmp_path / "file" / "s.db")


# -- events -----------------------------------------------------------------------------------


async def test_bus_delivers_in_order_and_drops_oldest_for_slow_readers() -> None:
    bus = EventBus(queue_size=3)
    subscription = bus.subscribe()
    for n in range(5):
        bus.publish("sync", f"b{n}")
    first = await subscription.__anext__()
    assert (first.branch, first.data["dropped"]) == ("b2", 2)
    assert [(await subscription.__anext__()).branch for _ in range(2)] == ["b3", "b4"]
    assert first.sequence == 3
    await subscription.aclose()
    assert bus.subscriber_count == 0


async def test_bus_close_ends_subscriptions() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    bus.close()
    assert [event async for event in subscription] == []


# -- planning ---------------------------------------------------------------------------------


def _build(
    commit: str, envs: dict[str, tuple[RouteTable, tuple[Finding, ...]]], findings: tuple[Finding, ...] = ()
) -> TreeBuild:
    return TreeBuild(
        Settings(),
        {name: EnvironmentBuild(name, t, (), f) for name, (t, f) in envs.items()},
        findings,
        commit=commit,
        info=CommitInfo(sha=commit),
    )


def test_plan_applies_valid_and_removes_missing_environments() -> None:
    old_prod = EnvironmentRow("production", SyncState.APPLIED, "c1", table("a.example.com", "web"), ())
    old_gone = EnvironmentRow("qa", SyncState.APPLIED, "c1", table("qa.example.com", "web"), ())
    build = _build(
        "c2", {"production": (table("a.example.com", "web-2"), ()), "staging": (table("s.example.com", "web"), ())}
    )
    plan = plan_commit(build, {"production": old_prod, "qa": old_gone})
    assert plan.results == {"production": "applied", "qa": "removed", "staging": "applied"}
    assert plan.state is SyncState.APPLIED and "qa" not in plan.desired
    assert {name: d.commit for name, d in plan.desired.items()} == {"production": "c2", "staging": "c2"}


def test_a_commit_is_one_unit_refused_anywhere_applied_nowhere() -> None:
    """Issue 12, point 4: a commit that broke only staging was applied to production."""
    old_prod = EnvironmentRow("production", SyncState.APPLIED, "c1", table("a.example.com", "web"), ())
    old_gone = EnvironmentRow("qa", SyncState.APPLIED, "c1", table("qa.example.com", "web"), ())
    build = _build(
        "c2",
        {"production": (table("a.example.com", "web-2"), ()), "staging": (table("s.example.com", "web"), (error(),))},
    )
    plan = plan_commit(build, {"production": old_prod, "qa": old_gone})
    assert plan.results == {"production": "held back", "qa": "held back", "staging": "refused"}
    assert plan.state is SyncState.REFUSED and "last good routes keep serving" in plan.message
    assert plan.desired["production"].keep and plan.desired["production"].commit == "c1"
    assert plan.desired["production"].table is old_prod.table and plan.desired["qa"].keep
    assert "staging" not in plan.desired  # nothing of it was ever live
    rows = {row.environment: row for row in plan.rows}
    assert rows["production"].state is SyncState.REFUSED and rows["production"].applied_commit == "c1"
    assert rows["production"].findings == () and rows["staging"].findings


def test_each_environment_says_which_commit_is_live_and_why_the_head_is_not() -> None:
    """The statuses of the plan above, and of a newer head on its way: nothing is claimed of a
    commit that was not built or applied."""
    old = {"production": EnvironmentRow("production", SyncState.APPLIED, "c1", table("a.example.com", "web"), ())}
    build = _build(
        "c2",
        {"production": (table("a.example.com", "web-2"), ()), "staging": (table("s.example.com", "web"), (error(),))},
    )
    plan = plan_commit(build, old)
    record = BranchRecord(
        "main", True, "c2", "c2", state=plan.state, environments={r.environment: r for r in plan.rows}
    )
    envs = {e.environment: e for e in environment_statuses(record)}
    assert {n: (e.state, e.commit, e.applied_commit) for n, e in envs.items()} == {
        "production": (SyncState.REFUSED, "c2", "c1"),
        "staging": (SyncState.REFUSED, "c2", None),
    }
    assert envs["production"].refused_by == envs["staging"].refused_by == ("staging",)
    assert envs["production"].reason.startswith("held back: the commit is refused in staging")
    assert envs["staging"].reason.startswith("refused here: ") and envs["staging"].findings
    record.head = "c3"  # pushed, not synced yet: pending everywhere, the old commit still live
    envs = {e.environment: e for e in environment_statuses(record)}
    assert {n: (e.state, e.commit, e.applied_commit, e.findings) for n, e in envs.items()} == {
        "production": (SyncState.PENDING, "c3", "c1", ()),
        "staging": (SyncState.PENDING, "c3", None, ()),
    }
    record.state, record.message = SyncState.ERROR, "the target failed; retrying in 2s"
    assert all(e.state is SyncState.ERROR and "target failed" in e.reason for e in environment_statuses(record))


def test_a_refusal_with_nothing_kept_says_so() -> None:
    fresh = plan_commit(_build("c3", {"production": (table("a.example.com", "web"), (error(),))}), {})
    assert "nothing was live before, so nothing serves" in fresh.message
    assert "keep serving" not in fresh.message


def test_plan_refuses_a_broken_commit_everywhere_and_never_serves_a_new_refused_env() -> None:
    old = EnvironmentRow("production", SyncState.APPLIED, "c1", table("a.example.com", "web"), ())
    repo_error = Finding(rule="config/no-yaml", severity=Severity.ERROR, message="none", file="environments")
    plan = plan_commit(_build("c2", {}, (repo_error,)), {"production": old})
    assert plan.results == {"production": "refused"} and plan.desired["production"].commit == "c1"
    fresh = plan_commit(_build("c3", {"production": (table("a.example.com", "web"), (error(),))}), {})
    assert fresh.desired == {} and fresh.rows[0].table is None


def test_plan_marks_identical_tables_unchanged() -> None:
    old = EnvironmentRow("production", SyncState.APPLIED, "c1", table("a.example.com", "web"), ())
    plan = plan_commit(_build("c2", {"production": (table("a.example.com", "web"), ())}), {"production": old})
    assert plan.results == {"production": "unchanged"} and plan.state is SyncState.APPLIED


# -- watcher ----------------------------------------------------------------------------------


async def test_watcher_coalesces_a_burst_of_requests_for_several_refs_into_one_full_fetch() -> None:
    calls: list[str | None] = []
    done = asyncio.Event()

    async def refresh(branch: str | None, noticed: NoticedMap) -> None:
        calls.append(branch)
        done.set()

    finished = asyncio.Event()
    watcher = Watcher(refresh, interval=3600, debounce=0.05, on_change=finished.set)
    watcher.start()
    try:
        for _ in range(10):
            watcher.request("feature/a")
        watcher.request("feature/b")
        await asyncio.wait_for(finished.wait(), 5)
        assert done.is_set() and not watcher.busy
        assert calls == [None]  # two refs pending: every ref in one fetch, not one fetch each
    finally:
        await watcher.stop()


async def test_watcher_fetches_just_the_ref_when_one_branch_is_pending() -> None:
    calls: list[str | None] = []
    finished = asyncio.Event()

    async def refresh(branch: str | None, noticed: NoticedMap) -> None:
        calls.append(branch)

    watcher = Watcher(refresh, interval=3600, debounce=0.05, on_change=finished.set)
    watcher.start()
    try:
        for _ in range(10):
            watcher.request("feature/a")
        await asyncio.wait_for(finished.wait(), 5)
        assert calls == ["feature/a"]
    finally:
        await watcher.stop()


async def test_watcher_lets_deliveries_that_keep_coming_after_a_fetch_join_the_next_one() -> None:
    """A delivery during a fetch and one just after it ends make one more fetch, not two: the
    next fetch waits (the debounce at least) for deliveries still coming, as a forge sends a
    push's deliveries over seconds."""
    calls: list[str | None] = []
    held = asyncio.Event()
    release = asyncio.Event()
    fetched = asyncio.Queue[None]()

    async def refresh(branch: str | None, noticed: NoticedMap) -> None:
        calls.append(branch)
        if len(calls) == 1:
            held.set()
            await release.wait()

    watcher = Watcher(refresh, interval=3600, debounce=0.5, on_change=lambda: fetched.put_nowait(None))
    watcher.start()
    try:
        watcher.request("feature/a")
        await asyncio.wait_for(held.wait(), 5)
        watcher.request("feature/b")  # during the first fetch
        release.set()
        await asyncio.wait_for(fetched.get(), 5)  # the first fetch has ended
        watcher.request("feature/c")  # just after it
        await asyncio.wait_for(fetched.get(), 5)
        assert calls == ["feature/a", None]  # b and c in one fetch of every ref
        assert not watcher.busy
    finally:
        await watcher.stop()


def test_watcher_backs_off_exponentially_with_jitter_and_a_ceiling() -> None:
    async def refresh(branch: str | None, noticed: NoticedMap) -> None:
        return None

    watcher = Watcher(refresh, interval=60, jitter=0.1, retry_initial=1, retry_max=8, rng=random.Random(7))
    assert 54 <= watcher.next_delay() <= 66
    delays = []
    for failures in range(1, 7):
        watcher.failures = failures
        delays.append(watcher.next_delay())
    bases = [1, 2, 4, 8, 8, 8]
    assert all(0.9 * b <= d <= 1.1 * b for d, b in zip(delays, bases, strict=True))


# -- parse cache and route book ---------------------------------------------------------------


def test_the_parse_cache_skips_reading_and_parsing_unchanged_files_and_evicts_least_recent() -> None:
    cache = ParseCache(capacity=3)
    files = {
        "environments/prod/a.yaml": to_yaml(ingress("a", "a.example.com", "web")).encode(),
        "environments/prod/b.yaml": to_yaml(ingress("b", "b.example.org", "web")).encode(),
    }
    first = build(MemoryTree(files), Settings(), cache=cache)
    files["environments/prod/b.yaml"] = to_yaml(ingress("b", "b.example.com", "web")).encode()
    second = build(MemoryTree(files), Settings(), cache=cache)
    assert (first.files_parsed, first.files_total) == (2, 2)
    assert (second.files_parsed, second.files_total) == (1, 2)
    assert {r.host for r in second.environments["prod"].table.routes} == {"a.example.com", "b.example.com"}
    files["environments/prod/c.yaml"] = to_yaml(ingress("c", "c.example.com", "web")).encode()
    third = build(MemoryTree(files), Settings(), cache=cache)
    assert third.files_parsed == 1 and len(cache) == 3  # the first b.yaml went


def test_the_route_book_publishes_only_real_changes() -> None:
    book = RouteBook("main", "preview.localhost")
    states: list[RoutingState] = []
    unsubscribe = book.subscribe(states.append)
    tables = {"production": table("a.example.com", "web")}
    assert book.set("main", tables)
    assert not book.set("main", tables)
    assert book.set("feature/x", tables)
    assert book.set("feature/x", {})
    assert not book.set("feature/x", {})
    assert [s.version for s in states] == [1, 2, 3]
    assert states[-1].previews == {} and book.state is states[-1]
    unsubscribe()
    book.set("feature/y", tables)
    assert len(states) == 3 and "feature/y" in book.state.previews


async def test_the_route_book_publishes_a_burst_as_one_state() -> None:
    """On a loop, changes made together are published as one state carrying all of them (a push
    of 500 branches is not 500 publications), while reads see each change at once."""
    book = RouteBook("main", "preview.localhost")
    published: asyncio.Queue[RoutingState] = asyncio.Queue()
    book.subscribe(published.put_nowait)
    tables = {"production": table("a.example.com", "web")}
    for n in range(3):
        assert book.set(f"feature/{n}", tables)
    assert book.version == 3 and published.empty()  # nothing published yet, the version known
    assert set(book.state.previews) == {"feature/0", "feature/1", "feature/2"}
    burst = await asyncio.wait_for(published.get(), 20.0)
    assert burst is book.state and burst.version == 3
    assert book.set("feature/0", {})
    alone = await asyncio.wait_for(published.get(), 20.0)
    assert alone.version == 4 and set(alone.previews) == {"feature/1", "feature/2"} and published.empty()


async def test_what_shows_routes_never_runs_ahead_of_the_proxies() -> None:
    """``published`` (what the API, the dashboard and a new stream client read) is the state the
    subscribers were given; a sync that awaits ``wait_published`` returns only once they have it."""
    book = RouteBook("main", "preview.localhost")
    given: list[RoutingState] = []
    book.subscribe(given.append)
    assert book.set("feature/x", {"production": table("a.example.com", "web")})
    assert book.published.previews == {} and not given  # recorded, not yet served
    await asyncio.wait_for(book.wait_published(), 20.0)
    assert given and book.published is given[-1] and "feature/x" in book.published.previews
    await asyncio.wait_for(book.wait_published(), 1.0)  # nothing pending: at once


def test_merge_tables_keeps_every_environment() -> None:
    merged = RouteTable.merge(
        {"staging": table("s.example.com", "web", "staging"), "production": table("a.example.com", "api")}
    )
    assert merged.hosts == ["a.example.com", "s.example.com"]
    assert str(merged.match("s.example.com", "/").backend) == "shop/web:80"


def test_incremental_routing_state_equals_a_full_rebuild() -> None:
    from gitops_ingress.core.routing import RoutingState

    rng = random.Random(11)
    hosts = ["a.example.com", "*.apps.example.com", "", "b.example.com"]
    names = ["feature/x", "feature-x", "main", "f" * 70, "fix/ü", "release/1"]
    state = RoutingState()
    for _ in range(300):
        branch = rng.choice(names)
        chosen = rng.sample(hosts, rng.randint(0, 3))
        new = RouteTable(
            [Route(h, "/", "Prefix", ServiceRef("shop", "web", "80"), "shop/x", "f.yaml", 1, "p") for h in chosen]
        )
        state = state.with_branch(branch, new if chosen and rng.random() > 0.2 else None, "main")
        fresh = RoutingState(state.stable, state.previews, state.preview_domain, state.version)
        assert state._index == fresh._index


def test_store_keeps_the_newest_syncs_of_each_branch(tmp_path: Path) -> None:
    """Issue 12, point 16: history is pruned as it is written, per branch."""
    store = Store(tmp_path / "s.db", RetentionSettings(syncs_per_branch=3))
    for index in range(7):
        for branch in ("main", "feature/x"):
            save_applied(store, branch, f"c{index}")
    store.delete_branch("gone", history=[SyncEntry("c0", "", "t", 1.0, "deleted")])
    for branch in ("main", "feature/x"):
        assert [r.commit for r in store.history(branch)] == ["c6", "c5", "c4"]
    assert store._db.execute("SELECT count(*) FROM syncs").fetchone()[0] == 7


def test_store_forgets_deliveries_older_than_the_retention(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", RetentionSettings(delivery_days=2))
    now = datetime.now(UTC)
    assert store.record_delivery("old", "github", (now - timedelta(days=3)).isoformat())
    assert store.record_delivery("recent", "github", (now - timedelta(days=1)).isoformat())
    assert store.record_delivery("new", "github", now.isoformat())
    assert [d[0] for d in store.deliveries()] == ["new", "recent"]
    assert store.record_delivery("recent", "github", now.isoformat()) is False  # still a replay


def test_store_forgets_removed_branches_after_the_retention(tmp_path: Path) -> None:
    """Preview branch names come and go: their history must not pile up under a per-name cap."""
    store = Store(tmp_path / "s.db", RetentionSettings(removed_branch_days=2))
    long_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="milliseconds")
    for branch in ("old-preview", "main"):
        save_applied(store, branch, "c1", long_ago)
    store.delete_branch("old-preview", history=[SyncEntry("c1", "", long_ago, 0.0, "removed")])
    recent = datetime.now(UTC).isoformat(timespec="milliseconds")
    store.delete_branch("new-preview", history=[SyncEntry("c2", "", recent, 0.0, "removed")])
    assert store.history("old-preview") == []
    assert [r.commit for r in store.history("new-preview")] == ["c2"]
    assert [r.commit for r in store.history("main")] == ["c1"]  # a live branch keeps its old rows
