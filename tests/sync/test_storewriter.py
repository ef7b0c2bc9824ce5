"""The store writer (sync/storewriter.py) on a real SQLite store: the writes queued while one
group is written become ONE transaction, a failing write is undone alone, and every caller hears
only once its transaction is on disk."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from gitops_ingress.sync.metrics import SyncMetrics
from gitops_ingress.sync.store import Store
from gitops_ingress.sync.storewriter import StoreWriter
from tests.support.stores import save_applied

pytestmark = pytest.mark.anyio


def save(store: Store, name: str) -> None:
    save_applied(store, name)


def counted(metrics: SyncMetrics, name: str) -> float:
    return metrics.registry.get_sample_value(f"gitops_ingress_{name}_total") or 0.0


async def test_writes_queued_meanwhile_share_one_transaction_and_a_bad_one_is_undone_alone(tmp_path: Path) -> None:
    store, metrics = Store(tmp_path / "s.db"), SyncMetrics()
    writer = StoreWriter(store, metrics)
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait()

    holding = asyncio.ensure_future(writer.run(hold))
    await asyncio.to_thread(started.wait)  # the thread is busy with this group now

    def bad() -> None:
        save(store, "feature/bad")  # written, then the write fails: its rows must go with it
        raise ValueError("a bad branch")

    names = [f"feature/b{n}" for n in range(20)]
    writes = [asyncio.ensure_future(writer.run(save, store, name)) for name in names[:10]]
    failing = asyncio.ensure_future(writer.run(bad))
    writes += [asyncio.ensure_future(writer.run(save, store, name)) for name in names[10:]]
    await asyncio.sleep(0)
    assert not any(w.done() for w in writes)  # queued behind the first group
    release.set()
    await holding
    await asyncio.gather(*writes)
    with pytest.raises(ValueError, match="a bad branch"):
        await failing
    # read from another connection: on disk, not only in the writer's transaction
    other = sqlite3.connect(tmp_path / "s.db")
    stored = {name for (name,) in other.execute("SELECT name FROM branches")}
    synced = {name for (name,) in other.execute("SELECT branch FROM syncs")}
    other.close()
    assert stored == synced == set(names)
    assert counted(metrics, "store_writes") == 22
    assert counted(metrics, "store_transactions") == 2  # the held one, then all 21 queued meanwhile
    writer.close()
    store.close()


async def test_a_failed_transaction_fails_every_write_of_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    writer = StoreWriter(store, SyncMetrics())
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None, timeout=0)
    store._db.execute("PRAGMA busy_timeout=0")
    other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock: BEGIN IMMEDIATE fails
    try:
        with pytest.raises(sqlite3.OperationalError):
            await writer.run(save, store, "main")
    finally:
        other.execute("ROLLBACK")
        other.close()
    await writer.run(save, store, "main")  # the writer goes on after a failed transaction
    assert set(store.load_branches()) == {"main"}
    writer.close()
    store.close()


async def test_a_closed_writer_finishes_what_was_queued_and_refuses_more(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    writer = StoreWriter(store, SyncMetrics())
    queued = asyncio.ensure_future(writer.run(save, store, "main"))
    await asyncio.sleep(0)
    writer.close()
    await queued
    with pytest.raises(RuntimeError, match="closed"):
        await writer.run(save, store, "other")
    assert set(store.load_branches()) == {"main"}
    store.close()
