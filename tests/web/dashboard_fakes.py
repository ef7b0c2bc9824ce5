"""A small in-memory ControlPlaneView over real RouteTables and real diffs.

It stands in for the reconcile engine (which has its own tests), not for the code under test: the
web layer reads only the ``ControlPlaneView`` Protocol, so the API and dashboard tests build the
states they need here -- hostile names, refused commits, 1,000 branches -- without git.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI

from gitops_ingress.core.diff import RouteDiff, diff_environments
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.naming import branch_slug, preview_host
from gitops_ingress.core.routing import Route, RouteTable, RoutingState, ServiceRef
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import (
    BranchStatus,
    CommitInfo,
    ControlPlaneEvent,
    EnvironmentStatus,
    PreviewURL,
    SyncRecord,
    SyncState,
)
from gitops_ingress.web.dashboard import install_dashboard
from gitops_ingress.web.options import WebOptions
from tests.web.live_server import serve

SHA_MAIN = "a" * 40
SHA_FEATURE = "b" * 40
SHA_BAD = "c" * 40
PROXY_PORT = 8080


def route(
    host: str,
    path: str,
    service: str,
    port: str = "80",
    *,
    ns: str = "shop",
    env: str = "production",
    path_type: str = "Prefix",
    file: str = "environments/production/shop.yaml",
    line: int = 7,
) -> Route:
    return Route(host, path, path_type, ServiceRef(ns, service, port), f"{ns}/{service}", file, line, env)


def main_tables() -> dict[str, RouteTable]:
    return {
        "production": RouteTable(
            [
                route("shop.example.com", "/", "storefront"),
                route("shop.example.com", "/api", "catalog-api", "8080", line=21),
            ]
        ),
        "staging": RouteTable([route("shop.staging.example.com", "/", "storefront", ns="staging-shop", env="staging")]),
    }


def feature_tables() -> dict[str, RouteTable]:
    tables = main_tables()
    tables["production"] = RouteTable(
        [
            route("shop.example.com", "/", "storefront"),
            route("shop.example.com", "/api", "catalog-api-v2", "8080", line=21),
            route("shop.example.com", "/api/v2/new", "catalog-api-v2", "8080", line=30),
        ]
    )
    return tables


@dataclass
class FakeView:
    settings: Settings = field(default_factory=Settings)
    statuses: dict[str, BranchStatus] = field(default_factory=dict)
    tables: dict[str, dict[str, RouteTable]] = field(default_factory=dict)
    records: list[SyncRecord] = field(default_factory=list)
    remote_error: str | None = None
    # (loop, queue): the server runs in its own thread, so events cross threads thread-safely
    subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[ControlPlaneEvent]]] = field(default_factory=list)
    subscribed: threading.Event = field(default_factory=threading.Event)
    route_listeners: list[tuple[asyncio.AbstractEventLoop, Callable[[RoutingState], None]]] = field(
        default_factory=list
    )
    sequence: int = 0

    # ---- ControlPlaneView
    def branches(self) -> Sequence[BranchStatus]:
        _on_loop()
        return list(self.statuses.values())

    def branch_names(self) -> Sequence[str]:
        _on_loop()
        return [status.name for status in self.statuses.values()]

    def branch(self, name: str) -> BranchStatus | None:
        _on_loop()
        return self.statuses.get(name)

    def routes(self, branch: str) -> Mapping[str, RouteTable] | None:
        _on_loop()
        return self.tables.get(branch)

    def diff(self, branch: str) -> RouteDiff | None:
        _on_loop()
        head = self.tables.get(branch)
        if head is None or branch == self.settings.stable_branch:
            return None
        return diff_environments(self.tables.get(self.settings.stable_branch, {}), head)

    def history(self, branch: str | None = None, limit: int = 50) -> Sequence[SyncRecord]:
        _on_loop()
        chosen = [r for r in reversed(self.records) if branch is None or r.branch == branch]
        return chosen[:limit]

    def routing_state(self) -> RoutingState:
        _on_loop()
        stable = self.tables.get(self.settings.stable_branch, {})
        previews = {
            name: _merged(tables) for name, tables in self.tables.items() if name != self.settings.stable_branch
        }
        return RoutingState(_merged(stable), previews, self.settings.preview_domain, self.sequence)

    def subscribe_routes(self, listener: Callable[[RoutingState], None]) -> Callable[[], None]:
        entry = (asyncio.get_running_loop(), listener)
        self.route_listeners.append(entry)
        return lambda: self.route_listeners.remove(entry)

    async def subscribe(self) -> AsyncIterator[ControlPlaneEvent]:
        entry = (asyncio.get_running_loop(), asyncio.Queue[ControlPlaneEvent]())
        self.subscribers.append(entry)
        self.subscribed.set()
        try:
            while True:
                yield await entry[1].get()
        finally:
            self.subscribers.remove(entry)

    # ---- test helpers
    def publish(self, kind: str, branch: str) -> None:
        self.sequence += 1
        event = ControlPlaneEvent(sequence=self.sequence, type=kind, branch=branch, data={"branch": branch})
        for loop, queue in list(self.subscribers):
            loop.call_soon_threadsafe(queue.put_nowait, event)
        for loop, listener in list(self.route_listeners):
            loop.call_soon_threadsafe(lambda listener=listener: listener(self.routing_state()))

    def add(
        self,
        name: str,
        tables: dict[str, RouteTable] | None,
        *,
        state: SyncState = SyncState.APPLIED,
        head: CommitInfo | None = None,
        message: str = "",
        findings: tuple[Finding, ...] = (),
    ) -> BranchStatus:
        stable = name == self.settings.stable_branch
        head = head or CommitInfo(sha=SHA_FEATURE, author="Ada", message="change routes", time="2026-11-26T12:00:00Z")
        applied = head.sha if state is SyncState.APPLIED else SHA_MAIN
        if tables is not None:
            self.tables[name] = tables
        envs = tuple(
            EnvironmentStatus(
                environment=env,
                state=state,
                applied_commit=applied,
                route_count=len(table),
                findings=findings if env == "production" else (),
            )
            for env, table in sorted((tables or {}).items())
        )
        urls = (
            ()
            if stable
            else tuple(
                PreviewURL(
                    environment=env,
                    host=(h := preview_host(name, host or None, self.settings.preview_domain)),
                    url=f"http://{h}:{PROXY_PORT}/",
                    stable_host=host,
                )
                for env, table in sorted((tables or {}).items())
                for host in table.hosts
            )
        )
        status = BranchStatus(
            name=name,
            slug=branch_slug(name),
            stable=stable,
            state=state,
            head=head,
            applied_commit=applied,
            message=message,
            environments=envs,
            preview_urls=urls,
            updated_at="2026-11-26T12:00:00Z",
        )
        self.statuses[name] = status
        self.records.append(
            SyncRecord(
                id=len(self.records) + 1,
                branch=name,
                commit=head.sha,
                environment="production",
                started_at="2026-11-26T12:00:00Z",
                duration_ms=12.5,
                result="applied" if state is SyncState.APPLIED else state.value,
                message=message,
                findings=findings,
                files_parsed=3,
            )
        )
        return status


def _on_loop() -> None:
    """Like the engine (whose store is an SQLite connection of the loop's thread), this view may
    only be read on the event loop: a handler run in a thread pool fails here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError("the view was read off the event loop (from a worker thread)") from None


def _merged(tables: Mapping[str, RouteTable]) -> RouteTable:
    return RouteTable([r for table in tables.values() for r in table.routes])


BAD_FINDING = Finding(
    rule="api/path-invalid",
    severity=Severity.ERROR,
    message="path must begin with '/'",
    file="environments/production/shop.yaml",
    line=12,
    column=19,
    hint="write /api",
)


def sample_view() -> FakeView:
    """main, an applied feature branch that re-targets /api, and a refused branch."""
    view = FakeView()
    view.add(
        "main",
        main_tables(),
        head=CommitInfo(sha=SHA_MAIN, author="Grace", message="stable", time="2026-11-25T10:00:00Z"),
    )
    view.add("feature/api-v2", feature_tables())
    view.add(
        "broken",
        main_tables(),
        state=SyncState.REFUSED,
        message="validation failed: 1 error",
        head=CommitInfo(sha=SHA_BAD, author="Linus", message="typo in path", time="2026-11-26T11:00:00Z"),
        findings=(BAD_FINDING,),
    )
    return view


def build_app(view: FakeView, options: WebOptions | None = None, **kwargs: object) -> FastAPI:
    """A bare FastAPI app with the dashboard installed: the code under test, nothing else."""
    app = FastAPI()
    install_dashboard(app, view, options or WebOptions(repo_url="https://github.com/acme/routes.git"), **kwargs)  # type: ignore[arg-type]
    return app


@contextmanager
def open_client(view: FakeView, options: WebOptions | None = None, **kwargs: object) -> Iterator[httpx.Client]:
    with serve(build_app(view, options, **kwargs)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client
