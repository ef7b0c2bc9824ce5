"""A branch gone from the remote: DELETED for a grace period, then its previews removed.

Split from the engine (engine.py): what a deletion does is its own policy.

* The stable branch is never removed: it shows ERROR and its last routes keep serving (a remote
  that lost ``main`` by mistake must not take production down).
* A preview branch shows DELETED with its previews still serving for ``deleted_preview_grace``
  seconds (one timer, taken back at start from the stored ``deleted_at``), then ``_remove`` takes
  them down: the target first, then the route book (published before anything is recorded, as in
  a sync), then the store forgets the branch with one history row. A branch that comes back
  before the timer fires is synced again (the engine cancels the timer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.events import EventBus
from gitops_ingress.sync.failures import Marker
from gitops_ingress.sync.metrics import SyncMetrics
from gitops_ingress.sync.protocols import Target
from gitops_ingress.sync.pushes import PushTimes
from gitops_ingress.sync.records import BranchRecord, now_iso
from gitops_ingress.sync.routebook import RouteBook
from gitops_ingress.sync.store import Store, SyncEntry

DELETE = Marker("<deleted on the remote>")
REMOVE = Marker("<remove previews>")


class DeletionMixin:
    _target: Target
    _settings: Settings
    _store: Store
    _records: dict[str, BranchRecord]
    _pushes: PushTimes
    _book: RouteBook
    metrics: SyncMetrics
    bus: EventBus
    _timers: dict[str, asyncio.TimerHandle]
    _in_store: Callable[..., Coroutine[Any, Any, Any]]
    _save: Callable[..., Coroutine[Any, Any, None]]
    _later: Callable[[float, str, str], None]
    _cancel_expiry: Callable[[str], None]
    _make_room: Callable[[], None]

    async def _deleted(self, name: str) -> None:
        record = self._records.get(name)
        if record is None:
            return
        if record.stable:
            record.state = SyncState.ERROR
            record.message = "the stable branch is gone from the remote; its last routes keep serving"
            self.bus.publish("branch", name, {"state": record.state.value})
            return
        record.deleted_at = record.deleted_at or now_iso()
        self._cancel_expiry(name)
        grace = self._settings.deleted_preview_grace
        if grace <= 0:
            await self._remove(name)
            return
        record.state = SyncState.DELETED
        record.message = f"deleted; previews removed after {grace:g}s"
        record.updated_at = now_iso()
        await self._save(name, record)
        self._schedule_removal(name, record.deleted_at)
        self.bus.publish("branch", name, {"state": record.state.value})

    def _schedule_removal(self, name: str, deleted_at: str) -> None:
        elapsed = (datetime.now(UTC) - datetime.fromisoformat(deleted_at)).total_seconds()
        self._later(max(0.0, self._settings.deleted_preview_grace - elapsed), name, REMOVE)

    async def _remove(self, name: str) -> None:
        record = self._records.get(name)
        if record is None:
            return
        await self._target.remove(name, record.stable)
        routes_changed = self._book.set(name, {})  # gone from the proxies first, as in _sync
        if routes_changed:
            await self._book.wait_published()
        entry = SyncEntry(record.synced or "", "", now_iso(), 0.0, "removed", "branch deleted; previews removed")
        await self._in_store(self._store.delete_branch, name, history=[entry])
        del self._records[name]
        self._pushes.forget(name)
        self._cancel_expiry(name)
        self.metrics.forget_branch(name)
        self.bus.publish("deleted", name, {"commit": record.synced})
        if routes_changed:
            self.bus.publish("routes", name, {"version": self._book.version})
        self._make_room()
