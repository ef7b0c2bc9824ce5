"""The state database's tables (sync/store.py), and the columns an older state.db lacks.

Apart from the store so the store's module is its reads and writes: the layout is read at a
glance here, and ``statefile.py`` checks a file against ``TABLES`` without the store's code.
"""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS branches (
    name TEXT PRIMARY KEY,
    head TEXT,
    head_info TEXT,
    state TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE IF NOT EXISTS environments (
    branch TEXT NOT NULL,
    environment TEXT NOT NULL,
    state TEXT NOT NULL,
    applied_commit TEXT,
    route_table TEXT,
    findings TEXT NOT NULL DEFAULT '[]',
    annotations TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (branch, environment)
);
CREATE TABLE IF NOT EXISTS syncs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    branch TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    environment TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    result TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    findings TEXT NOT NULL DEFAULT '[]',
    files_parsed INTEGER NOT NULL DEFAULT 0,
    noticed_at TEXT NOT NULL DEFAULT '',
    push_to_live_ms REAL
);
CREATE INDEX IF NOT EXISTS syncs_by_branch ON syncs (branch, id);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    forge TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL,
    result TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS deliveries_by_time ON deliveries (received_at);
"""
TABLES = frozenset({"branches", "environments", "syncs", "deliveries"})
# Columns added since a table was first created: (table, column, definition). ``CREATE TABLE IF
# NOT EXISTS`` leaves an older state.db as it was, so each is added when missing; old rows get the
# default (no push time known).
ADDED_COLUMNS = (
    ("syncs", "noticed_at", "TEXT NOT NULL DEFAULT ''"),
    ("syncs", "push_to_live_ms", "REAL"),
    ("environments", "annotations", "TEXT NOT NULL DEFAULT '[]'"),
)


def migrate(db: sqlite3.Connection) -> None:
    """Add the columns an older state.db lacks (``ADDED_COLUMNS``)."""
    for table, column, definition in ADDED_COLUMNS:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
