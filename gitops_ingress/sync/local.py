"""The local target: ``serve --target local``, where the embedded proxy is the data plane.

With no cluster there is nothing to write: a branch is live once the engine publishes its routing
state (``Engine.routes``, routebook.py), which the embedded proxy follows through an in-process
route source. So the target holds no copy of the routes; ``apply``, ``adopt`` and ``remove`` only
accept (and ``reconcile_all`` finds no drift). Keeping it as a target anyway keeps the engine's order the same for every target: the
target accepts, the outcome is stored, then the state is published.
"""

from __future__ import annotations

from collections.abc import Mapping

from gitops_ingress.core.desired import DesiredEnvironment


class LocalTarget:
    """The ``Target`` whose routes are the engine's published state (nothing to apply)."""

    name = "local"
    repairs_drift = False  # the routes are the engine's own state: nothing outside can drift

    async def apply(self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]) -> None:
        return None

    async def adopt(self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]) -> None:
        return None

    async def remove(self, branch: str, stable: bool) -> None:
        return None

    async def reconcile_all(self) -> dict[str, str]:
        return {}
