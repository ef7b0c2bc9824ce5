"""The reconcile engine: remote heads -> per-branch work slots -> build -> plan -> target -> store.

Why it is shaped this way:

* One worker task per branch, each with a single "latest wanted" slot rather than a queue. The
  watcher only writes slots (never waits on a sync), so a slow target or a huge branch cannot stall
  fetching; a newer commit overwrites an older one still waiting, so a burst of pushes costs at most
  one extra sync; and one branch's work never waits behind another's. A fetch that finds the
  head a worker is syncing right now leaves the slot empty: wanting it again would throw that
  sync's build away (a burst's repeated fetches rebuilt every branch in flight, 1,850 wasted
  builds in a 1,500-branch run).
* The blocking part (git object reads, parsing, validation) runs in a small thread pool bounded by
  a semaphore; the mirror's reads are safe from several threads, so builds overlap their git round
  trips. A fetch that brings ``PRELOAD_AT`` new heads or more (a push of 500 branches) first has
  their new objects read in a few passes for all of them (``_preload``, gitrepo/preload.py), so
  those builds make no round trip at all. Fetches belong to ``RepoAccess`` (repoaccess.py): one
  at a time, on a thread of their own, so a hanging fetch never blocks reads. Store writes run on a thread of
  their own too, in order, off the loop that also serves the web app and ``serve``'s proxy, and the writes
  queued meanwhile are committed as one transaction (storewriter.py): a burst's 500 syncs cost a
  handful of transactions, not 500.
* The engine owns the one routing state (``RouteBook``, routebook.py) and publishes it
  (``subscribe_routes``, view.py) as soon as the target accepted a change.
* A sync's outcome is written to the store in one transaction *after* the target accepted it, so a
  kill mid-sync loses nothing: the next start sees the remote head ahead of the stored one and
  syncs again. At start, what the store says is applied is handed back to the target (``adopt``),
  so a restart re-applies nothing that is current; before the first drift
  repair each applied commit is rebuilt and adopted again with its objects (startup.py).
* Failures (target or repository) put the branch in ERROR and retry it with exponential back-off;
  the target keeps its last good state throughout; a replica that does not lead shows STANDBY
  and stores nothing (failures.py).
* A start never waits on the remote when there is something to serve: the stored state is
  adopted, the mirror's heads are scheduled, and the watcher fetches in the background.
* Idle previews expire and live previews are capped (lifecycle.py): that work runs in the
  branch's slot like a sync, marked ``EXPIRE`` or ``CAP``.
* Every sync result (applied, refused, error) goes to ``sync_log`` as one record; ``serve``
  writes them as JSON lines with the proxy's access-log writer.
* Push to live: the watcher says when each branch was noticed (a webhook's arrival, else the
  fetch's start); ``_schedule`` keeps that time per branch and commit when a new head is wanted
  (the newest head's own time, not the earliest of the heads it superseded: those never went
  live), and ``_sync`` measures from it to the moment the route book is set, after the target
  accepted the plan (``pushes.py``, docs/dev/architecture.md "Push to live").

What each slot's work does lives beside it, one module per concept: one commit's sync
(syncing.py), a deleted branch (deletion.py), a failed one (failures.py), the preview lifecycle
(lifecycle.py), the start-up (startup.py). The engine is also the web layer's
``ControlPlaneView`` and ``WebhookReceiver`` (view.py).
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gitops_ingress.core.errors import GitopsIngressError
from gitops_ingress.core.settings import Settings
from gitops_ingress.sync.build import BuildCache
from gitops_ingress.sync.deletion import DELETE, REMOVE, DeletionMixin
from gitops_ingress.sync.drift import DriftRepair
from gitops_ingress.sync.events import EventBus
from gitops_ingress.sync.failures import FailureMixin
from gitops_ingress.sync.lifecycle import CAP, EXPIRE, LifecycleMixin
from gitops_ingress.sync.metrics import SyncMetrics
from gitops_ingress.sync.parsecache import ParseCache
from gitops_ingress.sync.protocols import RepoSource, Target
from gitops_ingress.sync.pushes import PushTimes
from gitops_ingress.sync.records import BranchRecord, http_url_for
from gitops_ingress.sync.repoaccess import RepoAccess
from gitops_ingress.sync.routebook import RouteBook
from gitops_ingress.sync.startup import StartupMixin
from gitops_ingress.sync.store import Store
from gitops_ingress.sync.storewriter import StoreWriter
from gitops_ingress.sync.syncing import SyncLog, SyncMixin
from gitops_ingress.sync.view import ViewMixin
from gitops_ingress.sync.watcher import Noticed, NoticedMap, Watcher

log = logging.getLogger("gitops_ingress.sync")
PRELOAD_AT = 8  # new heads in one fetch from which their objects are read ahead in one go
TRACKED_NAMES = 20_000  # tracked()'s verdicts kept at most (preview names come and go for ever)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    poll_interval: float | None = None  # None: settings.poll_interval
    poll_jitter: float = 0.1
    debounce: float = 0.05
    build_workers: int = 8  # a build outside a burst mostly waits on git (about 7 round trips per new commit)
    retry_initial: float = 1.0
    retry_max: float = 60.0
    preview_port: int | None = None  # the proxy's port, for preview URLs


class Engine(SyncMixin, DeletionMixin, StartupMixin, FailureMixin, LifecycleMixin, ViewMixin):
    def __init__(
        self,
        repo: RepoSource,
        target: Target,
        settings: Settings,
        store: Store,
        *,
        options: EngineOptions | None = None,
        metrics: SyncMetrics | None = None,
        bus: EventBus | None = None,
        cache: ParseCache | None = None,
        sync_log: SyncLog | None = None,
    ) -> None:
        self._repo = repo
        self._target = target
        self._settings = settings
        self._store = store
        self.options = options or EngineOptions()
        self.metrics = metrics or SyncMetrics()
        self.bus = bus or EventBus()
        self.cache = cache or ParseCache()
        self._builds = BuildCache()  # by root tree id: a commit whose tree was built is a look-up
        self._sync_log = sync_log
        self._book = RouteBook(settings.stable_branch, settings.preview_domain)
        self._url_for = http_url_for(self.options.preview_port)
        self._records: dict[str, BranchRecord] = {}
        self._tracked: dict[str, bool] = {}  # tracked(): the patterns' verdict by branch name
        self._wanted: dict[str, str] = {}
        self._pushes = PushTimes()
        self._syncing: dict[str, str] = {}  # branch -> the commit its worker is syncing now
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._retries: dict[str, int] = {}
        self._retry_delays = (self.options.retry_initial, self.options.retry_max)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._expiry: dict[str, asyncio.TimerHandle] = {}  # lifecycle.py: idle previews' timers
        self._cap_check: asyncio.Handle | None = None  # lifecycle.py: the cap, checked once per turn
        self._access = RepoAccess(repo)
        self._executor = ThreadPoolExecutor(self.options.build_workers, thread_name_prefix="sync-build")
        self._writer = StoreWriter(store, self.metrics)  # one transaction per burst of writes
        self._build_slots = asyncio.Semaphore(self.options.build_workers)
        self._tick = asyncio.Event()
        self._remote_error: str | None = None
        interval = self.options.poll_interval or settings.poll_interval
        self._watcher = Watcher(
            self.refresh,
            interval=interval,
            jitter=self.options.poll_jitter,
            debounce=self.options.debounce,
            retry_initial=self.options.retry_initial,
            retry_max=self.options.retry_max,
            on_change=self._notify,
        )
        # drift repair: the target's live state checked against the last good state per interval
        self._drift = DriftRepair(target, self._records, self._busy, self.bus, interval, prepare=self._readopt)
        self._drift_task: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Take back the stored state, schedule what the mirror holds and is behind, start
        watching. The first fetch runs in the background, unless the mirror holds no branch
        at all (a first start: nothing to serve before it)."""
        await self._adopt_stored()
        await self._resume_lifecycle()
        await self._access.ensure()
        local = await self._access.heads()
        if local:
            # the stored state serves now and what the mirror already holds is scheduled; the
            # remote is asked in the background, so a remote that hangs holds up nothing
            await self._preload(local)
            self._schedule(local, None)
            self._watcher.request(None)
            self._watcher.start()
        else:
            failed = False  # nothing stored to serve: the first fetch is worth waiting for
            try:
                await self.refresh(None)
            except GitopsIngressError as exc:
                log.warning("first fetch failed; serving the stored state and retrying: %s", exc)
                failed = True
            self._watcher.start(after_failure=failed)
        # on both paths: a restart is exactly when drift while we were down must be repaired
        self._drift_task = asyncio.create_task(self._drift.run(), name="gitops-ingress drift repair")

    async def stop(self) -> None:
        await self._watcher.stop()
        if self._drift_task is not None:
            self._drift_task.cancel()
            await asyncio.gather(self._drift_task, return_exceptions=True)
        for timer in (*self._timers.values(), *self._expiry.values()):
            timer.cancel()
        if self._cap_check is not None:
            self._cap_check.cancel()
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._access.close()
        await self._in_store(lambda: None)  # queued after every write: they are on disk now
        self._writer.close()
        self.bus.close()

    def _busy(self, name: str) -> bool:
        return name in self._wanted or name in self._workers or name in self._timers

    def idle(self) -> bool:
        return not self._wanted and not self._workers and not self._watcher.busy and self._cap_check is None

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until nothing is fetching, waiting or syncing (TimeoutError after ``timeout``)."""
        async with asyncio.timeout(timeout):
            while not self.idle():
                await self._tick.wait()

    def _notify(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()
        self.metrics.queue_depth.set(len(self._wanted))

    # -- fetching and scheduling ----------------------------------------------------------

    async def refresh(self, branch: str | None, noticed: NoticedMap | None = None) -> None:
        """Fetch ``branch`` (None: all) from the configured remote and schedule what changed.
        ``noticed``: when the watcher learnt of each branch's push (default: now, the fetch's start)."""
        noticed = noticed if noticed is not None else {None: Noticed.now()}
        self.metrics.fetches.inc()
        try:
            heads = await self._access.fetch(branch)
        except GitopsIngressError as exc:
            if branch is not None:
                # a single-ref fetch can fail on the ref itself (a hostile name): a full fetch
                # does not depend on it
                return await self.refresh(None, noticed)
            self.metrics.fetch_failures.inc()
            self._set_remote_error(str(exc))
            raise
        self._set_remote_error(None)
        await self._preload(heads)
        self._schedule(heads, branch, noticed)

    async def _preload(self, heads: dict[str, str]) -> None:
        """A burst (``PRELOAD_AT`` new heads or more) has its new objects read in a few passes
        before its builds start, instead of several git round trips per build (gitrepo/preload.py).
        Only a speed-up: when it fails, each build reads what it needs as it always did."""
        fresh = {
            head
            for name, head in heads.items()
            if self.tracked(name)
            and self._syncing.get(name) != head
            and ((record := self._records.get(name)) is None or not record.is_current(head))
        }
        if len(fresh) < PRELOAD_AT:
            return
        limits = self._settings.policy.limits
        try:
            await self._access.preload(sorted(fresh), self._settings.environments_dir, limits.max_file_bytes)
        except GitopsIngressError as exc:
            log.warning("reading %d new commits ahead failed; their builds read them one by one: %s", len(fresh), exc)

    def _set_remote_error(self, message: str | None) -> None:
        if message != self._remote_error:
            self._remote_error = message
            self.bus.publish("remote", "", {"error": message})

    def tracked(self, name: str) -> bool:
        """Whether the settings' branch patterns select ``name``. Kept per name (the settings
        never change): every fetch asks it twice for every branch, a few thousand pattern
        matches per fetch of a thousand branches, several fetches in a burst. Bounded: past
        ``TRACKED_NAMES`` names the verdicts start again (one pattern match each to redo), so
        branch names that came and went do not pile up in a long-running service."""
        known = self._tracked.get(name)
        if known is None:
            if len(self._tracked) >= TRACKED_NAMES:
                self._tracked.clear()
            known = self._tracked[name] = self._matches_patterns(name)
        return known

    def _matches_patterns(self, name: str) -> bool:
        if name == self._settings.stable_branch:
            return True
        patterns = self._settings.branches
        return any(fnmatch.fnmatchcase(name, p) for p in patterns.include) and not any(
            fnmatch.fnmatchcase(name, p) for p in patterns.exclude
        )

    def _schedule(self, heads: dict[str, str], only: str | None, noticed: NoticedMap | None = None) -> None:
        noticed = noticed or {}
        fallback = noticed.get(None) or Noticed.now()  # a branch no delivery named: noticed by this fetch
        names = [only] if only is not None else sorted(heads.keys() | self._records.keys())
        for name in names:
            head = heads.get(name)
            record = self._records.get(name)
            if head is None or not self.tracked(name):
                if record is not None and not record.deleted_at and self._wanted.get(name) is not DELETE:
                    self._want(name, DELETE)
                continue
            self._cancel_timer(name)  # the branch came back before its previews were removed
            if record is None:
                record = self._records[name] = BranchRecord(name, name == self._settings.stable_branch)
                self.bus.publish("branch", name, {"state": record.state.value})
            if record.head != head:
                record.pushed_at = time.time()  # the head's arrival: idle time counts from here
            record.head = head
            if self._syncing.get(name) == head and name not in self._wanted:
                continue  # its sync of this very head is under way: a re-want would discard it
            if name in self._wanted or not record.is_current(head):
                self._pushes.note(name, head, noticed.get(name) or fallback)
                self._want(name, head)

    def _want(self, name: str, what: str) -> None:
        self._wanted[name] = what
        task = self._workers.get(name)
        if task is None:
            self._workers[name] = asyncio.create_task(self._work(name), name=f"sync {name!r}")
        self._notify()

    async def _work(self, name: str) -> None:
        try:
            while (what := self._wanted.pop(name, None)) is not None:
                self._notify()
                try:
                    if what is DELETE:
                        await self._deleted(name)
                    elif what is REMOVE:
                        await self._remove(name)
                    elif what is EXPIRE:
                        await self._expire(name)
                    elif what is CAP:
                        await self._cap(name)
                    else:
                        self._syncing[name] = what
                        try:
                            await self._sync(name, what)
                        finally:
                            del self._syncing[name]
                    self._retries.pop(name, None)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await self._failed(name, what, exc)
        finally:
            self._workers.pop(name, None)
            self._notify()

    # -- helpers --------------------------------------------------------------------------

    async def _save(self, name: str, record: BranchRecord, **rows: Any) -> None:
        """The record's own fields to the store (plus ``environments``/``history`` rows if given)."""
        await self._in_store(
            self._store.save_branch,
            name,
            head=record.synced,
            head_info=record.head_info,
            state=record.state,
            message=record.message,
            updated_at=record.updated_at,
            deleted_at=record.deleted_at,
            **rows,
        )
