"""Fixtures for the engine: real bare remotes, a real Mirror, the real store and local target.

``Harness`` starts an Engine against a remote and offers the waits the tests need, all on the
event bus or on ``Engine.settle`` with a deadline, never on sleeps. Targets that misbehave on
purpose (slow, failing) wrap the real LocalTarget, so what they finally apply is still real.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gitops_ingress.core.routing import RouteTable
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import ControlPlaneEvent
from gitops_ingress.gitrepo import FetchResult, Mirror
from gitops_ingress.gitrepo.source import CommitTree
from gitops_ingress.sync import (
    DesiredEnvironment,
    Engine,
    EngineOptions,
    LocalTarget,
    Store,
)
from tests.support.gitrepos import Remote, WorkTree, make_remote
from tests.support.manifests import ingress, to_yaml

WAIT = 20.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


BAD_HOST = to_yaml(ingress("broken", "Not_A_Host.example.com", "web"))


def seed(
    tmp_path: Path, files: Mapping[str, str] | None = None, *, branch: str | None = None
) -> tuple[Remote, WorkTree]:
    """A remote whose ``main`` has a shop and an api Ingress in production and one in staging;
    with ``branch``, also that branch at the same commit (the work tree is left on it)."""
    remote = make_remote(tmp_path)
    work = remote.clone()
    work.write(
        files
        or {
            "environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web")),
            "environments/production/api.yaml": to_yaml(ingress("api", "api.example.com", "api", path="/v1")),
            "environments/staging/shop.yaml": to_yaml(ingress("shop", "shop.staging.example.com", "web")),
        }
    )
    work.commit("seed")
    work.push("main")
    if branch is not None:
        work.branch(branch)
        work.push(branch)
    return remote, work


class CountingTarget(LocalTarget):
    """The local target, counting calls; ``gate`` (when set) holds ``apply`` for one branch;
    ``tables`` is what each branch was last given, by environment."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: list[tuple[str, dict[str, str]]] = []
        self.tables: dict[str, dict[str, RouteTable]] = {}
        self.adopted: list[str] = []
        self.removed: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.entered: dict[str, asyncio.Event] = {}
        self.fail: Callable[[str], Exception | None] = lambda branch: None

    async def apply(self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]) -> None:
        self.entered.setdefault(branch, asyncio.Event()).set()
        gate = self.gates.get(branch)
        if gate is not None:
            await gate.wait()
        error = self.fail(branch)
        if error is not None:
            raise error
        self.applied.append((branch, {name: env.commit for name, env in environments.items()}))
        self.tables[branch] = {name: env.table for name, env in environments.items()}
        await super().apply(branch, stable, environments)

    async def adopt(self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]) -> None:
        self.adopted.append(branch)
        await super().adopt(branch, stable, environments)

    async def remove(self, branch: str, stable: bool) -> None:
        self.removed.append(branch)
        self.tables.pop(branch, None)
        await super().remove(branch, stable)


class CountingMirror(Mirror):
    """The real Mirror, counting the fetches it is asked for, so a test can wait for the engine's
    next attempt (``wait_fetches``) instead of polling a metric. ``fetch`` runs in the engine's
    fetch thread: the count is kept on the event loop the mirror was made on."""

    def __init__(self, remote: str, path: Path, *, fetch_timeout: float) -> None:
        super().__init__(remote, path, fetch_timeout=fetch_timeout)
        self._loop = asyncio.get_running_loop()
        self._fetched = asyncio.Event()
        self._built = asyncio.Event()
        self.fetches = 0
        self.asked: list[str | None] = []  # what each fetch was asked for, in order
        self.hold: threading.Event | None = None  # when set: fetches wait for it (a slow remote)
        self.built: list[str] = []  # the commits a build asked for, in order (``tree``)
        self.build_hold: threading.Event | None = None  # when set: builds wait for it (a slow build)

    def fetch(self, branch: str | None = None) -> FetchResult:
        self._loop.call_soon_threadsafe(self._count, branch)
        if self.hold is not None:
            self.hold.wait(WAIT)
        return super().fetch(branch)

    def tree(self, sha: str) -> CommitTree:
        """Called once per build, on a build thread."""
        self._loop.call_soon_threadsafe(self._building, sha)
        if self.build_hold is not None:
            self.build_hold.wait(WAIT)
        return super().tree(sha)

    def _building(self, sha: str) -> None:
        self.built.append(sha)
        self._built.set()
        self._built = asyncio.Event()

    async def wait_built(self, sha: str) -> None:
        """Until a build of ``sha`` has started (TimeoutError after WAIT)."""
        async with asyncio.timeout(WAIT):
            while sha not in self.built:
                await self._built.wait()

    def _count(self, branch: str | None) -> None:
        self.asked.append(branch)
        self.fetches += 1
        self._fetched.set()
        self._fetched = asyncio.Event()

    async def wait_fetches(self, count: int) -> None:
        """Until ``count`` fetches have started (TimeoutError after WAIT)."""
        async with asyncio.timeout(WAIT):
            while self.fetches < count:
                await self._fetched.wait()


class Harness:
    def __init__(self, engine: Engine, target: CountingTarget, remote: Remote, mirror: CountingMirror) -> None:
        self.engine = engine
        self.target = target
        self.remote = remote
        self.mirror = mirror

    async def refresh(self, branch: str | None = None) -> None:
        await self.engine.refresh(branch)
        await self.engine.settle(WAIT)

    async def wait_event(
        self, predicate: Callable[[ControlPlaneEvent], bool], action: Callable[[], object] | None = None
    ) -> ControlPlaneEvent:
        """Subscribe, run ``action``, return the first event matching ``predicate``."""
        async with self.engine.subscribe() as events:
            if action is not None:
                result = action()
                if asyncio.iscoroutine(result):
                    await result
            async with asyncio.timeout(WAIT):
                async for event in events:
                    if predicate(event):
                        return event
        raise AssertionError("the event stream ended")

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Until ``condition()`` holds, re-checked on every event (subscribed before the first
        check, so a change cannot slip between the check and the wait)."""
        async with self.engine.subscribe() as events:
            if condition():
                return
            async with asyncio.timeout(WAIT):
                async for _event in events:
                    if condition():
                        return
        raise AssertionError("the event stream ended")

    def resolve(self, host: str, path: str = "/") -> str | None:
        backend = self.engine.routing_state().resolve(host, path).match.backend
        return str(backend) if backend is not None else None


@asynccontextmanager
async def running(
    tmp_path: Path,
    remote: Remote,
    settings: Settings | None = None,
    *,
    state: str = "state",
    options: EngineOptions | None = None,
    target: CountingTarget | None = None,
    url: str | None = None,
    fetch_timeout: float = 20.0,
) -> AsyncIterator[Harness]:
    settings = settings or Settings()
    target = target or CountingTarget()
    mirror = CountingMirror(url or remote.url, tmp_path / state / "mirror.git", fetch_timeout=fetch_timeout)
    store = Store(tmp_path / state / "state.db")
    engine = Engine(
        mirror,
        target,
        settings,
        store,
        options=options or EngineOptions(poll_interval=3600, debounce=0.01, retry_initial=0.05, retry_max=0.2),
    )
    try:
        await engine.start()
        await engine.settle(WAIT)
        yield Harness(engine, target, remote, mirror)
    finally:
        await engine.stop()
        store.close()
        mirror.close()
