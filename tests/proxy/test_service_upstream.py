"""``service-upstream`` after ingress-nginx's e2e serviceupstream.go: with it the Service's cluster
IP and port are the upstream (one address kube-proxy balances), without it the ready endpoints.
The Kubernetes route source knows the cluster IP (proxy/sources/cluster.py); the backend map's
URLs already are where a Service lives, so there they are used as they are."""

from __future__ import annotations

from gitops_ingress.core.annotations import PREFIX
from gitops_ingress.core.backends import Endpoint
from gitops_ingress.core.routing import ServiceRef
from gitops_ingress.core.settings import Settings
from gitops_ingress.proxy.snapshot import Snapshot
from gitops_ingress.proxy.sources.cluster import build
from tests.proxy.conftest import backends
from tests.proxy.test_annotations import get, state_of, upstream_saw
from tests.support.manifests import ingress

P = PREFIX
WEB = ServiceRef("shop", "web", "80")


def cluster_objects(*ingresses: dict, cluster_ip: str = "10.96.0.10") -> dict:
    service = {
        "metadata": {"namespace": "shop", "name": "web"},
        "spec": {"clusterIP": cluster_ip, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }
    endpoint_slice = {
        "metadata": {"namespace": "shop", "name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": [{"addresses": ["10.0.0.7"], "conditions": {"ready": True}}],
    }
    return {
        "ingresses": {("shop", obj["metadata"]["name"]): obj for obj in ingresses},
        "services": {("shop", "web"): service},
        "endpointslices": {("shop", "web-1"): endpoint_slice},
        "secrets": {},
    }


def test_the_kubernetes_source_gives_service_upstream_routes_the_cluster_ip() -> None:
    upstream = ingress("web", annotations={P + "service-upstream": "true"})
    snapshot, _, _ = build(cluster_objects(upstream), Settings(), 1)
    assert snapshot.addresses(WEB) == (Endpoint("10.96.0.10", 80),)
    assert snapshot.endpoints(WEB) == (Endpoint("10.0.0.7", 8080),)
    plain, _, _ = build(cluster_objects(ingress("web")), Settings(), 1)
    assert plain.addresses(WEB) == ()  # only Services that service-upstream routes reach
    headless, _, _ = build(cluster_objects(upstream, cluster_ip="None"), Settings(), 1)
    assert headless.addresses(WEB) == ()  # no cluster IP: its endpoints serve, as in ingress-nginx


def test_requests_reach_the_service_address_only_with_service_upstream(make_proxy, start_upstream) -> None:
    """Two echo upstreams on loopback stand for the pod and the cluster IP."""
    pod, service_address = start_upstream("echo"), start_upstream("echo")
    objects = (
        ingress("on", host="serviceupstream", annotations={P + "service-upstream": "true"}),
        ingress("off", host="endpoints", annotations={P + "service-upstream": "false"}),
    )
    state = state_of(*objects)
    backend_map = backends({"web": [pod.url]})
    proxy = make_proxy(state, backend_map)
    assert upstream_saw(get(proxy.port, "serviceupstream", "/"))["port"] == pod.port  # the map: its URL

    def addresses(ref: ServiceRef) -> tuple[Endpoint, ...]:
        return (Endpoint("127.0.0.1", service_address.port),) if ref == WEB else ()

    proxy.loop.call(proxy.holder.swap, Snapshot(state, backend_map.endpoints, "kubernetes", addresses))
    assert upstream_saw(get(proxy.port, "serviceupstream", "/"))["port"] == service_address.port
    assert upstream_saw(get(proxy.port, "endpoints", "/"))["port"] == pod.port
