"""Server-side apply on the stand-in: create, field removal, conflicts, force, co-ownership.

Apply goes through the typed client methods with ``_content_type='application/apply-patch+yaml'``
(kubernetes 37 changed ``ApiClient.call_api``, so the typed methods are the stable way in).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from tests.support.manifests import ingress

APPLY = "application/apply-patch+yaml"


def _apply(net: client.NetworkingV1Api, body: dict[str, Any], manager: str, force: bool = False) -> dict[str, Any]:
    resp = net.patch_namespaced_ingress(
        body["metadata"]["name"],
        body["metadata"]["namespace"],
        body,
        field_manager=manager,
        force=force,
        _content_type=APPLY,
        _preload_content=False,
    )
    return json.loads(resp.data)


def _owners(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


@pytest.fixture
def net(api_client: client.ApiClient) -> client.NetworkingV1Api:
    return client.NetworkingV1Api(api_client)


def test_apply_creates_and_records_ownership(net: client.NetworkingV1Api) -> None:
    obj = _apply(net, ingress("web", labels={"team": "a"}, namespace="default"), "gitops-ingress")
    assert obj["metadata"]["uid"] and obj["metadata"]["generation"] == 1
    entry = _owners(obj)["gitops-ingress"]
    assert entry["operation"] == "Apply" and entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"]["f:metadata"] == {"f:labels": {"f:team": {}}}
    assert set(entry["fieldsV1"]["f:spec"]) == {"f:ingressClassName", "f:rules"}


def test_reapply_is_a_no_op_and_dropped_fields_are_removed(net: client.NetworkingV1Api) -> None:
    first = _apply(net, ingress("web", labels={"team": "a", "tier": "web"}, namespace="default"), "gitops-ingress")
    again = _apply(net, ingress("web", labels={"team": "a", "tier": "web"}, namespace="default"), "gitops-ingress")
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    dropped = _apply(net, ingress("web", labels={"team": "a"}, namespace="default"), "gitops-ingress")
    assert dropped["metadata"]["labels"] == {"team": "a"}
    assert int(dropped["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


def test_field_kept_while_another_manager_owns_it(net: client.NetworkingV1Api) -> None:
    _apply(net, ingress("web", labels={"team": "a"}, namespace="default"), "gitops-ingress")
    _apply(
        net,
        {
            **ingress("web", namespace="default"),
            "metadata": {"name": "web", "namespace": "default", "labels": {"team": "a"}},
        },
        "other",
    )
    # "other" co-owns labels.team (same value), so dropping it from ours keeps it.
    after = _apply(net, ingress("web", namespace="default"), "gitops-ingress")
    assert after["metadata"]["labels"] == {"team": "a"}


def test_conflict_then_force_transfers_ownership(net: client.NetworkingV1Api) -> None:
    _apply(net, ingress("web", host="a.example.com", namespace="default"), "gitops-ingress")
    with pytest.raises(ApiException) as err:
        _apply(net, ingress("web", host="b.example.com", namespace="default"), "intruder")
    assert err.value.status == 409
    status = json.loads(err.value.body)
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "gitops-ingress" using networking.k8s.io/v1: .spec.rules'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "field": ".spec.rules",
            "message": 'conflict with "gitops-ingress" using networking.k8s.io/v1: .spec.rules',
        }
    ]

    forced = _apply(net, ingress("web", host="b.example.com", namespace="default"), "intruder", force=True)
    assert forced["spec"]["rules"][0]["host"] == "b.example.com"
    owners = _owners(forced)
    assert "f:rules" in owners["intruder"]["fieldsV1"]["f:spec"]
    assert "f:rules" not in owners["gitops-ingress"]["fieldsV1"].get("f:spec", {})
    # Having lost the field, the first manager now conflicts in its turn.
    with pytest.raises(ApiException) as err:
        _apply(net, ingress("web", host="a.example.com", namespace="default"), "gitops-ingress")
    assert err.value.status == 409 and '"intruder"' in json.loads(err.value.body)["message"]


def test_same_value_is_shared_not_a_conflict(net: client.NetworkingV1Api) -> None:
    _apply(net, ingress("web", namespace="default"), "gitops-ingress")
    shared = _apply(net, ingress("web", namespace="default"), "second")
    assert {"gitops-ingress", "second"} <= set(_owners(shared))


def test_update_takes_fields_and_apply_then_conflicts(net: client.NetworkingV1Api) -> None:
    _apply(net, ingress("web", labels={"team": "a"}, namespace="default"), "gitops-ingress")
    net.patch_namespaced_ingress(
        "web", "default", {"metadata": {"labels": {"team": "b"}}}, field_manager="kubectl-edit"
    )
    with pytest.raises(ApiException) as err:
        _apply(net, ingress("web", labels={"team": "a"}, namespace="default"), "gitops-ingress")
    assert '"kubectl-edit"' in json.loads(err.value.body)["message"]
    assert err.value.status == 409


def test_apply_needs_field_manager_and_valid_objects(net: client.NetworkingV1Api) -> None:
    with pytest.raises(ApiException) as err:
        net.patch_namespaced_ingress("web", "default", ingress("web", namespace="default"), _content_type=APPLY)
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        _apply(net, ingress("UPPER", namespace="default"), "gitops-ingress")
    assert err.value.status == 422
    with pytest.raises(ApiException) as err:
        _apply(net, ingress("web", namespace="missing"), "gitops-ingress")
    assert err.value.status == 404


def test_apply_with_stale_resource_version_conflicts(net: client.NetworkingV1Api) -> None:
    first = _apply(net, ingress("web", namespace="default"), "gitops-ingress")
    _apply(net, ingress("web", labels={"x": "1"}, namespace="default"), "gitops-ingress")
    body = ingress("web", namespace="default")
    body["metadata"]["resourceVersion"] = first["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as err:
        _apply(net, body, "gitops-ingress")
    assert err.value.status == 409


def test_dynamic_client_discovers_and_applies(api_client: client.ApiClient, tmp_path: pathlib.Path) -> None:
    # The DynamicClient caches discovery in a file keyed by host: give it its own file.
    dyn = dynamic.DynamicClient(api_client, cache_file=str(tmp_path / "discovery.json"))
    ingresses = dyn.resources.get(api_version="networking.k8s.io/v1", kind="Ingress")
    applied = dyn.server_side_apply(
        ingresses, body=ingress("web", namespace="default"), namespace="default", field_manager="gitops-ingress"
    )
    assert applied.metadata.managedFields[0].manager == "gitops-ingress"
    listed = dyn.get(ingresses, namespace="default", label_selector="")
    assert [i.metadata.name for i in listed.items] == ["web"]
