"""The counts behind ``limit-rps``, ``limit-rpm`` and ``limit-connections`` (core/annotations/rates.py),
one ``ClientLimiter`` per proxy worker (ServerState), keyed by (Ingress, client address).

Rates are token buckets, one per rate set: a bucket holds ``burst + 1`` tokens, refills at the
rate, and a request takes one token from each; it is refused (and takes nothing) when any bucket
has less than one. That is nginx's ``limit_req ... burst=N nodelay`` arithmetic. The buckets live
in an LRU table of at most ``max_clients`` entries: a flood of addresses evicts the longest-idle
client, who comes back with a full bucket (nginx's zone evicts the same way when it fills), and
memory stays bounded whatever the flood. Requests in progress are counted only while there are
some, so that table is bounded by the requests the worker is serving.

Only routes with such annotations reach this module (proxy/annotated.py); it is not part of the
compiled request path (setup.py).
"""

from __future__ import annotations

from collections import OrderedDict

from gitops_ingress.core.annotations.rates import RequestLimits

Key = tuple[str, str]  # (Ingress "namespace/name", client address)
DEFAULT_MAX_CLIENTS = 65536


class ClientLimiter:
    __slots__ = ("_active", "_buckets", "max_clients")

    def __init__(self, max_clients: int = DEFAULT_MAX_CLIENTS) -> None:
        self.max_clients = max_clients
        self._buckets: OrderedDict[Key, list[float]] = OrderedDict()  # tokens per rate, then the time
        self._active: dict[Key, int] = {}

    def take(self, key: Key, limit: RequestLimits, now: float) -> bool:
        """One request of ``key`` at ``now`` (time.monotonic()): True when every rate admits it."""
        rates = limit.rates
        if not rates:
            return True
        state = self._buckets.get(key)
        if state is None:
            state = [capacity for _, capacity in rates] + [now]
            if len(self._buckets) >= self.max_clients:
                self._buckets.popitem(last=False)
            self._buckets[key] = state
        else:
            self._buckets.move_to_end(key)
        elapsed = max(now - state[-1], 0.0)
        state[-1] = now
        admitted = True
        for index, (rate, capacity) in enumerate(rates):
            state[index] = min(capacity, state[index] + elapsed * rate)
            admitted = admitted and state[index] >= 1.0
        if admitted:
            for index in range(len(rates)):
                state[index] -= 1.0
        return admitted

    def enter(self, key: Key, limit: RequestLimits) -> bool:
        """A request of ``key`` starts: False (nothing counted) when it has ``connections`` already."""
        count = self._active.get(key, 0)
        if count >= limit.connections:
            return False
        self._active[key] = count + 1
        return True

    def leave(self, key: Key) -> None:
        """A request counted by ``enter`` ended."""
        count = self._active.pop(key, 0) - 1
        if count > 0:
            self._active[key] = count

    @property
    def clients(self) -> int:
        """Clients with a bucket (at most ``max_clients``)."""
        return len(self._buckets)

    @property
    def in_progress(self) -> int:
        return sum(self._active.values())
