"""The engine's routing state: applied route tables by branch, published as one RoutingState.

The engine owns exactly one ``RouteBook`` and is the only writer (``set``, after a branch's
outcome is stored). Everything that routes or shows routes reads this one state: the embedded
proxy of ``serve`` (an in-process route source subscribed to it), the control-plane stream that
separate proxies follow, the API and the dashboard (through ``routing_state()``).

``stable`` is the stable branch's environments merged into one table, each other branch is one
preview table. Environments merge because one proxy serves every environment's hosts; validation
already refuses duplicate rules inside an environment, and across environments the tie rules of
the route table decide (namespace/name, then environment).

Changes are gathered and published together. A push that creates 500 branches makes 500 syncs
end within a second or two, and every published state costs work proportional to the number of
branches (a new state's copy of the preview map, the embedded proxy's snapshot swap with its
metrics and heap freeze, a delta for every stream client): one publication per branch made the
burst quadratic. So ``set`` only records a branch's new table; the first change after a quiet
spell is published on the loop's next turn, and changes that follow within ``PUBLISH_INTERVAL``
of a publication wait for the next one, which carries all of them as one new immutable state
(``RoutingState.with_changes``, one version). A lone change is therefore live on the next turn
of the loop, and a burst costs a publication per interval, not per branch. Versions still count
changes (a publication of five changes is five versions on), as when each was published alone.
``published`` is what the proxies were given, and what everything that shows routes reads (the
API, the dashboard, a new stream client's whole state), so nothing shows a route no proxy
serves yet; a sync awaits ``wait_published`` before it records "applied" for the same reason.
``state`` folds the pending changes in (the next publication's work). Subscribers are called on the event loop; without a
running loop (a unit test) ``set`` publishes at once. A change that leaves the routes as they were
publishes nothing, so a re-sync wakes no proxy. Nothing here does I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

from gitops_ingress.core.routing import EMPTY_TABLE, RouteTable, RoutingState
from gitops_ingress.core.routing.groups import GroupMemo

StateListener = Callable[[RoutingState], None]
Unsubscribe = Callable[[], None]

PUBLISH_INTERVAL = 0.05  # seconds between two publications while changes keep coming


class RouteBook:
    """Applied tables by branch and environment, and the RoutingState they make."""

    def __init__(self, stable_branch: str, preview_domain: str) -> None:
        self._stable_branch = stable_branch
        self._tables: dict[str, dict[str, RouteTable]] = {}
        self._groups = GroupMemo()  # the merged tables of branches share main's host groups too
        self._state = RoutingState(preview_domain=preview_domain)
        self._pending: dict[str, RouteTable | None] = {}  # branch -> its new table (None: removed)
        self._pending_changes = 0  # each change counts one version, as if published alone
        self._published = self._state
        self._publishing: asyncio.TimerHandle | None = None
        self._last_published = float("-inf")  # the loop's clock
        self._listeners: list[StateListener] = []
        self._waiters: list[asyncio.Future[None]] = []  # wait_published, woken by _publish

    @property
    def state(self) -> RoutingState:
        """The state with every change recorded so far (published or about to be)."""
        if self._pending:
            pending, self._pending = self._pending, {}
            stable: RouteTable | None = None  # None: the stable table is kept
            if self._stable_branch in pending:
                stable = pending.pop(self._stable_branch) or EMPTY_TABLE
            self._state = self._state.with_changes(stable, pending, self.version)
            self._pending_changes = 0
        return self._state

    @property
    def published(self) -> RoutingState:
        """The state the subscribers (the proxies) were last given."""
        return self._published

    async def wait_published(self) -> None:
        """Return once every change recorded so far has been published (at once when none waits)."""
        if not self._pending and self._publishing is None:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    @property
    def version(self) -> int:
        """The version ``state`` has, without folding pending changes in (that is the
        publication's work, once per burst): one more for each change, published or not."""
        return self._state.version + self._pending_changes

    def subscribe(self, listener: StateListener) -> Unsubscribe:
        """Call ``listener`` with every new state until the returned function is called; it must
        not block (it runs on the loop)."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def set(self, branch: str, tables: Mapping[str, RouteTable]) -> bool:
        """Replace a branch's tables (empty: remove it); True when the routing state changed
        (published on the loop's next turn, or with the next publication of a burst)."""
        if not tables:
            self._tables.pop(branch, None)
            merged: RouteTable | None = None
        else:
            self._tables[branch] = dict(tables)
            merged = RouteTable.merge(tables, self._groups)
        current = self._current(branch)
        if merged is None and (current is None or current.version == EMPTY_TABLE.version):
            return False
        if merged is not None and current is not None and merged.version == current.version:
            return False  # same routes: no new state, no wake-up for every proxy
        self._pending[branch] = merged
        self._pending_changes += 1
        self._schedule()
        return True

    def _current(self, branch: str) -> RouteTable | None:
        """The branch's table as last set (pending or published)."""
        if branch in self._pending:
            return self._pending[branch]
        if branch == self._stable_branch:
            return self._state.stable
        return self._state.previews.get(branch)

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._publish()  # no loop (a unit test): nothing to gather with
            return
        if self._publishing is None:
            delay = max(0.0, self._last_published + PUBLISH_INTERVAL - loop.time())
            self._publishing = loop.call_later(delay, self._publish)

    def _publish(self) -> None:
        self._publishing = None
        waiters, self._waiters = self._waiters, []
        state = self.state
        if state is not self._published:
            self._published = state
            with contextlib.suppress(RuntimeError):  # no loop: no interval to keep
                self._last_published = asyncio.get_running_loop().time()
            for listener in list(self._listeners):
                listener(state)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
