"""The local target: applied route tables held in memory and published as one RoutingState.

With no cluster, "applying" a branch means making its routes what the proxies serve. The target
keeps every branch's applied tables by environment and turns them into a ``core`` RoutingState:
``stable`` is the stable branch's environments merged into one table, each other branch is one
preview table. Environments merge because one proxy serves every environment's hosts; validation
already refuses duplicate rules inside an environment, and across environments the tie rules of
the route table decide (namespace/name, then environment).

Every change produces a new immutable state (``RoutingState.with_branch``) that listeners receive
synchronously: the in-process proxy swaps it in, the control-plane stream wakes up. Nothing here
does I/O, so ``apply`` is instant and a slow proxy can never slow the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gitops_ingress.core.desired import DesiredEnvironment
from gitops_ingress.core.routing import EMPTY_TABLE, RouteTable, RoutingState

StateListener = Callable[[RoutingState], None]


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

    def tables(self, branch: str) -> dict[str, RouteTable] | None:
        found = self._tables.get(branch)
        return dict(found) if found is not None else None

    def subscribe(self, listener: StateListener) -> None:
        """Call ``listener`` with every new state; it must not block (it runs on the loop)."""
        self._listeners.append(listener)

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


class LocalTarget(RouteBook):
    """The ``Target`` for ``serve --target local``: applying is setting the book."""

    name = "local"

    async def apply(self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]) -> None:
        self.set(branch, {name: env.table for name, env in environments.items()})

    adopt = apply  # in memory, taking stored state back after a restart is applying it

    async def remove(self, branch: str, stable: bool) -> None:
        self.set(branch, {})
