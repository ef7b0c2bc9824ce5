"""One sync of a commit on a branch: build, plan, target, route book, store, one log line.

Split from the engine (engine.py), whose own code decides *what* runs in each branch's slot; this
is what a commit's sync does, in this order, for the guarantees of docs/dev/architecture.md:

* build (sync/build.py, off the loop, in a build slot) and plan (plan.py, pure): a commit is one
  unit, and a refused one keeps every environment's last good table;
* the target accepts the plan, then the route book is set and published (routebook.py) and the
  sync waits for that publication: "applied" is never stored or shown before the proxies have
  it, and push-to-live is measured up to that moment (pushes.py, "Push to live");
* only then the outcome goes to the store in one transaction, so a kill mid-sync loses nothing
  (the next start sees the remote head ahead of the stored one and syncs again);
* one ``sync`` event and one sync-result log line (``sync_log``) per sync; a failure's line is
  failures.py's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gitops_ingress.core.build import TreeBuild
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.build import BuildCache
from gitops_ingress.sync.events import EventBus
from gitops_ingress.sync.metrics import SyncMetrics
from gitops_ingress.sync.parsecache import ParseCache
from gitops_ingress.sync.plan import plan_commit
from gitops_ingress.sync.protocols import RepoSource, Target
from gitops_ingress.sync.pushes import PushTimes
from gitops_ingress.sync.records import BranchRecord, now_iso
from gitops_ingress.sync.routebook import RouteBook
from gitops_ingress.sync.store import Store, SyncEntry

SyncLog = Callable[[dict[str, Any]], None]  # one JSON log line per record (serve: proxy.accesslog.DictLog)


class SyncMixin:
    _repo: RepoSource
    _target: Target
    _settings: Settings
    _store: Store
    _records: dict[str, BranchRecord]
    _wanted: dict[str, str]
    _pushes: PushTimes
    _book: RouteBook
    _builds: BuildCache
    _build_slots: asyncio.Semaphore  # builds at once
    _executor: ThreadPoolExecutor
    _sync_log: SyncLog | None
    cache: ParseCache
    metrics: SyncMetrics
    bus: EventBus
    _in_store: Callable[..., Coroutine[Any, Any, Any]]
    _lifecycle_after_sync: Callable[[str], None]

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

    async def _build(self, commit: str) -> TreeBuild:
        """One commit through the pipeline (or its tree's build, kept), in a build slot, off the
        event loop."""
        async with self._build_slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor, self._builds.build, self._repo, commit, self._settings, self.cache
            )
