"""A bounded, thread-safe memo of immutable git objects by id, least recently used out.

Git objects never change, so whatever was read of one (a commit's tree and description, a tree's
entries, a blob's size or bytes) is kept by object id and never goes stale; the bound only limits
memory, and a miss only costs a read. Unlike ``functools.lru_cache`` the memo can be filled
from outside a read (``put``): a burst's objects are read in one pass (preload.py) and put here,
so the builds that follow find them without a round trip. ``weigh`` gives an entry's cost against
the capacity (1 each by default; a blob's bytes for the content memo). The lock is held for the
look-up and the insert only, never for the read itself: two threads that miss on one id both read
it (harmless, the results are equal).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class Memo(Generic[V]):
    def __init__(self, capacity: int, weigh: Callable[[V], int] = lambda _: 1) -> None:
        self._capacity = capacity
        self._weigh = weigh
        self._entries: OrderedDict[bytes, V] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            return key in self._entries

    def peek(self, key: bytes) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def get(self, key: bytes, read: Callable[[bytes], V]) -> V:
        """The value kept for ``key``, or ``read(key)`` kept and returned."""
        found = self.peek(key)
        if found is None:
            found = read(key)
            self.put(key, found)
        return found

    def put(self, key: bytes, value: V) -> None:
        weight = self._weigh(value)
        if weight > self._capacity:
            return  # would push everything else out
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._weight -= self._weigh(old)
            self._entries[key] = value
            self._weight += weight
            while self._weight > self._capacity:
                _, dropped = self._entries.popitem(last=False)
                self._weight -= self._weigh(dropped)
