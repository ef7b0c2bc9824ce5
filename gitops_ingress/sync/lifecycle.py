"""The preview lifecycle: idle previews expire, live previews are capped (docs/previews-lifecycle.md).

Split from the engine (engine.py) because it answers one question apart from syncing a commit:
"which preview branches should be live right now?" Two rules, both over the time each branch's
head arrived (``BranchRecord.pushed_at``, in memory; at start taken back from the first sync row
of the stored head, so a restart does not make every preview young again):

* ``preview_ttl`` > 0: a preview branch whose head arrived ``preview_ttl`` seconds ago goes
  EXPIRED: its previews are removed from the target and the proxies, the status says so, and the
  next push brings it back (a new head is a sync like any other). ``preview_keep`` globs exempt
  a branch. One timer per branch, armed after every sync; the timer only wants the work, and the
  work checks the rule again, so a push racing the timer never expires a fresh preview.
* ``max_previews`` > 0: after syncs (checked once per turn of the loop, since the check reads
  every branch), when more preview branches serve than the cap, the least recently pushed go CAPPED (removed, "preview refused: max_previews=N reached"); when a preview
  goes (expired, capped, deleted), the most recently pushed capped branches are synced again while
  there is room. A push to a capped branch makes it the newest, so it is applied and an older one
  makes room. The stable branch never counts; kept branches count but are never capped.

Expiring and capping run in the branch's worker slot like a sync (markers), so they never race
the branch's own syncs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.events import EventBus
from gitops_ingress.sync.failures import Marker
from gitops_ingress.sync.protocols import Target
from gitops_ingress.sync.records import BranchRecord, now_iso
from gitops_ingress.sync.routebook import RouteBook
from gitops_ingress.sync.store import Store, SyncEntry

EXPIRE = Marker("<expire idle previews>")
CAP = Marker("<over max_previews>")


def idle_words(seconds: float) -> str:
    """``90`` -> ``"1.5m"``: a duration as the expiry message says it."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"


def first_synced_at(store: Store, name: str, commit: str | None, rows: int) -> float | None:
    """When ``commit`` was first synced on ``name`` (epoch seconds), from the history rows of its
    newest run of syncs; None when the history has none (pruned, or never synced)."""
    if commit is None:
        return None
    first: str | None = None
    for row in store.history(name, rows):
        if row.commit != commit:
            break
        first = row.started_at
    return datetime.fromisoformat(first).timestamp() if first else None


class LifecycleMixin:
    _settings: Settings
    _records: dict[str, BranchRecord]
    _wanted: dict[str, str]
    _target: Target
    _book: RouteBook
    _store: Store
    bus: EventBus
    _expiry: dict[str, asyncio.TimerHandle]
    _cap_check: asyncio.Handle | None  # the cap check of this turn of the loop, when one is due
    _want: Callable[[str, str], None]
    _save: Callable[..., Coroutine[Any, Any, None]]
    _in_store: Callable[..., Coroutine[Any, Any, Any]]

    # -- when ------------------------------------------------------------------------------

    async def _resume_lifecycle(self) -> None:
        """At start, after the stored state was adopted: each branch's push time, timers, cap."""
        now = time.time()
        for name, record in self._records.items():
            if not record.stable and record.pushed_at is None:
                found = await self._in_store(
                    first_synced_at, self._store, name, record.synced, self._settings.retention.syncs_per_branch
                )
                record.pushed_at = found if found is not None else now
            self._arm_expiry(name)
        self._enforce_cap()
        self._make_room()

    def _lifecycle_after_sync(self, name: str) -> None:
        self._arm_expiry(name)
        if self._settings.max_previews > 0 and self._cap_check is None:
            # once per turn of the loop, not per sync: the check reads every branch, and a burst
            # of 500 new branches ends hundreds of syncs per turn (``idle`` waits for it)
            self._cap_check = asyncio.get_running_loop().call_soon(self._cap_checked)

    def _cap_checked(self) -> None:
        self._cap_check = None
        self._enforce_cap()

    def _live_preview(self, record: BranchRecord) -> bool:
        """A preview branch whose previews serve (a deleted branch in its grace too)."""
        return not record.stable and record.serves

    def _arm_expiry(self, name: str) -> None:
        self._cancel_expiry(name)
        record = self._records.get(name)
        ttl = self._settings.preview_ttl
        if record is None or ttl <= 0 or record.deleted_at or not self._expires(record):
            return
        delay = max(0.0, (record.pushed_at or time.time()) + ttl - time.time())
        self._expiry[name] = asyncio.get_running_loop().call_later(delay, self._expiry_due, name)

    def _expires(self, record: BranchRecord) -> bool:
        return self._live_preview(record) and not self._settings.preview_kept(record.name)

    def _expiry_due(self, name: str) -> None:
        self._expiry.pop(name, None)
        if name in self._records and name not in self._wanted:
            self._want(name, EXPIRE)

    def _cancel_expiry(self, name: str) -> None:
        timer = self._expiry.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _over_cap(self) -> list[str]:
        """The branches to cap now: the least recently pushed live previews beyond
        ``max_previews`` (kept branches count, but are never the ones capped)."""
        cap = self._settings.max_previews
        if cap <= 0:
            return []
        live = [r for r in self._records.values() if self._live_preview(r)]
        if len(live) <= cap:
            return []
        candidates = sorted(
            (r for r in live if not self._settings.preview_kept(r.name)), key=lambda r: r.pushed_at or 0.0
        )
        return [r.name for r in candidates[: len(live) - cap]]

    def _enforce_cap(self) -> None:
        for name in self._over_cap():
            if name not in self._wanted:
                self._want(name, CAP)

    def _make_room(self) -> None:
        """A preview went: bring back the most recently pushed capped branches while there is
        room (a branch on its way back, PENDING, holds its place)."""
        cap = self._settings.max_previews
        if cap <= 0:
            return
        records = self._records.values()
        claimed = sum(1 for r in records if self._live_preview(r) or (not r.stable and r.state is SyncState.PENDING))
        waiting = sorted(
            (r for r in records if r.state is SyncState.CAPPED and r.synced), key=lambda r: -(r.pushed_at or 0.0)
        )
        for record in waiting[: max(0, cap - claimed)]:
            record.state, record.message, record.updated_at = SyncState.PENDING, "", now_iso()
            self.bus.publish("branch", record.name, {"state": record.state.value})
            self._want(record.name, record.synced or "")

    # -- the work (in the branch's worker slot) ----------------------------------------------

    async def _expire(self, name: str) -> None:
        record = self._records.get(name)
        ttl = self._settings.preview_ttl
        if record is None or ttl <= 0 or record.deleted_at or not self._expires(record):
            return
        if (record.pushed_at or 0.0) + ttl > time.time():
            self._arm_expiry(name)  # pushed since the timer was armed
            return
        await self._shelve(
            name, SyncState.EXPIRED, f"preview expired after {idle_words(ttl)} idle; push to bring it back"
        )

    async def _cap(self, name: str) -> None:
        if name not in self._over_cap():
            return  # room freed since it was wanted
        cap = self._settings.max_previews
        message = f"preview refused: max_previews={cap} reached; it comes back when room frees, or on a push"
        await self._shelve(name, SyncState.CAPPED, message)

    async def _shelve(self, name: str, state: SyncState, message: str) -> None:
        """Take the branch's previews down (target, then proxies) and say why; the commit stays
        recorded as reconciled, so only a new head (or room, when capped) brings it back."""
        record = self._records[name]
        self._cancel_expiry(name)
        await self._target.remove(name, record.stable)
        routes_changed = self._book.set(name, {})
        if routes_changed:
            await self._book.wait_published()
        record.state, record.message, record.updated_at = state, message, now_iso()
        record.environments = {}
        entry = SyncEntry(record.synced or "", "", record.updated_at, 0.0, state.value, message)
        await self._save(name, record, environments=[], history=[entry])
        self.bus.publish("branch", name, {"state": state.value})
        if routes_changed:
            self.bus.publish("routes", name, {"version": self._book.version})
        if state is SyncState.EXPIRED:
            self._make_room()
