"""The engine's memory on disk: one SQLite file in the state folder (stdlib sqlite3, WAL mode).

Why SQLite and these tables: the engine must survive a restart without re-applying what is live
and survive a kill in the middle of a sync without losing what was done. So the applied state of a
branch (its commit, route table and findings per environment) and the sync history row that
explains it are written in ONE transaction, after the target accepted the change: either both are
on disk or neither is, and a sync that was cut short is simply done again on the next start
(targets apply idempotently). WAL lets the dashboard read while the engine writes; ``synchronous =
NORMAL`` is durable across a process kill (only a power loss can drop the last commits, which a
re-sync repairs).

Threads. The engine makes every write (and the start-up load) on a thread of its own, in order:
a write is a transaction plus a disk sync, which must not hold up the event loop that also runs
the web app and the proxy of ``serve``. The dashboard's reads (``history``, ``deliveries``) stay on
the loop, as the view Protocol requires, and use a second connection: in WAL mode a reader never
waits for a writer, so a read costs one indexed query whatever the engine is writing. A lock makes
the writing connection safe from any thread. Findings and tables are stored as JSON in the core
wire formats.

Retention (``Settings.retention``, docs/configuration.md). History is pruned in the transaction
that adds to it, so neither table outgrows its limit and no timer is needed: writing a branch's
sync rows deletes its rows beyond the newest ``syncs_per_branch`` (one indexed range delete);
removing a branch deletes the rows of removed branches older than ``removed_branch_days`` (preview
branch names come and go, so a per-branch cap alone would not bound the table); recording a
webhook delivery deletes deliveries received more than ``delivery_days`` ago (an index on
``received_at``). The delivery table is the replay guard, so a delivery id is refused
again only within that window.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gitops_ingress.core.annotations.usage import AnnotationUse
from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.findings import Finding
from gitops_ingress.core.routing import RouteTable
from gitops_ingress.core.routing.table import WireMemo
from gitops_ingress.core.settings import RetentionSettings
from gitops_ingress.core.status import CommitInfo, SyncRecord, SyncState
from gitops_ingress.sync.schema import SCHEMA, migrate


@dataclass(frozen=True, slots=True)
class EnvironmentRow:
    environment: str
    state: SyncState
    applied_commit: str | None
    table: RouteTable | None
    findings: tuple[Finding, ...]
    # the annotation support table of the commit the row describes (its findings' commit)
    annotations: tuple[AnnotationUse, ...] = ()


@dataclass(frozen=True, slots=True)
class BranchRow:
    name: str
    head: str | None
    head_info: CommitInfo | None
    state: SyncState
    message: str
    updated_at: str
    deleted_at: str | None
    environments: dict[str, EnvironmentRow]


@dataclass(frozen=True, slots=True)
class SyncEntry:
    """One history row to write; ``id`` and the branch come from the store."""

    commit: str
    environment: str
    started_at: str
    duration_ms: float
    result: str
    message: str = ""
    findings: tuple[Finding, ...] = ()
    files_parsed: int = 0
    noticed_at: str = ""  # when the push that brought the commit was noticed ("": unknown)
    push_to_live_ms: float | None = None  # from then until the routes went live (None: they did not)


def _findings_json(findings: Iterable[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], separators=(",", ":"))


def _findings(text: str | None) -> tuple[Finding, ...]:
    return tuple(Finding.from_dict(item) for item in json.loads(text or "[]"))


def _days_ago(days: float) -> str:
    """An ISO time to compare with the stored ones (UTC ISO 8601, as the engine and view write them)."""
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    return db


class Store:
    def __init__(self, path: Path, retention: RetentionSettings | None = None) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = _connect(path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            migrate(self._db)
            self._reader = _connect(path)
        except (OSError, sqlite3.Error) as exc:
            raise SourceError(f"{path}: cannot open the state database: {exc}") from exc
        self.path = path
        self._retention = retention or RetentionSettings()
        self._wire = WireMemo()  # routes a burst's tables share with main: serialised once
        # the writing connection, from whichever thread writes; re-entered by a write that runs
        # inside ``run_batch``'s transaction
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._reader.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write's transaction; inside ``run_batch`` the batch's (its savepoint undoes the
        write when it fails)."""
        with self._lock:
            if self._db.in_transaction:  # only ``run_batch``, on this thread: the lock is ours
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def run_batch(self, calls: Sequence[Callable[[], object]]) -> list[tuple[bool, object]]:
        """Run store calls in ONE transaction, each in a savepoint of its own: a call that raises
        has its own writes undone and the others still commit. Per call, (True, its result) or
        (False, its exception), all known only once the transaction is on disk; when the
        transaction itself fails (BEGIN or COMMIT), that error is raised for them all."""
        outcomes: list[tuple[bool, object]] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for call in calls:
                    self._db.execute("SAVEPOINT one_write")
                    try:
                        outcomes.append((True, call()))
                    except Exception as exc:
                        self._db.execute("ROLLBACK TO one_write")
                        outcomes.append((False, exc))
                    self._db.execute("RELEASE one_write")
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return outcomes

    # -- branches -------------------------------------------------------------------------

    def load_branches(self) -> dict[str, BranchRow]:
        with self._lock:
            return self._load_branches()

    def _load_branches(self) -> dict[str, BranchRow]:
        envs: dict[str, dict[str, EnvironmentRow]] = {}
        for branch, env, state, commit, table, findings, uses in self._db.execute(
            "SELECT branch, environment, state, applied_commit, route_table, findings, annotations FROM environments"
        ):
            envs.setdefault(branch, {})[env] = EnvironmentRow(
                env,
                SyncState(state),
                commit,
                RouteTable.from_dict(json.loads(table)) if table else None,
                _findings(findings),
                tuple(AnnotationUse.from_dict(use) for use in json.loads(uses or "[]")),
            )
        rows: dict[str, BranchRow] = {}
        for name, head, info, state, message, updated, deleted in self._db.execute(
            "SELECT name, head, head_info, state, message, updated_at, deleted_at FROM branches"
        ):
            rows[name] = BranchRow(
                name,
                head,
                CommitInfo.model_validate_json(info) if info else None,
                SyncState(state),
                message,
                updated,
                deleted,
                envs.get(name, {}),
            )
        return rows

    def save_branch(
        self,
        name: str,
        *,
        head: str | None,
        head_info: CommitInfo | None,
        state: SyncState,
        message: str,
        updated_at: str,
        deleted_at: str | None = None,
        environments: Sequence[EnvironmentRow] | None = None,
        history: Sequence[SyncEntry] = (),
    ) -> None:
        """Write a branch's status, and when given its environments and history, atomically.
        ``environments`` replaces every environment row of the branch."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO branches (name, head, head_info, state, message, updated_at, deleted_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET head=excluded.head,"
                " head_info=excluded.head_info, state=excluded.state, message=excluded.message,"
                " updated_at=excluded.updated_at, deleted_at=excluded.deleted_at",
                (
                    name,
                    head,
                    head_info.model_dump_json() if head_info else None,
                    state.value,
                    message,
                    updated_at,
                    deleted_at,
                ),
            )
            if environments is not None:
                db.execute("DELETE FROM environments WHERE branch = ?", (name,))
                db.executemany(
                    "INSERT INTO environments (branch, environment, state, applied_commit, route_table,"
                    " findings, annotations) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            name,
                            row.environment,
                            row.state.value,
                            row.applied_commit,
                            row.table.to_json(self._wire) if row.table is not None else None,
                            _findings_json(row.findings),
                            json.dumps([use.to_dict() for use in row.annotations], separators=(",", ":")),
                        )
                        for row in environments
                    ],
                )
            self._insert_history(db, name, history)

    def delete_branch(self, name: str, history: Sequence[SyncEntry] = ()) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM environments WHERE branch = ?", (name,))
            db.execute("DELETE FROM branches WHERE name = ?", (name,))
            self._insert_history(db, name, history)
            db.execute(
                "DELETE FROM syncs WHERE started_at < ? AND branch NOT IN (SELECT name FROM branches)",
                (_days_ago(self._retention.removed_branch_days),),
            )

    def _insert_history(self, db: sqlite3.Connection, branch: str, history: Sequence[SyncEntry]) -> None:
        if not history:
            return
        db.executemany(
            "INSERT INTO syncs (branch, commit_sha, environment, started_at, duration_ms, result,"
            " message, findings, files_parsed, noticed_at, push_to_live_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    branch,
                    e.commit,
                    e.environment,
                    e.started_at,
                    e.duration_ms,
                    e.result,
                    e.message,
                    _findings_json(e.findings),
                    e.files_parsed,
                    e.noticed_at,
                    e.push_to_live_ms,
                )
                for e in history
            ],
        )
        # keep the newest ``syncs_per_branch``: delete from the first row beyond them down
        db.execute(
            "DELETE FROM syncs WHERE branch = ? AND id <= (SELECT id FROM syncs WHERE branch = ?"
            " ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (branch, branch, self._retention.syncs_per_branch),
        )

    # -- history --------------------------------------------------------------------------

    def history(self, branch: str | None = None, limit: int = 50) -> list[SyncRecord]:
        query = (
            "SELECT id, branch, commit_sha, environment, started_at, duration_ms, result, message,"
            " findings, files_parsed, noticed_at, push_to_live_ms FROM syncs"
        )
        params: tuple[Any, ...] = ()
        if branch is not None:
            query += " WHERE branch = ?"
            params = (branch,)
        query += " ORDER BY id DESC LIMIT ?"
        rows = self._reader.execute(query, (*params, max(0, limit))).fetchall()
        return [
            SyncRecord(
                id=row[0],
                branch=row[1],
                commit=row[2],
                environment=row[3],
                started_at=row[4],
                duration_ms=row[5],
                result=row[6],
                message=row[7],
                findings=_findings(row[8]),
                files_parsed=row[9],
                noticed_at=row[10],
                push_to_live_ms=row[11],
            )
            for row in rows
        ]

    # -- webhook deliveries ---------------------------------------------------------------

    def record_delivery(self, delivery_id: str, forge: str, received_at: str) -> bool:
        """True when the id is new; a replayed id changes nothing."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO deliveries (id, forge, received_at) VALUES (?, ?, ?)",
                (delivery_id, forge, received_at),
            )
            db.execute("DELETE FROM deliveries WHERE received_at < ?", (_days_ago(self._retention.delivery_days),))
            return cursor.rowcount == 1

    def delivery_known(self, delivery_id: str) -> bool:
        """Whether the id is recorded (a read on the reading connection: never waits on a write)."""
        found = self._reader.execute("SELECT 1 FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return found is not None

    def delivery_result(self, delivery_id: str, result: str, forge: str | None = None) -> None:
        """Set a delivery's outcome (and its forge, which is known only once it was parsed)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET result = ?, forge = COALESCE(?, forge) WHERE id = ?",
                (result, forge, delivery_id),
            )

    def deliveries(self, limit: int = 50) -> list[tuple[str, str, str, str]]:
        return self._reader.execute(
            "SELECT id, forge, received_at, result FROM deliveries ORDER BY received_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
