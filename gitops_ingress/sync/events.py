"""The in-process event bus: ``ControlPlaneEvent`` fan-out to the dashboard, the API and streams.

Every subscriber gets its own bounded queue, registered when ``subscribe()`` is *called* (not when
iteration starts), so a caller that subscribes and then reads the current state can never miss a
change in between. A subscriber that stops reading must not hold the engine back or grow memory
without bound: when its queue is full the oldest event is dropped and the next event it receives
carries ``data["dropped"]``, so a consumer knows to re-read the state. Publishing never awaits.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Self

from gitops_ingress.core.status import ControlPlaneEvent

DEFAULT_QUEUE_SIZE = 1000


class Subscription:
    """An async iterator of events; ``close()`` (or leaving ``async with``) unsubscribes."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[ControlPlaneEvent | None] = asyncio.Queue(maxsize)
        self._dropped = 0

    def offer(self, event: ControlPlaneEvent | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self._dropped += 1
        self._queue.put_nowait(event)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ControlPlaneEvent:
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        if self._dropped:
            event = event.model_copy(update={"data": {**event.data, "dropped": self._dropped}})
            self._dropped = 0
        return event

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._bus.unsubscribe(self)

    async def aclose(self) -> None:
        """The async-generator spelling, so ``contextlib.aclosing`` works on any subscription."""
        self.close()


class EventBus:
    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._sequence = itertools.count(1)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self, self._queue_size)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, type_: str, branch: str, data: dict[str, Any] | None = None) -> ControlPlaneEvent:
        event = ControlPlaneEvent(sequence=next(self._sequence), type=type_, branch=branch, data=data or {})
        for subscription in list(self._subscribers):
            subscription.offer(event)
        return event

    def close(self) -> None:
        """End every subscription (their iterators stop); used at shutdown."""
        for subscription in list(self._subscribers):
            subscription.offer(None)
        self._subscribers.clear()
