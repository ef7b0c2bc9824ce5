"""The heap frozen out of the cyclic garbage collector after route table swaps, at most once per
interval.

Why freeze: a table of 10,000 hosts is some 100,000 long-lived objects; left in the collected
generations, every full collection walks them and costs the request path a quarter of its
throughput (measured: bench/proxy.py). ``gc.freeze`` moves everything alive into the permanent
generation, which no collection walks. Replaced tables are still freed by reference counting:
they hold no reference cycles.

Why collect first: a frozen object is never collected, so cyclic garbage alive at the moment of
the freeze (an exception's traceback and its frames, a closed connection's protocol and
transport) would be kept for the life of the process, a leak growing with every swap. The
collection walks only what is not frozen yet: what was allocated since the last freeze.

Why at most once per interval: a control plane in a burst publishes a few dozen states a second
(500 new branches from one push), and one collection per publication was some 6 % of ``serve``'s
CPU time in that burst. A swap after a quiet interval freezes at once, as before; swaps within
the interval of the last freeze share one freeze at its end (a timer on the running loop), which
then takes the newest table with it. Meanwhile the newest tables are young objects that the
collector's automatic passes may walk, for less than one interval. Without a running loop (a
swap from another thread, a test), the freeze is done at once.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

FREEZE_INTERVAL = 0.5  # seconds: the longest a swapped-in table waits to be frozen


class HeapFreezer:
    """A snapshot listener (``SnapshotHolder.subscribe``) that collects and freezes the heap
    after swaps, at most once per ``interval``. ``on_frozen`` is called after each freeze."""

    def __init__(
        self,
        interval: float = FREEZE_INTERVAL,
        on_frozen: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._on_frozen = on_frozen
        self._clock = clock
        self._last = -interval  # long enough ago: the first swap freezes at once
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, _snapshot: object) -> None:
        if self._timer is not None:
            return  # a freeze is due already; it takes this table too
        wait = self._last + self.interval - self._clock()
        if wait <= 0:
            self.freeze()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to wait on: now rather than never
            self.freeze()
            return
        self._timer = loop.call_later(wait, self._due)

    def _due(self) -> None:
        self._timer = None
        self.freeze()

    def freeze(self) -> None:
        gc.collect()  # nothing that is garbage now is frozen (module docstring)
        gc.freeze()
        self._last = self._clock()
        if self._on_frozen is not None:
            self._on_frozen()

    def close(self) -> None:
        """Cancel a freeze that is due (the worker is stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
