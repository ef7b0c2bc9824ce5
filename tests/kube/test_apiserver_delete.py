"""DELETE answers as the real API server's: the deleted object for the kinds whose registry
returns it (Service, ServiceAccount), a Success Status naming the resource and uid for the others
(Ingress, Secret, EndpointSlice, Lease, ...), the Namespace in phase Terminating, and for an
object with finalizers the object itself with a deletionTimestamp, kept until the last finalizer
goes (202 instead of 200 only with the deprecated ``orphanDependents: false``). Checked with the
official client's typed delete methods, which parse these bodies into their declared models, and
with the real kubectl."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from tests.kube.conftest import KubectlRunner
from tests.support.kubeapi import StandIn
from tests.support.manifests import drop, ingress

Api = kubernetes.client.ApiClient


def _apis(api_client: Api) -> tuple[Any, Any, Any, Any]:
    return (
        kubernetes.client.CoreV1Api(api_client),
        kubernetes.client.NetworkingV1Api(api_client),
        kubernetes.client.DiscoveryV1Api(api_client),
        kubernetes.client.CoordinationV1Api(api_client),
    )


INGRESS = drop(ingress("shop"), "metadata.namespace")  # created in more than one namespace


def test_service_and_service_account_deletes_return_the_deleted_object(api_client: Api) -> None:
    core = _apis(api_client)[0]
    created: Any = core.create_namespaced_service(
        "default", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    )
    gone: Any = core.delete_namespaced_service("web", "default")
    assert isinstance(gone, kubernetes.client.V1Service) and gone.metadata and gone.spec
    assert (gone.metadata.name, gone.metadata.uid, gone.spec.cluster_ip) == (
        "web",
        created.metadata.uid,
        created.spec.cluster_ip,
    )
    account: Any = core.create_namespaced_service_account("default", {"metadata": {"name": "robot"}})
    data, code, _ = core.delete_namespaced_service_account_with_http_info("robot", "default")
    assert code == 200
    assert isinstance(data, kubernetes.client.V1ServiceAccount) and data.metadata
    assert data.metadata.uid == account.metadata.uid
    with pytest.raises(ApiException) as err:
        core.read_namespaced_service("web", "default")
    assert err.value.status == 404


def test_other_kinds_return_a_success_status_with_resource_and_uid(api_client: Api) -> None:
    core, net, discovery, coordination = _apis(api_client)
    made = {
        ("", "secrets"): core.create_namespaced_secret("default", {"metadata": {"name": "x"}}),
        ("networking.k8s.io", "ingresses"): net.create_namespaced_ingress("default", INGRESS),
        ("discovery.k8s.io", "endpointslices"): discovery.create_namespaced_endpoint_slice(
            "default", {"metadata": {"name": "x"}, "addressType": "IPv4", "endpoints": []}
        ),
        ("coordination.k8s.io", "leases"): coordination.create_namespaced_lease("default", {"metadata": {"name": "x"}}),
    }
    deletes = {
        "secrets": core.delete_namespaced_secret_with_http_info,
        "ingresses": net.delete_namespaced_ingress_with_http_info,
        "endpointslices": discovery.delete_namespaced_endpoint_slice_with_http_info,
        "leases": coordination.delete_namespaced_lease_with_http_info,
    }
    for (group, plural), obj in made.items():
        body, code, _ = deletes[plural](obj.metadata.name, "default")
        assert code == 200
        expected = {"name": obj.metadata.name, "kind": plural, "uid": obj.metadata.uid}
        if group:
            expected["group"] = group
        assert (body["kind"], body["status"], body["details"]) == ("Status", "Success", expected), plural


def test_namespace_delete_returns_it_terminating(api_client: Api) -> None:
    core = _apis(api_client)[0]
    core.create_namespace({"metadata": {"name": "doomed"}})
    body, code, _ = core.delete_namespace_with_http_info("doomed")
    assert code == 200
    assert body["kind"] == "Namespace" and body["status"]["phase"] == "Terminating"
    assert body["metadata"]["deletionTimestamp"]


def test_finalizers_hold_a_deleted_object_until_the_last_one_goes(api_client: Api) -> None:
    net = _apis(api_client)[1]
    held = {**INGRESS, "metadata": {"name": "shop", "finalizers": ["example.com/hold"]}}
    net.create_namespaced_ingress("default", held)
    first, code, _ = net.delete_namespaced_ingress_with_http_info("shop", "default")
    assert code == 200
    assert first["kind"] == "Ingress" and first["metadata"]["deletionTimestamp"]
    live = net.read_namespaced_ingress("shop", "default")
    assert live.metadata.deletion_timestamp is not None
    again, code, _ = net.delete_namespaced_ingress_with_http_info(
        "shop", "default", body=kubernetes.client.V1DeleteOptions(orphan_dependents=False)
    )
    assert code == 202 and again["metadata"]["resourceVersion"] == live.metadata.resource_version
    net.patch_namespaced_ingress(
        "shop", "default", {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    with pytest.raises(ApiException) as err:
        net.read_namespaced_ingress("shop", "default")
    assert err.value.status == 404


@pytest.mark.slow
def test_kubectl_delete(stand_in: StandIn, api_client: Api, kubectl: KubectlRunner) -> None:
    core, net, _, _ = _apis(api_client)
    core.create_namespace({"metadata": {"name": "shop"}})
    core.create_namespaced_service("shop", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}})
    core.create_namespaced_secret("shop", {"metadata": {"name": "tls"}})
    net.create_namespaced_ingress("shop", INGRESS)
    for kind, name, said in (
        ("service", "web", 'service "web" deleted'),
        ("ingress", "shop", 'ingress.networking.k8s.io "shop" deleted'),
        ("secret", "tls", 'secret "tls" deleted'),
    ):
        done = kubectl("delete", "-n", "shop", kind, name, "--timeout=20s")
        assert done.returncode == 0 and said in done.stdout, done.stderr
    assert kubectl("get", "-n", "shop", "service,ingress,secret", "-o", "name").stdout.strip() == ""
    done = kubectl("delete", "namespace", "shop", "--timeout=20s")
    assert done.returncode == 0 and 'namespace "shop" deleted' in done.stdout, done.stderr
    assert "shop" not in {ns.metadata.name for ns in core.list_namespace().items}
