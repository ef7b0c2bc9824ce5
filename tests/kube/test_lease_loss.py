"""Issue 12, point 2: a replica that is not leading never reports a commit as applied, and the
resync on gaining the lease retries until it succeeds. Real leader election on the stand-in's
Lease; the faults (a slow API server, failing applies) are injected into the stand-in."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from gitops_ingress.kube import KubeOptions, KubernetesTarget, LeaderElector, NotLeader
from tests.kube.target_kit import Reader, client_for, environment, envs, push_shop_backend, shop_remote
from tests.support.kubeapi import StandIn
from tests.support.manifests import ingress
from tests.sync.conftest import WAIT, running

SETTINGS = Settings.build(None, {}, {})


def lone_replica(stand_in: StandIn, **options: float) -> tuple[LeaderElector, KubernetesTarget]:
    kube = KubeOptions(identity="a", lease_namespace="default", renew_interval=0.05, **options)  # type: ignore[arg-type]
    elector = LeaderElector(client_for(stand_in), kube)
    return elector, KubernetesTarget(client_for(stand_in), SETTINGS, kube, is_leader=elector.is_leader)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_a_lost_lease_is_never_shown_applied(stand_in: StandIn, tmp_path: Path) -> None:
    """The lone replica's renewals take longer than its renew deadline on a slow API server: it
    stops leading, and a commit pushed meanwhile is not written, so it must not show as applied."""
    remote, work = shop_remote(tmp_path)
    elector, target = lone_replica(stand_in, lease_duration=1.0)
    read = Reader(stand_in)

    async def scenario() -> None:
        gained = elector.changed
        lead = asyncio.create_task(elector.run(on_started=target.resync))
        await asyncio.wait_for(gained.wait(), WAIT)
        try:
            async with running(tmp_path, remote, SETTINGS, target=target) as harness:  # type: ignore[arg-type]
                engine, until = harness.engine, harness.wait_until
                assert read.backend() == "web"
                lost = elector.changed
                stand_in.faults(delay_seconds=1.0)  # every request outlasts the 0.67 s renew deadline
                await asyncio.wait_for(lost.wait(), WAIT)
                assert not elector.is_leader()
                push_shop_backend(work, "v2")
                await engine.refresh("main")
                await until(lambda: engine.branch("main").state is SyncState.STANDBY)  # type: ignore[union-attr]
                status = engine.branch("main")
                assert status is not None and status.message.startswith("standby: the leading replica applies it")
                assert read.backend() == "web"  # nothing was written, and the status says so
                stand_in.faults(reset=True)  # the API server is fast again: the lease comes back
                await until(lambda: engine.branch("main").state is SyncState.APPLIED)  # type: ignore[union-attr]
                assert read.backend() == "v2"
        finally:
            await stop(lead)

    asyncio.run(scenario())


def test_a_failed_resync_is_retried_with_back_off_until_it_succeeds(stand_in: StandIn) -> None:
    elector, target = lone_replica(stand_in, lease_duration=15.0, retry_initial=0.05, retry_max=0.2)
    desired = envs(environment("production", "c1", ingress("shop", "shop.example.com", "web")))

    async def scenario() -> None:
        with pytest.raises(NotLeader):
            await target.apply("main", True, desired)  # remembered for when this replica leads
        stand_in.faults(fail_next=3, status=500, verb="apply")  # the first three writes fail
        stand_in.reset_counts()
        gained = elector.changed
        lead = asyncio.create_task(elector.run(on_started=target.resync))
        try:
            await asyncio.wait_for(gained.wait(), WAIT)
            assert target.resyncing is not None
            await asyncio.wait_for(target.resyncing, WAIT)
        finally:
            await stop(lead)

    asyncio.run(scenario())
    assert Reader(stand_in).backend() == "web"
    assert stand_in.request_counts()["by_verb"]["apply"] >= 4  # three refused, then the writes
