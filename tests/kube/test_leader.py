"""Leader election on a coordination.k8s.io/v1 Lease against the stand-in, and the HA promise:
only the leader writes, and a leader lost mid-apply is completed by the next one, idempotently."""

from __future__ import annotations

import asyncio
import threading
import time

import kubernetes
import pytest

from gitops_ingress.kube import KubeOptions, KubernetesTarget, LeaderElector, NotLeader
from tests.kube.target_kit import (
    SETTINGS,
    Reader,
    client_for,
    environment,
    envs,
    run,
)
from tests.support.kubeapi import StandIn
from tests.support.manifests import ingress

WAIT = 10.0


def elector(stand_in: StandIn, identity: str, duration: float = 15.0) -> LeaderElector:
    options = KubeOptions(identity=identity, lease_namespace="default", lease_duration=duration, renew_interval=0.05)
    return LeaderElector(client_for(stand_in), options)


def holder(stand_in: StandIn) -> str | None:
    lease = kubernetes.client.CoordinationV1Api(client_for(stand_in)).read_namespaced_lease(
        "gitops-ingress-control-plane", "default"
    )
    return lease.spec.holder_identity


def poll(condition: object, what: str) -> None:
    """Poll a condition that only time can make true (lease expiry), with a deadline."""
    pause = threading.Event()
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pause.wait(0.05)


async def resynced(target: KubernetesTarget) -> None:
    """Start the resync the elector starts on gaining the lease, and wait until it is done."""
    await target.resync()
    assert target.resyncing is not None
    await asyncio.wait_for(target.resyncing, WAIT)


def test_one_leader_and_release_hands_over_at_once(stand_in: StandIn) -> None:
    a, b = elector(stand_in, "a"), elector(stand_in, "b")
    assert a.try_acquire_or_renew() and a.is_leader()
    assert not b.try_acquire_or_renew() and not b.is_leader()
    assert a.try_acquire_or_renew()  # renew
    a.release()
    assert not a.is_leader() and holder(stand_in) is None
    assert b.try_acquire_or_renew() and holder(stand_in) == "b"


def test_take_over_after_expiry_judged_on_the_local_clock(stand_in: StandIn) -> None:
    a, b = elector(stand_in, "a", duration=1.0), elector(stand_in, "b", duration=1.0)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # first sight of the record starts b's clock
    poll(lambda: not a.is_leader(), "a's renew deadline")  # a stops writing before b may take over
    assert holder(stand_in) == "a"
    poll(b.try_acquire_or_renew, "b taking over the expired lease")
    assert holder(stand_in) == "b"
    lease = kubernetes.client.CoordinationV1Api(client_for(stand_in)).read_namespaced_lease(
        "gitops-ingress-control-plane", "default"
    )
    assert lease.spec.lease_transitions == 1


def test_run_acquires_calls_back_and_releases_on_shutdown(stand_in: StandIn) -> None:
    started: list[str] = []
    a = elector(stand_in, "a")

    async def on_started() -> None:
        started.append("a")

    async def scenario() -> None:
        changed = a.changed
        task = asyncio.create_task(a.run(on_started=on_started))
        await asyncio.wait_for(changed.wait(), WAIT)
        assert a.is_leader() and started == ["a"]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert holder(stand_in) is None


def test_follower_writes_nothing(stand_in: StandIn) -> None:
    a, b = elector(stand_in, "a"), elector(stand_in, "b")
    assert a.try_acquire_or_renew()
    follower = KubernetesTarget(client_for(stand_in), SETTINGS, is_leader=b.is_leader)
    stand_in.reset_counts()
    with pytest.raises(NotLeader, match="not the leader: an apply was not written"):
        run(follower.apply("main", True, envs(environment("production", "c1", ingress("s", "s.example.com", "web")))))
    with pytest.raises(NotLeader, match="drift repair was skipped"):  # checked nothing, so heals nothing
        run(follower.reconcile_all())
    assert stand_in.request_counts()["writes"] == 0


def test_leader_lost_mid_apply_is_completed_by_the_next_leader(stand_in: StandIn) -> None:
    docs = [ingress(f"app{i}", f"app{i}.example.com", "web") for i in range(10)]
    desired = envs(environment("production", "c1", *docs))
    a, b = elector(stand_in, "a", duration=1.0), elector(stand_in, "b", duration=1.0)
    assert a.try_acquire_or_renew()
    writes = {"n": 0}

    def a_leads() -> bool:
        # a's lease lapses after its fourth write: the renewal it needed did not happen in time
        writes["n"] += 1
        return writes["n"] <= 4 and a.is_leader()

    first = KubernetesTarget(client_for(stand_in), SETTINGS, is_leader=a_leads)
    second = KubernetesTarget(client_for(stand_in), SETTINGS, is_leader=b.is_leader)
    with pytest.raises(NotLeader):
        run(second.apply("main", True, desired))  # a follower: remembers, writes nothing, says so
    with pytest.raises(NotLeader, match="lost the leader lease"):
        run(first.apply("main", True, desired))
    partial = len(Reader(stand_in).ingresses())
    assert 0 < partial < 10
    poll(b.try_acquire_or_renew, "b taking over")
    run(resynced(second))
    assert len(Reader(stand_in).ingresses()) == 10
    stand_in.reset_counts()
    run(resynced(second))
    assert stand_in.request_counts()["writes"] == 0
