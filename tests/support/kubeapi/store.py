"""Objects, the global resourceVersion counter and the event history that watches replay.

One lock (a Condition) guards everything: the stand-in serves tests, not load, and a single lock
makes every write atomic with its resourceVersion and its history entry, which is exactly the
ordering guarantee a real API server's watch cache gives. Watchers wait on the same Condition, so
a write wakes them without polling. The history is bounded; ``compact`` (or overflowing the
bound) moves the low-water mark so that older resourceVersions answer 410 Expired, as etcd
compaction does.

Objects are stored and handed out as deep copies, so no caller can change stored state by accident.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .resources import ResourceType

Obj = dict[str, Any]


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED, MODIFIED or DELETED
    rt: ResourceType
    namespace: str
    obj: Obj
    prev: Obj | None  # the object before a MODIFIED/DELETED, for selector transitions


class Store:
    def __init__(self, max_history: int = 50_000) -> None:
        self.cond = threading.Condition(threading.RLock())
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._rv = 1
        self._history: deque[Event] = deque()
        self._max_history = max_history
        self._compacted_rv = 1  # every event with rv > this is still in the history
        self.watch_epoch = 0  # bumped to end every open watch
        self.closed = False

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock across a read-modify-write."""
        with self.cond:
            yield

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def compacted_rv(self) -> int:
        return self._compacted_rv

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        with self.cond:
            obj = self._objects.get(rt.key, {}).get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list_objects(
        self, rt: ResourceType, namespace: str | None, match: Callable[[Obj], bool] | None = None
    ) -> tuple[list[Obj], int]:
        """Objects sorted by namespace and name (the order the API server lists them in); only
        those ``match`` accepts are copied, so a selective list of a big store stays cheap."""
        with self.cond:
            table = self._objects.get(rt.key, {})
            items = [
                copy.deepcopy(o)
                for (ns, _), o in sorted(table.items())
                if (namespace is None or ns == namespace) and (match is None or match(o))
            ]
            return items, self._rv

    def namespaced_keys(self, namespace: str) -> list[tuple[str, str]]:
        """(resource key, name) of every object stored in ``namespace``."""
        with self.cond:
            return [(key, name) for key, table in self._objects.items() for (ns, name) in table if ns == namespace]

    def put(self, rt: ResourceType, obj: Obj) -> Obj:
        """Store ``obj`` under a new resourceVersion; returns the stored copy."""
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        with self.cond:
            table = self._objects.setdefault(rt.key, {})
            prev = table.get((ns, name))
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            stored = copy.deepcopy(obj)
            table[(ns, name)] = stored
            self._record(Event(self._rv, "MODIFIED" if prev else "ADDED", rt, ns, copy.deepcopy(stored), prev))
            return copy.deepcopy(stored)

    def remove(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        """Delete an object; the DELETED event carries it with the deletion's resourceVersion."""
        with self.cond:
            prev = self._objects.get(rt.key, {}).pop((namespace, name), None)
            if prev is None:
                return None
            self._rv += 1
            gone = copy.deepcopy(prev)
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._record(Event(self._rv, "DELETED", rt, namespace, gone, prev))
            return copy.deepcopy(gone)

    def _record(self, event: Event) -> None:
        self._history.append(event)
        while len(self._history) > self._max_history:
            self._compacted_rv = self._history.popleft().rv
        self.cond.notify_all()

    def compact(self) -> int:
        """Forget the whole history: only resourceVersions >= the current one stay valid."""
        with self.cond:
            self._history.clear()
            self._compacted_rv = self._rv
            return self._rv

    def events_after(self, rv: int) -> list[Event]:
        """Events newer than ``rv``; the caller checks ``rv >= compacted_rv`` first."""
        with self.cond:
            if not self._history or self._history[-1].rv <= rv:
                return []
            # The history is sorted by rv; walk back from the end, which is where watchers read.
            out: list[Event] = []
            for event in reversed(self._history):
                if event.rv <= rv:
                    break
                out.append(event)
            out.reverse()
            return out

    def drop_watches(self) -> None:
        with self.cond:
            self.watch_epoch += 1
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
