"""The in-cluster route source against the stand-in: watched Ingresses, Services, EndpointSlices
and Secrets become snapshots; previews applied by the real target route to stable endpoints."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from gitops_ingress.core.annotations import PREFIX
from gitops_ingress.core.backends import Endpoint
from gitops_ingress.core.naming import preview_host
from tests.kube.source_kit import Cluster, endpoints_for, running
from tests.kube.target_kit import environment, envs, make_target
from tests.proxy.fixtures_ops import CertificateAuthority
from tests.support.kubeapi import StandIn
from tests.support.manifests import ingress

DOMAIN = "preview.example.com"


def _shop(stand_in: StandIn) -> Cluster:
    cluster = Cluster(stand_in)
    cluster.namespace("shop")
    cluster.service("shop", "web")
    cluster.endpoints("shop", "web", ready=["10.0.0.1", "10.0.0.2"], not_ready=["10.0.0.3"])
    return cluster


def test_stable_and_preview_hosts_route_to_ready_endpoints(stand_in: StandIn) -> None:
    cluster = _shop(stand_in)
    target = make_target(stand_in)
    shop = ingress("shop", "shop.example.com", "web", port="http")
    preview = preview_host("feature/x", "shop.example.com", DOMAIN)

    async def scenario() -> None:
        await target.apply("main", True, envs(environment("production", "c1", shop)))
        await target.apply("feature/x", False, envs(environment("production", "c1", shop)))
        async with running(stand_in) as following:
            ready = (Endpoint("10.0.0.1", 8080), Endpoint("10.0.0.2", 8080))
            snap = await following.until(lambda s: endpoints_for(s, preview) == ready)
            assert endpoints_for(snap, "shop.example.com") == ready
            resolution = snap.state.resolve(preview, "/")
            assert resolution.upstream_host == "shop.example.com" and resolution.branch == "feature/x"
            # an endpoint becomes ready: the next snapshot has it, debounced into one rebuild
            await asyncio.to_thread(cluster.endpoints, "shop", "web", ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
            await following.until(lambda s: len(endpoints_for(s, "shop.example.com") or ()) == 3)

    asyncio.run(scenario())


def test_only_ingresses_of_our_class_count_and_external_names_resolve(stand_in: StandIn) -> None:
    cluster = _shop(stand_in)
    other = ingress("other", "other.example.com", "web", ingress_class="nginx")
    external = ingress("ext", "ext.example.com", "partner")

    async def scenario() -> None:
        await asyncio.to_thread(
            cluster.core.create_namespaced_service,
            "shop",
            {"metadata": {"name": "partner"}, "spec": {"type": "ExternalName", "externalName": "api.partner.example"}},
        )
        target = make_target(stand_in)
        await target.apply("main", True, envs(environment("production", "c1", other, external)))
        async with running(stand_in) as following:
            snap = await following.until(lambda s: endpoints_for(s, "ext.example.com") is not None)
            assert endpoints_for(snap, "ext.example.com") == (Endpoint("api.partner.example", 80),)
            assert endpoints_for(snap, "other.example.com") is None

    asyncio.run(scenario())


def test_watch_cut_and_410_relist_lose_no_update(stand_in: StandIn) -> None:
    cluster = _shop(stand_in)
    target = make_target(stand_in)
    one = ingress("one", "one.example.com", "web", port="http")
    two = ingress("two", "two.example.com", "web", port="http")

    async def scenario() -> None:
        await target.apply("main", True, envs(environment("production", "c1", one, two)))
        async with running(stand_in) as following:
            await following.until(lambda s: endpoints_for(s, "two.example.com") is not None)
            stand_in.faults(drop_watches=True)  # cut every watch mid-stream
            await target.apply("main", True, envs(environment("production", "c2", one)))
            await following.until(lambda s: endpoints_for(s, "two.example.com") is None)
            # cut again and keep the watches out while a change happens and the history is
            # compacted: they come back with a resourceVersion that is gone (410) and must relist
            stand_in.faults(drop_watches=True, fail_next=8, status=503, verb="watch")
            await asyncio.to_thread(cluster.net.delete_namespaced_ingress, "one", "shop")
            stand_in.compact()
            snap = await following.until(lambda s: endpoints_for(s, "one.example.com") is None)
            assert following.source.relists >= 1
            assert endpoints_for(snap, "two.example.com") is None

    asyncio.run(scenario())


def test_tls_secrets_are_written_for_the_certificate_store_and_status_published(
    stand_in: StandIn, tmp_path: Path
) -> None:
    cluster = _shop(stand_in)
    ca = CertificateAuthority(tmp_path / "ca")
    ca.issue(tmp_path / "c.pem", tmp_path / "k.pem", "shop.example.com")
    cluster.tls_secret("shop", "shop-tls", (tmp_path / "c.pem").read_bytes(), (tmp_path / "k.pem").read_bytes())
    target = make_target(stand_in)
    shop = ingress("shop", "shop.example.com", "web", tls_secret="shop-tls")
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()

    async def scenario() -> None:
        await target.apply("main", True, envs(environment("production", "c1", shop)))
        async with running(stand_in, tls_dir, status_address="203.0.113.7") as following:
            await following.until(lambda s: endpoints_for(s, "shop.example.com") is not None)
            written = tls_dir / "cluster" / "shop" / "shop-tls" / "tls.crt"
            assert written.read_bytes() == (tmp_path / "c.pem").read_bytes()
            # the status write comes back as a MODIFIED event, which makes one more snapshot
            await following.until(lambda s: following.source.status_writes >= 1)
        live = cluster.net.read_namespaced_ingress("shop", "shop")
        assert live.status.load_balancer.ingress[0].ip == "203.0.113.7"

    asyncio.run(scenario())


class _Seen(logging.Handler):
    """Sets ``event`` once a record containing ``text`` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def test_forbidden_watch_names_the_missing_permission_and_publishes_nothing(stand_in: StandIn) -> None:
    stand_in.auth(deny=[{"verb": "list", "resource": "secrets"}])
    seen = _Seen("403 Forbidden: missing permission to list and watch secrets cluster-wide")
    logger = logging.getLogger("gitops_ingress.proxy.sources.kubernetes")
    logger.addHandler(seen)

    async def scenario() -> None:
        async with running(stand_in) as following:
            assert await asyncio.to_thread(seen.event.wait, 10)
            assert following.snapshots == []  # a half-known cluster is never served

    try:
        asyncio.run(scenario())
    finally:
        logger.removeHandler(seen)


def test_basic_auth_reads_the_secret_through_the_api_and_follows_its_changes(stand_in: StandIn) -> None:
    """As ingress-nginx: the Secret named by auth-secret, key ``auth``; a service-account token
    Secret is not even cached; a user added to the Secret can log in after the next snapshot."""
    cluster = _shop(stand_in)
    cluster.secret("shop", "token", {"token": "x"}, kind="kubernetes.io/service-account-token")
    target = make_target(stand_in)
    annotations = {PREFIX + "auth-type": "basic", PREFIX + "auth-secret": "basic-auth"}
    shop = ingress("shop", "shop.example.com", "web", annotations=annotations)
    jane = "jane:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\n"  # password bar
    key = ("shop", "basic-auth", "auth-file")

    async def scenario() -> None:
        await target.apply("main", True, envs(environment("production", "c1", shop)))
        async with running(stand_in) as following:
            snap = await following.until(lambda s: endpoints_for(s, "shop.example.com") is not None)
            assert key not in snap.credentials  # no Secret yet: the route answers 503
            assert ("shop", "token") not in following.source.objects["secrets"]
            await asyncio.to_thread(cluster.secret, "shop", "basic-auth", {"auth": jane})
            snap = await following.until(lambda s: key in s.credentials)
            assert snap.credentials[key].check(b"jane", b"bar") and not snap.credentials[key].check(b"ali", b"bar")
            ali = "ali:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\n"
            await asyncio.to_thread(cluster.secret, "shop", "basic-auth", {"auth": jane + ali})
            await following.until(lambda s: key in s.credentials and s.credentials[key].check(b"ali", b"bar"))

    asyncio.run(scenario())
