"""Backend protocols reaching the proxy: appProtocol in the cluster source, the annotation through
compile, both ending at an HTTP/2 upstream."""

from __future__ import annotations

import httpx

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.models import LocatedIngress, SourceMap
from gitops_ingress.core.routing import RoutingState, ServiceRef, compile_routes
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.validation.schema import INGRESS_SCHEMA
from gitops_ingress.proxy.sources.cluster import ClusterView
from tests.proxy.test_annotations import state_of
from tests.support.h2upstreams import H2TestUpstream
from tests.support.manifests import ingress


def test_cluster_endpoints_take_the_service_port_app_protocol() -> None:
    service = {
        "metadata": {"namespace": "shop", "name": "api"},
        "spec": {"ports": [{"name": "grpc", "port": 50051, "appProtocol": "kubernetes.io/h2c"}]},
    }
    endpoint_slice = {
        "metadata": {"namespace": "shop", "name": "api-1", "labels": {"kubernetes.io/service-name": "api"}},
        "ports": [{"name": "grpc", "port": 9000}],
        "endpoints": [{"addresses": ["10.0.0.7"], "conditions": {"ready": True}}],
    }
    objects = {
        "ingresses": {},
        "services": {("shop", "api"): service},
        "endpointslices": {("shop", "api-1"): endpoint_slice},
        "secrets": {},
    }
    (endpoint,) = ClusterView(objects, Settings()).endpoints(ServiceRef("shop", "api", "grpc"))
    assert (endpoint.host, endpoint.port, endpoint.scheme, endpoint.h2) == ("10.0.0.7", 9000, "h2c", True)


def test_backend_protocol_annotation_sends_an_http_endpoint_over_h2c(make_proxy, loop_thread) -> None:
    upstream = loop_thread.run(H2TestUpstream().start())
    try:
        ingress = INGRESS_SCHEMA.read(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {
                    "name": "api",
                    "namespace": "shop",
                    "annotations": {"nginx.ingress.kubernetes.io/backend-protocol": "GRPC"},
                },
                "spec": {
                    "rules": [
                        {
                            "host": "api.example.com",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "api", "port": {"number": 80}}},
                                    }
                                ]
                            },
                        }
                    ]
                },
            }
        )
        assert ingress is not None
        settings = Settings(serve_ingresses_without_class=True)
        table = compile_routes([LocatedIngress(ingress, "shop", SourceMap("api.yaml"))], settings)
        assert [route.protocol for route in table.routes] == ["grpc"]
        # the backend map says http://, the annotation wins (as in ingress-nginx)
        proxy = make_proxy(RoutingState(table), BackendMap({"shop/api:80": [f"http://127.0.0.1:{upstream.port}"]}))
        got = httpx.get(f"{proxy.url}/hello", headers={"Host": "api.example.com"}, timeout=10)
        assert got.status_code == 200 and got.json()["stream"] == 1  # an HTTP/2 stream: it spoke h2c
    finally:
        loop_thread.run(upstream.stop())


def test_a_canary_service_gets_the_main_route_backend_protocol(make_proxy, loop_thread) -> None:
    """ingress-nginx serves the canary from the main Ingress's location, so with its grpc_pass: the
    alternative Service's http:// endpoint is spoken to over h2c too (issue 15)."""
    main_upstream = loop_thread.run(H2TestUpstream().start())
    canary_upstream = loop_thread.run(H2TestUpstream().start())
    try:
        prefix = "nginx.ingress.kubernetes.io/"
        main = ingress("main", host="api.example.com", service="api", annotations={prefix + "backend-protocol": "GRPC"})
        canary = ingress(
            "canary",
            host="api.example.com",
            service="canary",
            annotations={prefix + "canary": "true", prefix + "canary-by-header": "X-Canary"},
        )
        urls = {
            "shop/api:80": [f"http://127.0.0.1:{main_upstream.port}"],
            "shop/canary:80": [f"http://127.0.0.1:{canary_upstream.port}"],
        }
        proxy = make_proxy(state_of(main, canary), BackendMap(urls))
        got = httpx.get(f"{proxy.url}/hello", headers={"Host": "api.example.com", "X-Canary": "always"}, timeout=10)
        assert got.status_code == 200 and got.json()["stream"] == 1
        assert (canary_upstream.streams, main_upstream.streams) == (1, 0)
    finally:
        loop_thread.run(main_upstream.stop())
        loop_thread.run(canary_upstream.stop())
