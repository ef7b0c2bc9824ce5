"""The in-cluster route source across API server restarts: the stand-in goes down (listening
socket closed, every watch cut, connections refused) and comes back on the same port over the same
objects. With the history kept, the watches resume where they were; with the history lost
(compacted, old resourceVersions answer 410), every kind relists and a change made while the
source was cut off is not lost. Status writes refused meanwhile are retried, not forgotten."""

from __future__ import annotations

import asyncio
from typing import Any

from gitops_ingress.core.backends import Endpoint
from tests.kube.source_kit import Cluster, endpoints_for, outage_log, running
from tests.kube.target_kit import environment, envs, make_target
from tests.support.kubeapi import StandIn
from tests.support.kubeapi.registry import Write
from tests.support.kubeapi.resources import lookup
from tests.support.manifests import ingress

ONE = ingress("one", "one.example.com", "web", port="http")
TWO = ingress("two", "two.example.com", "web", port="http")
ADDRESS = "203.0.113.9"


def _shop(stand_in: StandIn) -> Cluster:
    cluster = Cluster(stand_in)
    cluster.namespace("shop")
    cluster.service("shop", "web")
    cluster.endpoints("shop", "web", ready=["10.0.0.1"])
    return cluster


def _status(cluster: Cluster, name: str) -> list[Any]:
    live: Any = cluster.net.read_namespaced_ingress(name, "shop")
    return [entry.ip for entry in live.status.load_balancer.ingress or []]


def test_restart_keeping_history_resumes_the_watches(stand_in: StandIn) -> None:
    cluster = _shop(stand_in)
    target = make_target(stand_in)

    async def scenario() -> None:
        await target.apply("main", True, envs(environment("production", "c1", ONE)))
        async with outage_log() as outage, running(stand_in, status_address=ADDRESS) as following:
            await following.until(lambda s: endpoints_for(s, "one.example.com") == (Endpoint("10.0.0.1", 8080),))
            await following.until(lambda s: following.source.status_writes >= 1)
            published = len(following.snapshots)
            stand_in.halt()
            assert await outage.seen(), f"only {dict(outage.failures)} noticed the API server going down"
            assert len(following.snapshots) == published  # the last snapshot keeps serving
            # back on the same port, warming up: the first status writes are refused
            stand_in.faults(fail_next=5, status=503, verb="patch", resource="ingresses")
            stand_in.resume()
            await target.apply("main", True, envs(environment("production", "c2", ONE, TWO)))
            await asyncio.to_thread(cluster.endpoints, "shop", "web", ["10.0.0.1", "10.0.0.2"])
            both = (Endpoint("10.0.0.1", 8080), Endpoint("10.0.0.2", 8080))
            await following.until(lambda s: endpoints_for(s, "two.example.com") == both)
            assert following.source.relists == 0  # resumed from the kept resourceVersions
            await following.until(lambda s: following.source.status_writes >= 2)
        assert _status(cluster, "two") == [ADDRESS]

    asyncio.run(scenario())


def test_restart_losing_history_relists_and_loses_nothing(stand_in: StandIn) -> None:
    cluster = _shop(stand_in)
    target = make_target(stand_in)
    ingresses, slices = (
        lookup("networking.k8s.io", "v1", "ingresses"),
        lookup("discovery.k8s.io", "v1", "endpointslices"),
    )
    assert ingresses is not None and slices is not None

    async def scenario() -> None:
        await target.apply("main", True, envs(environment("production", "c1", ONE, TWO)))
        async with outage_log() as outage, running(stand_in) as following:
            await following.until(lambda s: endpoints_for(s, "two.example.com") is not None)
            stand_in.halt()
            assert await outage.seen()
            # written while this API server is down (another replica, the same etcd): no watch saw it
            stand_in.registry.delete(Write(ingresses, "shop", "test"), "one", {})
            stand_in.registry.create(
                Write(slices, "shop", "test"),
                {
                    "metadata": {"name": "web-def", "labels": {"kubernetes.io/service-name": "web"}},
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": ["10.0.0.7"], "conditions": {"ready": True}}],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                },
            )
            stand_in.restart(compact=True)
            snap = await following.until(
                lambda s: (
                    endpoints_for(s, "one.example.com") is None
                    and Endpoint("10.0.0.7", 8080) in (endpoints_for(s, "two.example.com") or ())
                )
            )
            # ingresses and endpointslices got 410 and relisted (the other kinds may still be
            # backing off): only a relist can have brought changes the compacted history lost
            assert following.source.relists >= 2
            assert set(endpoints_for(snap, "two.example.com") or ()) == {
                Endpoint("10.0.0.1", 8080),
                Endpoint("10.0.0.7", 8080),
            }
        assert "shop/one" not in cluster.ingresses()

    asyncio.run(scenario())
