"""The app factory with the real engine behind it: a signed webhook leads to a fetch and a sync
of a real repository, deliveries are counted by result, de-duplicated across restarts, and
``/api/branches``, ``/healthz`` and ``/metrics`` answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from gitops_ingress.core.status import SyncState
from gitops_ingress.web.app import create_app
from gitops_ingress.web.webhooks import ENDPOINTS
from tests.support.manifests import ingress, to_yaml
from tests.sync.conftest import WAIT, running, seed
from tests.web.test_stream import serving

pytestmark = pytest.mark.anyio
SECRET = "engine-secret"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def generic(branch: str, delivery: str) -> dict[str, object]:
    return {
        "content": json.dumps({"ref": f"refs/heads/{branch}"}),
        "headers": {"Authorization": f"Bearer {SECRET}", "X-Request-Id": delivery},
    }


async def test_webhook_to_applied_and_the_operational_endpoints(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    async with running(tmp_path, remote) as h:
        app = create_app(
            h.engine, h.engine, webhook_secrets=dict.fromkeys(ENDPOINTS, SECRET), metrics=h.engine.metrics.registry
        )
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            work.branch("feature/hook")
            work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-hook"))})
            work.commit("hook")
            work.push("feature/hook")
            answer = await client.post("/webhooks/generic", **generic("feature/hook", "delivery-1"))  # type: ignore[arg-type]
            assert answer.status_code == 202
            await h.wait_until(
                lambda: (b := h.engine.branch("feature/hook")) is not None and b.state is SyncState.APPLIED
            )
            replay = await client.post("/webhooks/generic", **generic("feature/hook", "delivery-1"))  # type: ignore[arg-type]
            assert replay.json()["status"] == "ignored"
            unsigned = await client.post("/webhooks/generic", content=b"{}")
            assert unsigned.status_code == 401
            branches = (await client.get("/api/branches")).json()
            assert [b["name"] for b in branches] == ["main", "feature/hook"]
            assert branches[1]["preview_urls"] and branches[1]["state"] == "applied"
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            metrics = (await client.get("/metrics")).text
            for result in ("accepted", "replayed", "unauthorized"):
                assert f'gitops_ingress_webhook_deliveries_total{{forge="generic",result="{result}"}} 1.0' in metrics
            assert 'gitops_ingress_last_successful_sync_timestamp_seconds{branch="feature/hook"}' in metrics
            assert "gitops_ingress_sync_duration_seconds_count" in metrics
            assert "gitops_ingress_sync_queue_depth 0.0" in metrics
    async with running(tmp_path, remote) as h:  # the delivery log survives a restart
        assert await h.engine.seen_delivery("delivery-1") is True
        assert await h.engine.seen_delivery("delivery-2") is False


async def test_webhooks_in_a_burst_cost_one_fetch_and_one_sync(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    async with running(tmp_path, remote) as h:
        work.branch("feature/burst")
        work.push("feature/burst")
        syncs: list[str] = []
        async with h.engine.subscribe() as events:
            await asyncio.gather(*(h.engine.push("feature/burst", False) for _ in range(20)))
            async with asyncio.timeout(WAIT):
                async for event in events:
                    if event.type == "sync":
                        syncs.append(event.branch)
                        break
            await h.engine.settle(WAIT)
        assert syncs == ["feature/burst"]
        history = h.engine.history("feature/burst")  # one sync: one row per environment
        assert sorted((r.environment, r.result) for r in history) == [("production", "applied"), ("staging", "applied")]
