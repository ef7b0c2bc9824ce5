"""The heap frozen after route table swaps (proxy/heap.py): the new table leaves the collected
generations, cyclic garbage of the moment is collected rather than frozen for good, and swaps in
quick succession share one freeze that still takes the newest table."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from gitops_ingress.core.routing.state import RoutingState
from gitops_ingress.proxy.heap import HeapFreezer
from gitops_ingress.proxy.snapshot import Snapshot, SnapshotHolder


class Node:
    other: object = None


@pytest.fixture(autouse=True)
def collector_quiet() -> Iterator[None]:
    """No automatic collection during a test (only the freezer's own), and nothing left frozen
    for the tests after it."""
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()


def collected(thing: object) -> bool:
    """Whether ``thing`` is in a generation the collector walks (not frozen)."""
    return any(candidate is thing for candidate in gc.get_objects())


def garbage_cycle() -> weakref.ref[Node]:
    """Two nodes that only reference each other: garbage that reference counting cannot free."""
    first, second = Node(), Node()
    first.other, second.other = second, first
    return weakref.ref(first)


def test_a_swap_freezes_the_new_table_after_collecting_the_garbage() -> None:
    holder = SnapshotHolder()
    holder.subscribe(HeapFreezer())
    cycle = garbage_cycle()
    snapshot = Snapshot(RoutingState(version=1))
    assert collected(snapshot.state)
    holder.swap(snapshot)
    assert not collected(snapshot.state)  # frozen: no collection walks the table any more
    assert cycle() is None  # collected before the freeze, not kept forever in the frozen heap


def test_swaps_within_the_interval_share_one_freeze_that_takes_the_newest() -> None:
    async def run() -> None:
        freezes = asyncio.Queue[None]()
        # a clock that stands still: every swap after the first is within the interval
        freezer = HeapFreezer(interval=0.05, on_frozen=lambda: freezes.put_nowait(None), clock=lambda: 0.0)
        holder = SnapshotHolder()
        holder.subscribe(freezer)
        holder.swap(Snapshot(RoutingState(version=1)))
        await freezes.get()  # the first swap after a quiet time: at once
        cycle = garbage_cycle()
        second, third = Snapshot(RoutingState(version=2)), Snapshot(RoutingState(version=3))
        holder.swap(second)
        holder.swap(third)
        assert freezes.empty() and collected(second.state) and collected(third.state)
        await asyncio.wait_for(freezes.get(), 60)  # the one freeze due at the interval's end
        assert not collected(third.state) and not collected(second.state)
        assert cycle() is None
        assert freezes.empty()  # one freeze for both swaps

    asyncio.run(run())
