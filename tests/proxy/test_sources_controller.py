"""The control-plane source against a stand-in control plane over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json

import pytest

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.core.routing import Route, RouteTable, RoutingState, ServiceRef
from gitops_ingress.core.stream import changed, delta_line
from gitops_ingress.proxy.snapshot import Snapshot, SnapshotHolder
from gitops_ingress.proxy.sources.controller import ControllerSource

from .fixtures_ops import WAIT, FakeControlPlane

pytestmark = pytest.mark.timeout(60)


def state_message(version: int, host: str = "shop.example.com") -> dict[str, object]:
    table = RouteTable([Route(host, "/", "Prefix", ServiceRef("shop", "storefront", "http"), "shop/web")])
    preview = RouteTable([Route(host, "/", "Prefix", ServiceRef("shop", "storefront-v2", "http"), "shop/web")])
    state = RoutingState(table, {"feature/login": preview}, "preview.localhost", version)
    return {
        "type": "state",
        "state": state.to_dict(),
        "backends": {"shop/storefront:http": ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]},
    }


def follow(scenario, statuses: list[int] | None = None, **options) -> None:  # type: ignore[no-untyped-def]
    """Run ``scenario(plane, source, holder, next_snapshot)`` against a stand-in control plane."""

    async def main() -> None:
        holder = SnapshotHolder()
        published: asyncio.Queue[Snapshot] = asyncio.Queue()

        def publish(snapshot: Snapshot) -> None:
            holder.swap(snapshot)
            published.put_nowait(snapshot)

        async with FakeControlPlane(statuses) as plane:
            source = ControllerSource(plane.url, backoff_min=0.01, backoff_max=0.05, **options)
            task = asyncio.create_task(source.run(publish))
            try:
                await scenario(plane, source, holder, lambda: asyncio.wait_for(published.get(), WAIT))
            finally:
                task.cancel()

    asyncio.run(main())


def test_states_are_published_and_pings_ignored() -> None:
    async def scenario(plane, source, holder, next_snapshot):  # type: ignore[no-untyped-def]
        plane.send({"type": "ping"})
        plane.send(state_message(4))
        snapshot = await next_snapshot()
        assert holder.ready and snapshot.source == "controller"
        assert snapshot.state.version == 4
        stable = snapshot.state.resolve("shop.example.com", "/x").match.backend
        assert stable == ServiceRef("shop", "storefront", "http")
        endpoints = snapshot.endpoints(stable)
        assert [str(e) for e in endpoints] == ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
        (preview_host,) = snapshot.state.preview_hosts("feature/login")
        preview = snapshot.state.resolve(preview_host, "/")
        assert preview.branch == "feature/login"
        assert preview.match.backend == ServiceRef("shop", "storefront-v2", "http")
        assert plane.paths == ["/api/v1/proxy/stream"]

    follow(scenario)


def test_a_lost_connection_keeps_the_last_state_and_reconnects() -> None:
    async def scenario(plane, source, holder, next_snapshot):  # type: ignore[no-untyped-def]
        plane.send(state_message(1))
        await next_snapshot()
        plane.connected.clear()
        plane.send(None)  # the control plane drops the stream
        await asyncio.wait_for(plane.connected.wait(), WAIT)
        assert plane.connections == 2
        assert holder.current.state.version == 1  # still serving the last state
        plane.send(state_message(2, "pay.example.com"))
        snapshot = await next_snapshot()
        assert snapshot.state.resolve("pay.example.com", "/").match.backend is not None

    follow(scenario)


def delta_message(base: int, revision: int, branch: str, host: str) -> dict[str, object]:
    preview = RouteTable([Route(host, "/", "Prefix", ServiceRef("shop", "checkout", "http"), "shop/web")])
    old = RoutingState(previews={}, version=base)
    new = old.with_changes(None, {branch: preview}, revision)
    return json.loads(delta_line(old, new, changed(old, new)))  # type: ignore[no-any-return]


def test_deltas_apply_to_the_held_state_and_a_gap_resyncs_from_a_new_connection() -> None:
    async def scenario(plane, source, holder, next_snapshot):  # type: ignore[no-untyped-def]
        plane.send(state_message(4))
        await next_snapshot()
        plane.send(delta_message(4, 5, "feature/pay", "pay.example.com"))
        snapshot = await next_snapshot()
        assert snapshot.state.version == 5 and set(snapshot.state.previews) == {"feature/login", "feature/pay"}
        (host,) = snapshot.state.preview_hosts("feature/pay")
        assert snapshot.state.resolve(host, "/").match.backend == ServiceRef("shop", "checkout", "http")
        assert snapshot.endpoints(ServiceRef("shop", "storefront", "http"))  # the backends of the state stay
        plane.connected.clear()
        plane.send(delta_message(7, 8, "feature/late", "late.example.com"))  # revisions 6 and 7 were lost
        await asyncio.wait_for(plane.connected.wait(), WAIT)
        assert plane.connections == 2 and "holds revision 5" in source.last_error
        assert holder.current.state.version == 5  # nothing half-applied while out of step
        plane.send(None)  # ends the stand-in's handler of the dropped connection (the first waiting)
        plane.send(state_message(8, "late.example.com"))  # a new connection starts with a whole state
        assert (await next_snapshot()).state.version == 8

    follow(scenario)


def test_an_error_status_is_retried() -> None:
    async def scenario(plane, source, holder, next_snapshot):  # type: ignore[no-untyped-def]
        await asyncio.wait_for(plane.connected.wait(), WAIT)
        assert plane.connections == 3
        assert not holder.ready
        plane.send(state_message(9))
        assert (await next_snapshot()).state.version == 9

    follow(scenario, statuses=[503, 500])


def test_malformed_lines_are_skipped_and_the_stream_goes_on() -> None:
    async def scenario(plane, source, holder, next_snapshot):  # type: ignore[no-untyped-def]
        plane.send(b"{not json")
        plane.send({"type": "state", "state": {"stable": {"routes": [{"pathType": "Prefix"}]}}})
        plane.send({"type": "state", "state": {"stable": {"routes": [{"pathType": "Prefix", "backend": {}}]}}})
        plane.send(b"[1, 2]")
        plane.send({"type": "something-new"})
        plane.send(state_message(3))
        assert (await next_snapshot()).state.version == 3
        assert plane.connections == 1
        assert "malformed state" in source.last_error or "JSON" in source.last_error

    follow(scenario)


def test_a_silent_stream_is_replaced() -> None:
    async def scenario(plane, source, holder, next_snapshot):  # type: ignore[no-untyped-def]
        plane.send(state_message(1))
        await next_snapshot()
        plane.connected.clear()
        # no pings: after the silence timeout the client gives up and reconnects
        await asyncio.wait_for(plane.connected.wait(), WAIT)
        assert plane.connections == 2
        assert "TimeoutError" in source.last_error

    follow(scenario, silence_timeout=0.2)


def test_bad_urls_are_rejected() -> None:
    with pytest.raises(ConfigError, match="--controller"):
        ControllerSource("ftp://example")
    with pytest.raises(ConfigError):
        ControllerSource("not a url")


def test_wire_strings_are_shared_between_routes() -> None:
    """Memory of big tables: names repeated over routes are one object each after from_dict."""
    import json

    table = RouteTable(
        [
            Route(
                f"h{i}.example.com",
                "/api",
                "Prefix",
                ServiceRef("shop", "storefront", "http"),
                "shop/web",
                "a.yaml",
                3,
                "production",
            )
            for i in range(3)
        ]
    )
    wire = json.loads(json.dumps(RoutingState(table).to_dict()))
    routes = RoutingState.from_dict(wire).stable.routes
    for field in ("path", "path_type", "ingress", "file", "environment"):
        assert getattr(routes[0], field) is getattr(routes[2], field), field
    assert routes[0].backend.name is routes[1].backend.name  # type: ignore[union-attr]


def test_lines_split_across_chunks_and_several_per_chunk() -> None:
    from gitops_ingress.proxy.sources.controller import _Stream

    stream = _Stream(max_line=1000)
    stream.on_body(b'{"a":')
    stream.on_body(b"1}\n")
    stream.on_body(b'{"b":2}\n{"c":3}\n{"d"')
    stream.on_body(b":4}\n")
    assert [bytes(line) for line in stream.lines] == [b'{"a":1}', b'{"b":2}', b'{"c":3}', b'{"d":4}']
    from gitops_ingress.core.errors import SourceError

    with pytest.raises(SourceError, match="longer than 1000 bytes"):
        stream.on_body(b"x" * 1001)
