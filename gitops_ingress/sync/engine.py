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
  trips. Fetches belong to ``RepoAccess`` (repoaccess.py): one at a time, on a thread of their
  own, so a hanging fetch never blocks reads. Store writes run on a thread of
  their own too, in order, off the loop that also serves the web app and ``serve``'s proxy.
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

The engine is also the web layer's ``ControlPlaneView`` and ``WebhookReceiver`` (view.py).
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from gitops_ingress.core.build import TreeBuild
from gitops_ingress.core.errors import GitopsIngressError
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.build import BuildCache
from gitops_ingress.sync.drift import DriftRepair
from gitops_ingress.sync.events import EventBus
from gitops_ingress.sync.failures import FailureMixin, Marker
from gitops_ingress.sync.lifecycle import CAP, EXPIRE, LifecycleMixin
from gitops_ingress.sync.metrics import SyncMetrics
from gitops_ingress.sync.parsecache import ParseCache
from gitops_ingress.sync.plan import plan_commit
from gitops_ingress.sync.protocols import RepoSource, Target
from gitops_ingress.sync.pushes import PushTimes
from gitops_ingress.sync.records import BranchRecord, http_url_for, now_iso
from gitops_ingress.sync.repoaccess import RepoAccess
from gitops_ingress.sync.routebook import RouteBook
from gitops_ingress.sync.startup import StartupMixin
from gitops_ingress.sync.store import Store, SyncEntry
from gitops_ingress.sync.view import ViewMixin
from gitops_ingress.sync.watcher import Noticed, NoticedMap, Watcher

log = logging.getLogger("gitops_ingress.sync")
T = TypeVar("T")
SyncLog = Callable[[dict[str, Any]], None]  # one JSON log line per record (serve: proxy.accesslog.DictLog)


DELETE = Marker("<deleted on the remote>")
REMOVE = Marker("<remove previews>")


@dataclass(frozen=True, slots=True)
class EngineOptions:
    poll_interval: float | None = None  # None: settings.poll_interval
    poll_jitter: float = 0.1
    debounce: float = 0.05
    build_workers: int = 8  # a build mostly waits on git round trips (about 7 per new commit)
    retry_initial: float = 1.0
    retry_max: float = 60.0
    preview_port: int | None = None  # the proxy's port, for preview URLs


class Engine(StartupMixin, FailureMixin, LifecycleMixin, ViewMixin):
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
        self._wanted: dict[str, str] = {}
        self._pushes = PushTimes()
        self._syncing: dict[str, str] = {}  # branch -> the commit its worker is syncing now
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._retries: dict[str, int] = {}
        self._retry_delays = (self.options.retry_initial, self.options.retry_max)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._expiry: dict[str, asyncio.TimerHandle] = {}  # lifecycle.py: idle previews' timers
        self._access = RepoAccess(repo)
        self._executor = ThreadPoolExecutor(self.options.build_workers, thread_name_prefix="sync-build")
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="sync-store")
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
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._access.close()
        await self._in_store(lambda: None)  # queued after every write: they are on disk now
        self._store_thread.shutdown(wait=False)
        self.bus.close()

    def _busy(self, name: str) -> bool:
        return name in self._wanted or name in self._workers or name in self._timers

    def idle(self) -> bool:
        return not self._wanted and not self._workers and not self._watcher.busy

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
        self._schedule(heads, branch, noticed)

    def _set_remote_error(self, message: str | None) -> None:
        if message != self._remote_error:
            self._remote_error = message
            self.bus.publish("remote", "", {"error": message})

    def tracked(self, name: str) -> bool:
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

    # -- one sync -------------------------------------------------------------------------

    async def _sync(self, name: str, commit: str) -> None:
        record = self._records.get(name)
        if record is None or record.is_current(commit):
            self._pushes.forget(name, commit)
            return
        started, started_at = time.perf_counter(), now_iso()
        build = await self._build(commit)
        if name in self._wanted:
            return  # superseded by newer work while building
        plan = plan_commit(build, record.environments)
        await self._target.apply(name, record.stable, plan.desired)
        # The routes go live once the target accepted them (for the local target this is the
        # embedded proxy switching), before the store write, which only records it: a failed
        # write is retried by a re-sync, and the status never shows a commit not yet live.
        live = {row.environment: row.table for row in plan.rows if row.table is not None}
        routes_changed = self._book.set(name, live)
        if routes_changed:
            await self._book.wait_published()  # "applied" means the proxies have it (routebook.py)
        duration_ms = (time.perf_counter() - started) * 1000
        noticed = self._pushes.get(name, commit)
        # live only when the commit was applied: a refused one's routes never went live
        to_live_ms = noticed.elapsed_ms() if noticed is not None and plan.state is SyncState.APPLIED else None
        findings = {row.environment: row.findings for row in plan.rows}
        message = {"refused": plan.message}
        history = [
            SyncEntry(
                commit,
                env,
                started_at,
                duration_ms,
                result,
                message.get(result, ""),
                findings.get(env, build.findings),
                build.files_parsed,
                noticed.at if noticed is not None else "",
                to_live_ms,
            )
            for env, result in plan.results.items()
        ]
        updated_at = now_iso()
        await self._in_store(
            self._store.save_branch,
            name,
            head=commit,
            head_info=build.info,
            state=plan.state,
            message=plan.message,
            updated_at=updated_at,
            deleted_at=None,
            environments=plan.rows,
            history=history,
        )
        record.synced, record.head_info, record.state = commit, build.info, plan.state
        record.message, record.updated_at, record.deleted_at = plan.message, updated_at, None
        record.environments = {row.environment: row for row in plan.rows}
        self._pushes.forget(name, commit)
        result = "refused" if plan.state is SyncState.REFUSED else "applied"
        self.metrics.sync_duration.labels(result).observe(duration_ms / 1000)
        if to_live_ms is not None:
            self.metrics.push_to_live.observe(to_live_ms / 1000)
        self.metrics.files_parsed.inc(build.files_parsed)
        self.metrics.last_success.labels(name).set(time.time())
        data: dict[str, Any] = {
            "commit": commit,
            "result": result,
            "duration_ms": round(duration_ms, 3),
            "files_parsed": build.files_parsed,
            "files": build.files_total,
            "environments": plan.results,
            "push_to_live_ms": None if to_live_ms is None else round(to_live_ms, 3),
        }
        self.bus.publish("sync", name, data)
        self._log_sync(name, commit, result, duration_ms, plan.results, plan.message, to_live_ms)
        self.bus.publish("branch", name, {"state": plan.state.value, "commit": commit})
        if routes_changed:
            self.bus.publish("routes", name, {"version": self._book.version})
        self._lifecycle_after_sync(name)

    def _log_sync(
        self,
        name: str,
        commit: str,
        result: str,
        duration_ms: float | None,
        environments: Mapping[str, str],
        message: str,
        push_to_live_ms: float | None = None,
    ) -> None:
        """One log line per sync result: applied, refused (with why) or error (retried); an
        applied one says its push-to-live time."""
        if self._sync_log is None:
            return
        record: dict[str, Any] = {
            "event": "sync",
            "branch": name,
            "commit": commit,
            "result": result,
            "environments": dict(environments),
            "duration_ms": None if duration_ms is None else round(duration_ms, 3),
        }
        if message:
            record["message"] = message
        if push_to_live_ms is not None:
            record["push_to_live_ms"] = round(push_to_live_ms, 3)
        self._sync_log(record)

    # -- deletion -------------------------------------------------------------------------

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

    # -- helpers --------------------------------------------------------------------------

    async def _build(self, commit: str) -> TreeBuild:
        """One commit through the pipeline (or its tree's build, kept), in a build slot, off the
        event loop."""
        async with self._build_slots:
            return await self._in_thread(
                self._executor, self._builds.build, self._repo, commit, self._settings, self.cache
            )

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

    @staticmethod
    async def _in_thread(executor: ThreadPoolExecutor, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, call, *args)
