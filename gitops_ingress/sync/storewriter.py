"""The store's writes, on one thread of their own, grouped into one transaction per burst.

Why: a push of 500 branches is 500 syncs, each ending in a store write (its branch, environment
and history rows), and a forge's deliveries add one row each. One transaction per write made the
writes queue behind each other's BEGIN/COMMIT and journal work on the one store thread. Here every
write that is queued while the thread runs the last group joins the next group, which the thread
runs as ONE transaction (``Store.run_batch``): a lone write still costs one transaction of its own,
a burst costs a handful.

What is kept:

* Order: writes run in the order they were queued (one thread, one queue), as before.
* All or nothing per write: each runs in a savepoint of its own, so one bad branch's write is
  undone and fails only its own caller; the others commit.
* On disk before answered: a caller's result (or error) is set only once the group's COMMIT
  returned, so a webhook's 202, which waits for its delivery row, still means the row survives a
  ``kill -9``; and a sync still records only what the target accepted (engine.py).
* Off the loop: the loop only queues and awaits (``run``); the transaction and its disk work are
  this thread's.

Reads of the dashboard do not come here: they use the store's reading connection (store.py).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar, cast

from gitops_ingress.sync.metrics import SyncMetrics
from gitops_ingress.sync.store import Store

T = TypeVar("T")
_Job = tuple[Callable[[], object], "Future[object]"]


class StoreWriter:
    def __init__(self, store: Store, metrics: SyncMetrics) -> None:
        self._store = store
        self._metrics = metrics
        self._queue: list[_Job] = []
        self._ready = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="sync-store", daemon=True)
        self._thread.start()

    async def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``call(*args, **kwargs)`` in the next group's transaction; its result once on disk."""
        future: Future[object] = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("the store writer is closed")
            self._queue.append((functools.partial(call, *args, **kwargs), future))
            self._ready.notify()
        return cast(T, await asyncio.wrap_future(future))

    def close(self) -> None:
        """Stop once what is queued is written (the thread finishes it; new writes are refused)."""
        with self._ready:
            self._closed = True
            self._ready.notify()

    def _loop(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return  # closed, and everything queued is written
                jobs, self._queue = self._queue, []
            # a caller cancelled before its group started is dropped (as an executor drops a job
            # not yet started); once running, a future can no longer be cancelled under us
            self._write([job for job in jobs if job[1].set_running_or_notify_cancel()])

    def _write(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        try:
            outcomes = self._store.run_batch([call for call, _ in jobs])
        except BaseException as exc:  # the transaction itself failed: nothing of it is on disk
            for _, future in jobs:
                future.set_exception(exc)
            return
        self._metrics.store_transactions.inc()
        self._metrics.store_writes.inc(len(jobs))
        for (_, future), (ok, value) in zip(jobs, outcomes, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(cast(BaseException, value))
