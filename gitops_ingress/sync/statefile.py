"""Whether the state database can be trusted, checked before anything opens it.

The state database (store.py) is the only copy of each branch's last good routes: a branch whose
head is refused keeps serving them, and nothing in git can bring them back (git holds the heads,
not which commit last passed). SQLite treats a missing or 0-byte file as a new, empty database, so
opening a damaged file blindly would silently forget every last good state while the status still
promised it. Hence ``prepare``, called before the mirror is touched:

* a first start (no mirror yet) creates the database, so on every later start a mirror without a
  database means the database was lost;
* a missing (when the mirror exists), empty, unreadable or foreign file raises
  ``StateDatabaseError`` naming the file (``serve`` exits 2), never a silent reset;
* ``rebuild=True`` (``serve --rebuild-state``) sets the old file aside (renamed, with its WAL,
  never deleted) and creates a new, empty database: the engine then validates every branch head
  again and serves only heads that pass, so a branch whose head is refused has no routes.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from gitops_ingress.core.errors import SourceError
from gitops_ingress.sync.schema import TABLES
from gitops_ingress.sync.store import Store

SIDE_FILES = ("-wal", "-shm")


class StateDatabaseError(SourceError):
    """The state database is missing, empty or corrupt and was not rebuilt."""


def problem_with(path: Path, *, expected: bool) -> str | None:
    """What is wrong with the database at ``path`` (None: intact, or absent and not expected)."""
    if not path.exists():
        return "missing although the mirror beside it exists (this is not a first start)" if expected else None
    try:
        if path.stat().st_size == 0:
            return "empty (0 bytes)"
        # mode=rw: never create a file, so a check cannot hide a lost one
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)
        try:
            (check,) = db.execute("PRAGMA quick_check").fetchone()
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            db.close()
    except (OSError, sqlite3.Error) as exc:
        return f"corrupt or unreadable ({exc})"
    if check != "ok":
        return f"corrupt (integrity check: {check})"
    if missing := TABLES - tables:
        return f"not a state database (no {', '.join(sorted(missing))} table)"
    return None


def prepare(path: Path, *, first_start: bool, rebuild: bool) -> str | None:
    """Leave an intact state database at ``path``; return what a rebuild did, to be logged."""
    problem = problem_with(path, expected=not first_start)
    if rebuild:
        kept = set_aside(path) if path.exists() else None
        _create(path)
        was = problem or "intact"
        old = f"the old file ({was}) is kept as {kept}" if kept else "there was no old file"
        return (
            f"{path}: state database rebuilt as asked (--rebuild-state); {old}. Every branch head is"
            " validated again: only heads that pass are served, a branch whose head is refused has no routes"
        )
    if problem is not None:
        raise StateDatabaseError(
            f"{path}: the state database is {problem}. It holds every branch's last good routes and is"
            " never replaced silently: restore it, or start once with --rebuild-state to validate every"
            " branch head again and serve only what passes (a branch whose head is refused then has no routes)"
        )
    if not path.exists():
        _create(path)  # a first start: before the mirror, so a later mirror always has a database
    return None


def set_aside(path: Path) -> Path:
    """Rename the database and its WAL files to ``<name>.broken-<UTC time>``; return the new name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kept = path.with_name(f"{path.name}.broken-{stamp}")
    try:
        for suffix in SIDE_FILES:
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(kept.with_name(kept.name + suffix))
        path.rename(kept)
    except OSError as exc:
        raise StateDatabaseError(f"{path}: cannot set the old state database aside: {exc}") from exc
    return kept


def _create(path: Path) -> None:
    Store(path).close()
