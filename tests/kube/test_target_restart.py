"""The kubernetes target under the real engine across an API server restart: while the stand-in
is down (connections refused) the branch is in ERROR with a message naming the unreachable API
server, the engine keeps serving the last applied routes and backs off; once the server is back on
the same port with the same objects, the retry completes the apply."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from tests.kube.target_kit import Reader, make_target, shop_remote
from tests.support.kubeapi import StandIn
from tests.support.manifests import ingress, to_yaml
from tests.sync.conftest import running


def test_apply_backs_off_while_the_api_server_is_down_and_completes_after_restart(
    stand_in: StandIn, tmp_path: Path
) -> None:
    remote, work = shop_remote(tmp_path)
    backend = Reader(stand_in).backend

    async def scenario() -> None:
        target = make_target(stand_in, Settings(), request_timeout=2)
        async with running(tmp_path, remote, target=target) as harness:  # type: ignore[arg-type]
            engine, until = harness.engine, harness.wait_until
            first = engine.branch("main")
            assert first is not None and first.state is SyncState.APPLIED and backend() == "web"
            serving = harness.resolve("shop.example.com")
            stand_in.halt()
            work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v2"))})
            work.commit("v2")
            work.push("main")
            async with engine.subscribe() as events:  # the first attempt and a back-off retry both fail
                await engine.refresh("main")
                errors = 0
                async with asyncio.timeout(20):
                    async for event in events:
                        errors += event.type == "branch" and event.branch == "main" and bool(event.data.get("error"))
                        if errors >= 2:
                            break
            status = engine.branch("main")
            assert status is not None and status.applied_commit == first.applied_commit
            assert f"Kubernetes API {stand_in.url} unreachable" in status.message
            assert "last good routes keep serving" in status.message
            assert harness.resolve("shop.example.com") == serving
            stand_in.resume()
            await until(lambda: engine.branch("main").state is SyncState.APPLIED)  # type: ignore[union-attr]
            assert backend() == "web-v2"
            assert engine.branch("main").message == ""  # type: ignore[union-attr]

    asyncio.run(scenario())
