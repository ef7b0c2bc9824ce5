"""When to fetch: webhooks first, polling as the fallback, back-off while the remote fails.

One task owns the timing so that fetches never overlap and a burst of webhooks becomes one fetch:
a webhook adds its branch to a pending set and wakes the task, which waits a short debounce (so a
push of several refs, or a forge that retries, costs one round) and then fetches: the one ref when
one branch is pending, every ref at once when several are. Deliveries that arrive while a fetch
runs join the next one, so N deliveries during one slow fetch cost at most one more fetch (a push
creating 500 branches was 500 fetches one after the other). That next fetch waits as long as the
last one took (at least the debounce, at most ``MAX_SPACING``) before it starts: a forge sends a
push's deliveries over several seconds on a loaded machine, and without the wait every delivery
that came during a fetch started the next full fetch at once, 3 to 12 full fetches of about 0.5 s
each for one push of 500 branches (that push's heads all came with the first). With it, deliveries
that keep arriving cost at most one fetch per two fetch durations, and a delivery after a quiet
spell still waits only the debounce.
With nothing pending the task polls every ``interval`` seconds, spread by a random jitter so that
many instances do not hit one forge in step. After a failure it retries with exponential back-off
instead; a webhook still wakes it at once, since a delivery suggests the remote is back.

The watcher also remembers when each pending branch was *noticed* (``Noticed``): the arrival of
its first webhook delivery since the last fetch, or the start of a poll when no delivery came.
The earliest time per pending key wins (a forge's retry of the same push is not a new push; a
fetch that failed keeps its times for the next one), and the fetch hands the whole map to
``refresh`` so the engine can time push-to-live per branch
(docs/dev/architecture.md, "Push to live").

The fetching itself (``refresh``) belongs to the engine; the watcher only decides when.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gitops_ingress.core.errors import GitopsIngressError

log = logging.getLogger("gitops_ingress.sync")
MAX_SPACING = 1.0  # seconds: the longest wait before a fetch that follows another (a slow remote)


@dataclass(frozen=True, slots=True)
class Noticed:
    """When the control plane learnt of a push: ``at`` for people (UTC ISO 8601), ``clock`` (the
    monotonic clock) for measuring, so a wall-clock step never makes a push-to-live time wrong."""

    at: str
    clock: float

    @classmethod
    def now(cls) -> Noticed:
        return cls(datetime.now(UTC).isoformat(), time.monotonic())

    @classmethod
    def at_clock(cls, clock: float) -> Noticed:
        """An earlier moment read from ``time.monotonic()``, with its wall-clock time."""
        ago = max(0.0, time.monotonic() - clock)
        return cls((datetime.now(UTC) - timedelta(seconds=ago)).isoformat(), clock)

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.clock) * 1000


NoticedMap = Mapping[str | None, Noticed]  # branch (None: every branch) -> when it was noticed
Refresh = Callable[[str | None, NoticedMap], Awaitable[None]]


class Watcher:
    def __init__(
        self,
        refresh: Refresh,
        *,
        interval: float,
        jitter: float = 0.1,
        debounce: float = 0.05,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        on_change: Callable[[], None] = lambda: None,
        rng: random.Random | None = None,
    ) -> None:
        self._refresh = refresh
        self._interval = interval
        self._jitter = jitter
        self._debounce = debounce
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._on_change = on_change
        self._rng = rng or random.Random()
        self._pending: dict[str | None, Noticed] = {}
        self._wake = asyncio.Event()
        self._unfetched: dict[str | None, Noticed] = {}  # noticed before a fetch that failed
        self._fetching = False
        self._last_fetch_took = 0.0  # seconds; the wait before a fetch that follows it at once
        self._task: asyncio.Task[None] | None = None
        self.failures = 0

    @property
    def busy(self) -> bool:
        return self._fetching or bool(self._pending)

    def request(self, branch: str | None, noticed: Noticed | None = None) -> None:
        """Fetch ``branch`` (None: every branch) soon; the first request since the last fetch
        sets when the branch was noticed (``noticed``, default now)."""
        self._pending.setdefault(branch, noticed or Noticed.now())
        self._wake.set()

    def start(self, *, after_failure: bool = False) -> None:
        """Begin watching; ``after_failure``: the caller's own first fetch failed, so the first
        wait is the back-off, not the polling interval."""
        if after_failure:
            self.failures = max(self.failures, 1)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gitops-ingress watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def next_delay(self) -> float:
        if self.failures:
            base = min(self._retry_max, self._retry_initial * 2.0 ** (self.failures - 1))
        else:
            base = self._interval
        return base * (1 + self._rng.uniform(-self._jitter, self._jitter))

    async def _run(self) -> None:
        while True:
            if not self._pending:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.next_delay())
                except TimeoutError:
                    self._pending.setdefault(None, Noticed.now())  # a poll: noticed as it starts
                else:
                    await asyncio.sleep(self._debounce)  # coalesce a burst of deliveries
            elif self._last_fetch_took:
                # deliveries that came during the last fetch: let the ones still coming join them
                await asyncio.sleep(max(self._debounce, min(self._last_fetch_took, MAX_SPACING)))
            self._wake.clear()
            batch, self._pending = self._pending, {}
            self._fetching = True
            started = time.monotonic()
            try:
                await self._fetch(batch)
            finally:
                self._last_fetch_took = time.monotonic() - started
                self._fetching = False
                self._on_change()

    async def _fetch(self, batch: dict[str | None, Noticed]) -> None:
        # one branch: just its ref; more (a push of many refs, deliveries that arrived during the
        # last fetch): every ref in one fetch, which costs about as much as one ref, not one each
        (target,) = batch if len(batch) == 1 else (None,)
        # pushes noticed before a failed fetch are still waiting: their times carry over
        noticed = {**batch, **self._unfetched}
        self._unfetched = noticed
        try:
            await self._refresh(target, noticed)
        except GitopsIngressError as exc:
            self.failures += 1
            log.warning("fetch failed (attempt %d, next in about %.0fs): %s", self.failures, self.next_delay(), exc)
        except Exception:
            self.failures += 1
            log.exception("fetch failed unexpectedly")
        else:
            self.failures = 0
            # what this fetch covered is done; a one-ref fetch leaves the others' times waiting
            self._unfetched = {} if target is None else {k: v for k, v in noticed.items() if k != target}
