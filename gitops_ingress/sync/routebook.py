"""The engine's routing state: applied route tables by branch, published as one RoutingState.

The engine owns exactly one ``RouteBook`` and is the only writer (``set``, after a branch's
outcome is stored). Everything that routes or shows routes reads this one state: the embedded
proxy of ``serve`` (an in-process route source subscribed to it), the control-plane stream that
separate proxies follow, the API and the dashboard (through ``routing_state()``).

``stable`` is the stable branch's environments merged into one table, each other branch is one
preview table. Environments merge because one proxy serves every environment's hosts; validation
already refuses duplicate rules inside an environment, and across environments the tie rules of
the route table decide (namespace/name, then environment).

Every change produces a new immutable state (``RoutingState.with_branch``) that subscribers
receive synchronously, on the event loop; a change that leaves the routes as they were publishes
nothing, so a re-sync wakes no proxy. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gitops_ingress.core.routing import EMPTY_TABLE, RouteTable, RoutingState

StateListener = Callable[[RoutingState], None]
Unsubscribe = Callable[[], None]


class RouteBook:
    """Applied tables by branch and environment, and the RoutingState they make."""

    def __init__(self, stable_branch: str, preview_domain: str) -> None:
        self._stable_branch = stable_branch
        self._tables: dict[str, dict[str, RouteTable]] = {}
        self._state = RoutingState(preview_domain=preview_domain)
        self._listeners: list[StateListener] = []

    @property
    def state(self) -> RoutingState:
        return self._state

    def subscribe(self, listener: StateListener) -> Unsubscribe:
        """Call ``listener`` with every new state until the returned function is called; it must
        not block (it runs on the loop)."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def set(self, branch: str, tables: Mapping[str, RouteTable]) -> bool:
        """Replace a branch's tables (empty: remove it); True when the routing state changed."""
        if not tables:
            self._tables.pop(branch, None)
            merged: RouteTable | None = None
        else:
            self._tables[branch] = dict(tables)
            merged = RouteTable.merge(tables)
        if branch == self._stable_branch:
            current: RouteTable | None = self._state.stable
        else:
            current = self._state.previews.get(branch)
        if merged is None and (current is None or current.version == EMPTY_TABLE.version):
            return False
        if merged is not None and current is not None and merged.version == current.version:
            return False  # same routes: no new state, no wake-up for every proxy
        self._publish(self._state.with_branch(branch, merged, self._stable_branch))
        return True

    def _publish(self, state: RoutingState) -> None:
        self._state = state
        for listener in list(self._listeners):
            listener(state)
