"""How the engine meets a failed sync: ERROR with back-off, or standby when another replica leads.

Split from the engine (engine.py): what happens after a sync raised is its own policy.

* A failure (target or repository) puts the branch in ERROR with the message and the retry's
  delay, stores that with one history row, logs one sync line, and wants the same work again
  after an exponential back-off (``retry_initial`` doubling up to ``retry_max``); the target keeps
  its last good state throughout. The row carries when the commit's push was noticed, and the
  retry keeps that time, so the push-to-live of a commit that went live after retries counts them.
* ``Standby`` (the target writes only on the leading replica, and this one does not lead) is no
  failure: the branch shows STANDBY naming the leader, nothing is stored (no history row per
  retry: nothing happened) and the retry keeps the same back-off, so the branch turns applied
  soon after this replica takes the lease.
* One timer per branch (``_later``); a newer wanted commit or the branch's return cancels it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from gitops_ingress.core.errors import GitopsIngressError, Standby
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.events import EventBus
from gitops_ingress.sync.pushes import PushTimes
from gitops_ingress.sync.records import BranchRecord, now_iso
from gitops_ingress.sync.store import SyncEntry

log = logging.getLogger("gitops_ingress.sync")


class Marker(str):
    """Slot values that are not commits (a str subclass so the slot keeps one type)."""


class FailureMixin:
    _records: dict[str, BranchRecord]
    _retries: dict[str, int]
    _timers: dict[str, asyncio.TimerHandle]
    _wanted: dict[str, str]
    _pushes: PushTimes
    bus: EventBus
    _retry_delays: tuple[float, float]  # (initial, max)
    _save: Callable[..., Coroutine[Any, Any, None]]
    _want: Callable[[str, str], None]
    _log_sync: Callable[[str, str, str, float | None, Mapping[str, str], str], None]

    async def _failed(self, name: str, what: str, exc: Exception) -> None:
        attempt = self._retries[name] = self._retries.get(name, 0) + 1
        delay = min(self._retry_delays[1], self._retry_delays[0] * 2 ** (attempt - 1))
        if isinstance(exc, Standby):
            self._standby(name, exc)
            self._later(delay, name, what)
            return
        message = str(exc) if isinstance(exc, GitopsIngressError) else f"{type(exc).__name__}: {exc}"
        log.warning("branch %r: %s (retry %d in %.1fs)", name, message, attempt, delay)
        record = self._records.get(name)
        if record is not None:
            record.state = SyncState.ERROR
            record.message = f"{message}; retrying in {delay:.0f}s, last good routes keep serving"
            record.updated_at = now_iso()
            noticed = None if isinstance(what, Marker) else self._pushes.get(name, what)
            await self._save(
                name,
                record,
                history=[
                    SyncEntry(
                        record.synced or "" if isinstance(what, Marker) else what,
                        "",
                        record.updated_at,
                        0.0,
                        "error",
                        message,
                        noticed_at=noticed.at if noticed is not None else "",
                    )
                ],
            )
            self.bus.publish("branch", name, {"state": record.state.value, "error": message})
        if not isinstance(what, Marker):
            self._log_sync(name, what, "error", None, {}, message)
        self._later(delay, name, what)

    def _standby(self, name: str, exc: Standby) -> None:
        """Another replica leads: the branch waits for it. Shown, never stored: no history row
        per retry (nothing happened), and the stored state stays what this replica last applied
        or adopted, which is what it serves and what it applies once it leads."""
        record = self._records.get(name)
        if record is None:
            return
        by = f"{exc.leader} leads and applies it" if exc.leader else "the leading replica applies it"
        message = f"standby: {by}; this replica applies it if it takes the lease"
        if record.state is not SyncState.STANDBY or record.message != message:
            record.state, record.message, record.updated_at = SyncState.STANDBY, message, now_iso()
            self.bus.publish("branch", name, {"state": record.state.value, "leader": exc.leader})

    def _later(self, delay: float, name: str, what: str) -> None:
        """Want ``what`` for ``name`` in ``delay`` seconds (replacing the branch's pending timer)."""
        self._cancel_timer(name)
        self._timers[name] = asyncio.get_running_loop().call_later(delay, self._retry, name, what)

    def _cancel_timer(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _retry(self, name: str, what: str) -> None:
        self._timers.pop(name, None)
        if name not in self._wanted and name in self._records:
            self._want(name, what)
