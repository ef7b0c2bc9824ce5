"""The engine's start-up: the stored state taken back, and re-adopted with objects for drift repair.

Split from the engine (engine.py) because it runs once per process and answers one question,
"what is live already?", while the engine's other code reacts to changes. Two steps:

* ``_adopt_stored`` (at ``start``, before any fetch): every stored branch becomes a record, its
  applied tables are handed to the target as "keep what is live" (``adopt``) and go into the
  routing state, so a restart serves at once and re-applies nothing that is current; a branch
  deleted before the stop gets its removal timer back.
* ``_readopt`` (the drift hook: ``DriftRepair``'s ``prepare``, before its first check): ``start``
  adopted without objects, which a target cannot compare live objects with; each environment's
  applied commit is rebuilt (from the mirror, through the parse cache) and adopted again with its
  objects, so what drifted while the service was down is repaired. A commit that cannot be built
  stays "keep", and a branch a newer sync told the target about is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from gitops_ingress.core.build import TreeBuild
from gitops_ingress.core.desired import DesiredEnvironment
from gitops_ingress.core.errors import GitopsIngressError
from gitops_ingress.core.settings import Settings
from gitops_ingress.sync.protocols import Target
from gitops_ingress.sync.records import BranchRecord
from gitops_ingress.sync.routebook import RouteBook
from gitops_ingress.sync.store import Store

log = logging.getLogger("gitops_ingress.sync")


class StartupMixin:
    _settings: Settings
    _records: dict[str, BranchRecord]
    _book: RouteBook
    _store: Store
    _target: Target
    _in_store: Callable[..., Coroutine[Any, Any, Any]]
    _build: Callable[[str], Coroutine[Any, Any, TreeBuild]]
    _busy: Callable[[str], bool]
    _schedule_removal: Callable[[str, str], None]

    async def _adopt_stored(self) -> None:
        """Take back what the store says is applied (see the module docstring)."""
        for name, row in (await self._in_store(self._store.load_branches)).items():
            record = BranchRecord.from_row(row, name == self._settings.stable_branch)
            self._records[name] = record
            tables = record.applied_tables
            if tables:
                desired = {
                    env: DesiredEnvironment(env, record.environments[env].applied_commit or "", table, keep=True)
                    for env, table in tables.items()
                }
                await self._target.adopt(name, record.stable, desired)
                self._book.set(name, tables)
            if record.deleted_at:
                self._schedule_removal(name, record.deleted_at)

    async def _readopt(self) -> None:
        """Before the first drift repair: ``start`` adopted each branch as "keep what is live",
        without objects; rebuild every environment's applied commit (from the mirror, through
        the parse cache) and adopt again with the objects, so the target can repair what
        drifted while we were down. A commit that cannot be built stays "keep"."""
        for name, record in list(self._records.items()):
            synced, rows = record.synced, record.environments
            # what start adopted, for an environment whose commit cannot be rebuilt (never pruned)
            desired = {
                env: DesiredEnvironment(env, row.applied_commit or "", row.table, keep=True)
                for env, row in rows.items()
                if row.table is not None
            }
            commits = {row.applied_commit for row in rows.values() if row.table is not None and row.applied_commit}
            for commit in sorted(c for c in commits if c is not None):
                try:
                    build = await self._build(commit)
                except GitopsIngressError as exc:
                    log.warning("branch %r: cannot rebuild applied commit %s for drift repair: %s", name, commit, exc)
                    continue
                for env, row in rows.items():
                    built = build.environments.get(env)
                    if row.applied_commit == commit and row.table is not None and built is not None and built.ok:
                        desired[env] = DesiredEnvironment(env, commit, row.table, built.ingresses)
            unchanged = self._records.get(name) is record and record.synced == synced and record.environments is rows
            if commits and unchanged and not self._busy(name):  # else a newer sync told the target more
                await self._target.adopt(name, record.stable, desired)
