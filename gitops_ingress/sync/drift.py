"""Drift repair: the target's live state is brought back to the last good state on every interval.

A cluster can change under us (an Ingress deleted or edited with kubectl, an API server restored
from an empty backup) without any new commit. Like Argo CD's self-heal and Flux's interval, the
engine asks the target to reconcile every branch it remembers on start and then once per poll
interval (``Target.reconcile_all``); the target writes only what differs, so a cluster that
matches costs reads only.

What it does to the status: a branch whose repair failed (a field-manager conflict, the API
server refusing) is shown as ERROR with the target's message instead of ``applied``; once a later
round repairs it, the state and message it had before come back. A branch that is syncing, or
already in ERROR from its own failed sync, is left to the sync's own status and retries. The drift
state lives in memory only: the first round after a restart finds it again. Before that round,
``prepare`` (the engine's) hands the target the objects of every applied commit again, which a
restart had reduced to "keep what is live".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from gitops_ingress.core.errors import GitopsIngressError
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.events import EventBus
from gitops_ingress.sync.protocols import Target
from gitops_ingress.sync.records import BranchRecord

log = logging.getLogger("gitops_ingress.sync")


@dataclass(frozen=True, slots=True)
class _Drifted:
    state: SyncState  # what the branch showed before the drift
    message: str
    shown: str  # the drift message we put in its place


class DriftRepair:
    def __init__(
        self,
        target: Target,
        records: Mapping[str, BranchRecord],
        busy: Callable[[str], bool],
        bus: EventBus,
        interval: float,
        *,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._target = target
        self._records = records
        self._busy = busy
        self._bus = bus
        self._interval = interval
        self._prepare = prepare
        self._drifted: dict[str, _Drifted] = {}

    async def run(self) -> None:
        """``prepare`` (once), one round now (on start), then one per interval, until cancelled;
        nothing for a target that holds no state of its own."""
        if not self._target.repairs_drift:
            return
        if self._prepare is not None:
            try:
                await self._prepare()
            except Exception:
                log.exception("drift repair: preparing failed; repairing what the target knows")
        while True:
            await self.round()
            await asyncio.sleep(self._interval)

    async def round(self) -> None:
        try:
            errors = await self._target.reconcile_all()
        except GitopsIngressError as exc:  # nothing was checked (e.g. not the leader): nothing healed
            log.info("drift repair skipped: %s", exc)
            return
        except Exception:
            log.exception("drift repair failed unexpectedly")
            return
        for name, error in errors.items():
            self._show(name, error)
        for name in [n for n in self._drifted if n not in errors]:
            self._healed(name)

    def _show(self, name: str, error: str) -> None:
        record = self._records.get(name)
        if record is None or self._busy(name):
            return
        before = self._drifted.pop(name, None)
        if before is None or record.state is not SyncState.ERROR or record.message != before.shown:
            # first sight, or a sync has set the branch's state since: that is the state to restore
            if record.state not in (SyncState.APPLIED, SyncState.REFUSED):
                return  # its own sync failed: that sync's status and retries stand
            before = _Drifted(record.state, record.message, "")
        shown = (
            f"the live objects differ from the last good state and could not be repaired: {error}; "
            f"repair retried every {self._interval:g}s"
        )
        self._drifted[name] = _Drifted(before.state, before.message, shown)
        if record.message != shown:
            log.warning("branch %r: %s", name, shown)
            record.state, record.message = SyncState.ERROR, shown
            self._bus.publish("branch", name, {"state": record.state.value, "error": error})

    def _healed(self, name: str) -> None:
        drifted = self._drifted.pop(name)
        record = self._records.get(name)
        if record is None or record.state is not SyncState.ERROR or record.message != drifted.shown:
            return  # removed, or a sync has set its own state since
        log.info("branch %r: the live objects match the last good state again", name)
        record.state, record.message = drifted.state, drifted.message
        self._bus.publish("branch", name, {"state": record.state.value})
