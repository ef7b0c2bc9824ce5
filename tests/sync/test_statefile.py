"""The state database check on its own (serve runs it before anything opens the file; the
process-level faults are in tests/e2e/test_serve_state_faults.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.statefile import StateDatabaseError, prepare, problem_with
from gitops_ingress.sync.store import Store


def test_a_first_start_creates_the_database_and_later_starts_accept_it(tmp_path: Path) -> None:
    db = tmp_path / "state" / "state.db"
    assert prepare(db, first_start=True, rebuild=False) is None
    assert db.is_file() and problem_with(db, expected=True) is None
    assert prepare(db, first_start=False, rebuild=False) is None


def test_another_sqlite_database_is_not_taken_for_ours(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE something_else (x)")
    other.close()
    with pytest.raises(StateDatabaseError, match=r"state\.db: .*not a state database \(no branches, "):
        prepare(db, first_start=False, rebuild=False)
    assert [name for (name,) in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")] == ["something_else"]


def test_a_rebuild_keeps_the_old_file_and_starts_empty(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = Store(db)
    store.save_branch("main", head="c1", head_info=None, state=SyncState.APPLIED, message="", updated_at="t")
    store.close()
    note = prepare(db, first_start=False, rebuild=True)
    assert note is not None and "intact" in note and "--rebuild-state" in note
    (kept,) = tmp_path.glob("state.db.broken-*")
    assert Store(kept).load_branches().keys() == {"main"}
    assert Store(db).load_branches() == {}
