"""``GET /api/v1/proxy/stream`` over real HTTP, read by hand and by the proxy's own client.

The server runs on the test's event loop (uvicorn on a loopback socket), so the test can change
the routing state with the engine's real RouteBook and EventBus and watch the lines arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.routing import Route, RouteTable, RoutingState, ServiceRef
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.stream import STREAM_PATH
from gitops_ingress.proxy.snapshot import Snapshot
from gitops_ingress.proxy.sources.controller import ControllerSource
from gitops_ingress.sync.events import EventBus, Subscription
from gitops_ingress.sync.routebook import RouteBook
from gitops_ingress.web.app import create_app

pytestmark = pytest.mark.anyio
WAIT = 10.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class BookView:
    """The view's streaming half, from the engine's real route book and bus."""

    settings = Settings()
    remote_error: str | None = None

    def __init__(self) -> None:
        self.book = RouteBook("main", "preview.localhost")
        self.bus = EventBus()
        self.listeners = 0
        self.unsubscribed = asyncio.Event()

    def branches(self) -> list[object]:
        return []

    def routing_state(self) -> RoutingState:
        return self.book.state

    def subscribe(self) -> Subscription:
        return self.bus.subscribe()

    def subscribe_routes(self, listener: Callable[[RoutingState], None]) -> Callable[[], None]:
        unsubscribe = self.book.subscribe(listener)
        self.listeners += 1

        def counted() -> None:
            unsubscribe()
            self.listeners -= 1
            self.unsubscribed.set()

        return counted

    async def apply(self, branch: str, service: str) -> None:
        table = RouteTable(
            [
                Route(
                    "shop.example.com",
                    "/",
                    "Prefix",
                    ServiceRef("shop", service, "80"),
                    "shop/web",
                    "a.yaml",
                    1,
                    "production",
                )
            ]
        )
        self.book.set(branch, {"production": table})

    async def book_remove(self, branch: str) -> None:
        self.book.set(branch, {})


class NoReceiver:
    def known_delivery(self, delivery_id: str) -> bool:
        return False

    async def seen_delivery(self, delivery_id: str) -> bool:
        return False

    async def record_delivery(self, forge: str, result: str, delivery_id: str | None = None) -> None:
        return None

    async def push(self, branch: str | None, deleted: bool, received: float | None = None) -> None:
        return None


@asynccontextmanager
async def served(view: BookView, ping_interval: float = 15.0) -> AsyncIterator[str]:
    backends = BackendMap.from_options(["web:80=http://127.0.0.1:9001", "shop/web-2:80=http://127.0.0.1:9002"])
    app = create_app(view, NoReceiver(), backends=backends, ping_interval=ping_interval)  # type: ignore[arg-type]
    async with serving(app) as url:
        yield url


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """uvicorn on a loopback port, on the running loop (so the test shares it with the app)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign] # the test loop keeps its signals
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, WAIT)
        sock.close()


@asynccontextmanager
async def stream_of(view: BookView) -> AsyncIterator[tuple[httpx.Response, AsyncIterator[str]]]:
    """The stream of a served ``view`` (main applied first): the response and its lines."""
    await view.apply("main", "web")
    async with (
        served(view) as url,
        httpx.AsyncClient(timeout=WAIT) as client,
        client.stream("GET", url + STREAM_PATH) as response,
    ):
        yield response, response.aiter_lines()


async def test_stream_sends_the_state_then_each_change() -> None:
    view = BookView()
    async with stream_of(view) as (response, lines):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        first = json.loads(await asyncio.wait_for(anext(lines), WAIT))
        assert first["type"] == "state" and first["state"]["version"] == 1
        assert first["backends"] == {"web:80": ["http://127.0.0.1:9001"], "shop/web-2:80": ["http://127.0.0.1:9002"]}
        state = RoutingState.from_dict(first["state"])
        assert str(state.resolve("shop.example.com", "/").match.backend) == "shop/web:80"
        await view.apply("feature/x", "web-2")
        second = json.loads(await asyncio.wait_for(anext(lines), WAIT))
        # only the branch that changed travels: a delta from the revision sent before
        assert second["type"] == "delta" and (second["base"], second["revision"]) == (1, 2)
        assert "stable" not in second and list(second["previews"]) == ["feature/x"]
        await view.apply("feature/x", "web")
        await view.book_remove("feature/x")
        third = json.loads(await asyncio.wait_for(anext(lines), WAIT))
        assert third["type"] == "delta" and third["base"] == 2
        if third["revision"] == 3:  # the stream may coalesce the two changes into one line
            third = json.loads(await asyncio.wait_for(anext(lines), WAIT))
            assert third["base"] == 3
        assert third["revision"] == 4 and third["previews"] == {"feature/x": None}


async def test_quiet_stream_pings_and_a_gone_client_unsubscribes() -> None:
    view = BookView()
    async with served(view, ping_interval=0.2) as url, httpx.AsyncClient(timeout=WAIT) as client:
        async with client.stream("GET", url + STREAM_PATH) as response:
            lines = response.aiter_lines()
            assert json.loads(await asyncio.wait_for(anext(lines), WAIT))["type"] == "state"
            assert json.loads(await asyncio.wait_for(anext(lines), WAIT)) == {"type": "ping"}
            assert view.listeners == 1
        await asyncio.wait_for(view.unsubscribed.wait(), WAIT)
        assert view.listeners == 0


async def test_the_proxy_controller_client_follows_the_stream() -> None:
    view = BookView()
    await view.apply("main", "web")
    snapshots: list[Snapshot] = []
    arrived = asyncio.Event()

    def publish(snapshot: Snapshot) -> None:
        snapshots.append(snapshot)
        arrived.set()

    async with served(view) as url:
        follower = asyncio.create_task(ControllerSource(url, backoff_min=0.05).run(publish))
        try:
            await asyncio.wait_for(arrived.wait(), WAIT)
            arrived.clear()
            await view.apply("feature/x", "web-2")
            await asyncio.wait_for(arrived.wait(), WAIT)
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
    latest = snapshots[-1]
    resolution = latest.state.resolve(preview_host("feature/x", "shop.example.com", "preview.localhost"), "/")
    ref = resolution.match.backend
    assert isinstance(ref, ServiceRef) and ref.name == "web-2"
    assert [str(e) for e in latest.endpoints(ref)] == ["http://127.0.0.1:9002"]


async def test_a_stream_behind_by_most_branches_gets_the_whole_state_then_deltas_again() -> None:
    view = BookView()
    async with stream_of(view) as (_response, lines):
        assert json.loads(await asyncio.wait_for(anext(lines), WAIT))["type"] == "state"
        for n in range(20):  # one burst, no await between: the stream sees it as one change
            await view.apply(f"feature/{n}", "web-2")
        whole = json.loads(await asyncio.wait_for(anext(lines), WAIT))
        assert whole["type"] == "state" and whole["revision"] == view.book.state.version
        assert len(whole["state"]["previews"]) == 20
        await view.apply("feature/3", "web")
        delta = json.loads(await asyncio.wait_for(anext(lines), WAIT))
        assert delta["type"] == "delta" and delta["base"] == whole["revision"]
        assert list(delta["previews"]) == ["feature/3"]
