"""CRUD, errors and selectors on the stand-in API server, through the official Python client."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support.kubeapi import StandIn
from tests.support.manifests import ingress, namespace, service


def _status(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_discovery_documents(api_client: client.ApiClient) -> None:
    assert client.VersionApi(api_client).get_code().major == "1"
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"networking.k8s.io", "discovery.k8s.io", "coordination.k8s.io"} <= groups
    names = {r.name for r in client.NetworkingV1Api(api_client).get_api_resources().resources}
    assert {"ingresses", "ingresses/status", "ingressclasses"} <= names
    core = {r.name: r for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert core["namespaces"].namespaced is False and core["services"].namespaced is True


def test_namespace_and_ingress_lifecycle(api_client: client.ApiClient) -> None:
    core, net = client.CoreV1Api(api_client), client.NetworkingV1Api(api_client)
    core.create_namespace(namespace("shop"))
    created = net.create_namespaced_ingress("shop", ingress("web", namespace="shop"))
    meta = created.metadata
    assert meta.uid and meta.creation_timestamp and meta.generation == 1
    assert int(meta.resource_version) > 0

    body = api_client.sanitize_for_serialization(net.read_namespaced_ingress("web", "shop"))
    body["spec"]["rules"][0]["host"] = "new.example.com"
    replaced = net.replace_namespaced_ingress("web", "shop", body)
    assert replaced.metadata.generation == 2
    assert int(replaced.metadata.resource_version) > int(meta.resource_version)
    assert replaced.metadata.uid == meta.uid

    labelled = net.patch_namespaced_ingress("web", "shop", {"metadata": {"labels": {"a": "b"}}})
    assert labelled.metadata.labels == {"a": "b"}
    assert labelled.metadata.generation == 2  # metadata changes do not bump generation

    net.delete_namespaced_ingress("web", "shop")
    with pytest.raises(ApiException) as err:
        net.read_namespaced_ingress("web", "shop")
    assert err.value.status == 404
    assert _status(err.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'ingresses.networking.k8s.io "web" not found',
        "reason": "NotFound",
        "details": {"name": "web", "group": "networking.k8s.io", "kind": "ingresses"},
        "code": 404,
    }


def test_already_exists_and_missing_namespace(api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    net.create_namespaced_ingress("default", ingress("web", namespace="default"))
    with pytest.raises(ApiException) as err:
        net.create_namespaced_ingress("default", ingress("web", namespace="default"))
    assert err.value.status == 409 and _status(err.value)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as err:
        net.create_namespaced_ingress("nowhere", ingress("web", namespace="nowhere"))
    assert err.value.status == 404
    assert _status(err.value)["message"] == 'namespaces "nowhere" not found'


def test_stale_resource_version_is_a_conflict(api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    first = net.create_namespaced_ingress("default", ingress("web", namespace="default"))
    net.patch_namespaced_ingress("web", "default", {"metadata": {"labels": {"x": "1"}}})
    stale = api_client.sanitize_for_serialization(first)
    with pytest.raises(ApiException) as err:
        net.replace_namespaced_ingress("web", "default", stale)
    assert err.value.status == 409
    status = _status(err.value)
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on ingresses.networking.k8s.io "web": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )


def test_json_patch_and_delete_preconditions(api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    created = net.create_namespaced_ingress("default", ingress("web", namespace="default"))
    patched = net.patch_namespaced_ingress(
        "web",
        "default",
        [
            {"op": "add", "path": "/metadata/labels", "value": {"a": "b"}},
            {"op": "replace", "path": "/spec/rules/0/host", "value": "new.example.com"},
        ],
    )
    assert patched.metadata.labels == {"a": "b"}
    assert patched.spec.rules[0].host == "new.example.com" and patched.metadata.generation == 2
    with pytest.raises(ApiException) as err:
        net.patch_namespaced_ingress(
            "web", "default", [{"op": "test", "path": "/spec/ingressClassName", "value": "other"}]
        )
    assert err.value.status == 422
    with pytest.raises(ApiException) as err:
        net.delete_namespaced_ingress(
            "web",
            "default",
            body=client.V1DeleteOptions(
                preconditions=client.V1Preconditions(resource_version=created.metadata.resource_version)
            ),
        )
    assert err.value.status == 409
    net.delete_namespaced_ingress(
        "web",
        "default",
        body=client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=patched.metadata.resource_version)
        ),
    )
    assert net.list_namespaced_ingress("default").items == []


def test_invalid_ingress_is_422_with_causes(api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    with pytest.raises(ApiException) as err:
        net.create_namespaced_ingress("default", ingress("Bad_Name", namespace="default"))
    assert err.value.status == 422
    status = _status(err.value)
    assert status["reason"] == "Invalid" and status["kind"] == "Status"
    assert status["details"]["kind"] == "Ingress"
    assert any(c["field"] == "metadata.name" for c in status["details"]["causes"])
    assert status["message"].startswith('Ingress.networking.k8s.io "Bad_Name" is invalid: ')


def test_422_causes_match_our_validator(api_client: client.ApiClient) -> None:
    from gitops_ingress.core.validation import validate_manifest

    net = client.NetworkingV1Api(api_client)
    bad_host = ingress("web", host="Shop.Example.com", namespace="default")
    with pytest.raises(ApiException) as err:
        net.create_namespaced_ingress("default", bad_host)
    causes = _status(err.value)["details"]["causes"]
    assert causes[0]["field"] == "spec.rules[0].host"
    assert causes[0]["reason"] == "FieldValueInvalid"
    assert causes[0]["message"].startswith('Invalid value: "Shop.Example.com": ')
    expected = [f.field for f in validate_manifest(bad_host) if f.severity.value == "error"]
    assert [c["field"] for c in causes] == expected
    assert _status(err.value)["message"] == (
        f'Ingress.networking.k8s.io "web" is invalid: {causes[0]["field"]}: {causes[0]["message"]}'
    )


def test_strict_field_validation_rejects_unknown_fields(api_client: client.ApiClient, stand_in: StandIn) -> None:
    import httpx

    body = ingress("web", namespace="default")
    body["spec"]["rules"][0]["htp"] = {}
    url = f"{stand_in.url}/apis/networking.k8s.io/v1/namespaces/default/ingresses"
    strict = httpx.post(url, params={"fieldValidation": "Strict"}, json=body)
    assert strict.status_code == 400
    assert strict.json()["message"] == 'strict decoding error: unknown field "spec.rules[0].htp"'
    warned = httpx.post(url, json=body)
    assert warned.status_code == 201 and "spec.rules[0].htp" in warned.headers["warning"]
    assert "htp" not in warned.json()["spec"]["rules"][0]  # dropped, as the decoder does


def test_status_subresource(api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    net.create_namespaced_ingress("default", ingress("web", namespace="default"))
    lb = {"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}}
    # A status sent to the main resource is ignored ...
    net.patch_namespaced_ingress("web", "default", lb)
    assert net.read_namespaced_ingress("web", "default").status.load_balancer.ingress is None
    # ... and the spec sent to /status is ignored.
    patched = net.patch_namespaced_ingress_status("web", "default", {**lb, "spec": {"ingressClassName": "other"}})
    assert patched.status.load_balancer.ingress[0].ip == "127.0.0.1"
    assert patched.spec.ingress_class_name == "gitops-ingress"
    assert patched.metadata.generation == 1


def test_selectors_and_cluster_wide_list(api_client: client.ApiClient) -> None:
    core, net = client.CoreV1Api(api_client), client.NetworkingV1Api(api_client)
    core.create_namespace(namespace("b"))
    net.create_namespaced_ingress("default", ingress("a1", labels={"team": "a", "tier": "web"}, namespace="default"))
    net.create_namespaced_ingress("default", ingress("a2", labels={"team": "a"}, namespace="default"))
    net.create_namespaced_ingress("b", ingress("b1", namespace="b", labels={"team": "b"}))

    def names(**kw: str) -> list[str]:
        return [i.metadata.name for i in net.list_ingress_for_all_namespaces(**kw).items]

    assert names() == ["b1", "a1", "a2"]  # sorted by namespace, then name
    assert names(label_selector="team=a") == ["a1", "a2"]
    assert names(label_selector="team in (a,b),tier") == ["a1"]
    assert names(label_selector="team!=a") == ["b1"]
    assert names(label_selector="!tier,team") == ["b1", "a2"]
    assert names(field_selector="metadata.name=a2") == ["a2"]
    assert names(field_selector="metadata.namespace!=default") == ["b1"]
    with pytest.raises(ApiException) as err:
        names(field_selector="spec.ingressClassName=x")
    assert err.value.status == 400
    assert [i.metadata.name for i in net.list_namespaced_ingress("b").items] == ["b1"]


def test_pagination_with_limit_and_continue(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    for i in range(5):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"cm{i}"}})
    page = core.list_namespaced_config_map("default", limit=2)
    seen = [c.metadata.name for c in page.items]
    for _ in range(5):
        if not page.metadata._continue:
            break
        page = core.list_namespaced_config_map("default", limit=2, _continue=page.metadata._continue)
        seen += [c.metadata.name for c in page.items]
    assert seen == [f"cm{i}" for i in range(5)]


def test_namespace_deletion_removes_contents(api_client: client.ApiClient) -> None:
    core, net = client.CoreV1Api(api_client), client.NetworkingV1Api(api_client)
    core.create_namespace(namespace("preview"))
    net.create_namespaced_ingress("preview", ingress("web", namespace="preview"))
    core.create_namespaced_service("preview", service("api", namespace="preview"))
    core.create_namespaced_secret("preview", {"metadata": {"name": "tls"}, "stringData": {"a": "b"}})
    net.create_namespaced_ingress("default", ingress("keep", namespace="default"))
    terminating = json.loads(core.delete_namespace("preview", _preload_content=False).data)
    assert terminating["status"]["phase"] == "Terminating"
    assert terminating["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiException) as err:
        core.read_namespace("preview")
    assert err.value.status == 404
    assert [i.metadata.name for i in net.list_ingress_for_all_namespaces().items] == ["keep"]
    assert core.list_service_for_all_namespaces().items == []
    assert core.list_secret_for_all_namespaces().items == []


def test_every_served_kind_round_trips(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    svc = core.create_namespaced_service("default", service("api"))
    assert svc.spec.cluster_ip and svc.spec.ports[0].target_port == 80
    core.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Ingress", "name": "web"},
            "reason": "Synced",
            "message": "ok",
            "type": "Normal",
        },
    )
    assert core.list_namespaced_event("default", field_selector="reason=Synced").items
    client.DiscoveryV1Api(api_client).create_namespaced_endpoint_slice(
        "default",
        {
            "metadata": {"name": "api-1", "labels": {"kubernetes.io/service-name": "api"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        },
    )
    slices = (
        client.DiscoveryV1Api(api_client)
        .list_namespaced_endpoint_slice("default", label_selector="kubernetes.io/service-name=api")
        .items
    )
    assert slices[0].endpoints[0].addresses == ["127.0.0.1"]
    leases = client.CoordinationV1Api(api_client)
    leases.create_namespaced_lease("default", {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "me"}})
    assert leases.read_namespaced_lease("leader", "default").spec.holder_identity == "me"
    client.NetworkingV1Api(api_client).create_ingress_class(
        {"metadata": {"name": "gitops-ingress"}, "spec": {"controller": "example.com/gitops"}}
    )
    assert client.NetworkingV1Api(api_client).read_ingress_class("gitops-ingress").spec.controller
