"""Fault injection, request counting and 401/403 on the stand-in (Python API and HTTP controls)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support.kubeapi import StandIn
from tests.support.manifests import ingress


def test_fail_next_requests_then_recover(stand_in: StandIn, api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    stand_in.faults(fail_next=2, status=503)
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            core.list_namespace()
        assert err.value.status == 503
        assert json.loads(err.value.body)["reason"] == "ServiceUnavailable"
    assert core.list_namespace().items


def test_faults_filtered_by_verb_and_resource(stand_in: StandIn, api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    resp = httpx.post(
        f"{stand_in.url}/_stand_in/faults",
        json={"fail_next": 1, "status": 500, "verb": "create", "resource": "ingresses"},
    )
    assert resp.status_code == 200
    client.CoreV1Api(api_client).list_namespace()  # other verbs and resources pass
    net.list_ingress_for_all_namespaces()
    with pytest.raises(ApiException) as err:
        net.create_namespaced_ingress("default", ingress("web", namespace="default"))
    assert err.value.status == 500
    net.create_namespaced_ingress("default", ingress("web", namespace="default"))


def test_delay_applies_to_every_request(stand_in: StandIn) -> None:
    with httpx.Client(base_url=stand_in.url, timeout=10) as http:
        http.post("/_stand_in/faults", json={"delay_seconds": 1.5})
        started = time.monotonic()
        assert http.get("/api/v1/namespaces").status_code == 200
        assert time.monotonic() - started >= 1.5
        http.post("/_stand_in/faults", json={"reset": True})
        started = time.monotonic()
        http.get("/api/v1/namespaces")
        assert time.monotonic() - started < 1.5  # the delay is gone (a generous bound: no timing test)


def test_request_counts(stand_in: StandIn, api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    stand_in.reset_counts()
    net.create_namespaced_ingress("default", ingress("web", namespace="default"))
    net.patch_namespaced_ingress(
        "web",
        "default",
        ingress("web", namespace="default"),
        field_manager="me",
        _content_type="application/apply-patch+yaml",
    )
    net.list_namespaced_ingress("default")
    net.read_namespaced_ingress("web", "default")
    counts = httpx.get(f"{stand_in.url}/_stand_in/requests").json()
    assert counts == stand_in.request_counts()
    assert counts["writes"] == 2 and counts["total"] == 4
    assert counts["by_verb_resource"] == {
        "apply ingresses": 1,
        "create ingresses": 1,
        "get ingresses": 1,
        "list ingresses": 1,
    }
    httpx.delete(f"{stand_in.url}/_stand_in/requests")
    assert stand_in.request_counts()["total"] == 0


def test_compact_over_http(stand_in: StandIn, api_client: client.ApiClient) -> None:
    client.CoreV1Api(api_client).create_namespace({"metadata": {"name": "x"}})
    resp = httpx.post(f"{stand_in.url}/_stand_in/compact").json()
    assert resp == {"compactedResourceVersion": str(stand_in.resource_version)}


def test_unauthorized_and_forbidden_shapes(stand_in: StandIn) -> None:
    user = "system:serviceaccount:x:y"
    stand_in.auth(tokens={"good": user}, deny=[{"user": user, "verb": "list", "resource": "ingresses"}])
    url = f"{stand_in.url}/apis/networking.k8s.io/v1/ingresses"
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    denied = httpx.get(url, headers={"Authorization": "Bearer good"})
    assert denied.status_code == 403
    body = denied.json()
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        'ingresses.networking.k8s.io is forbidden: User "system:serviceaccount:x:y" cannot list '
        'resource "ingresses" in API group "networking.k8s.io" at the cluster scope'
    )
    assert body["details"] == {"group": "networking.k8s.io", "kind": "ingresses"}
    in_ns = httpx.get(
        f"{stand_in.url}/apis/networking.k8s.io/v1/namespaces/default/ingresses",
        headers={"Authorization": "Bearer good"},
    ).json()
    assert in_ns["message"].endswith('in API group "networking.k8s.io" in the namespace "default"')
    allowed = httpx.get(f"{stand_in.url}/api/v1/namespaces", headers={"Authorization": "Bearer good"})
    assert allowed.status_code == 200


def test_bad_requests_answer_status_never_traceback(stand_in: StandIn) -> None:
    base = f"{stand_in.url}/apis/networking.k8s.io/v1/namespaces/default/ingresses"
    cases = [
        httpx.post(base, content=b"{not json", headers={"Content-Type": "application/json"}),
        httpx.get(f"{stand_in.url}/apis/networking.k8s.io/v1/widgets"),
        httpx.get(base, params={"labelSelector": "a in (b", "watch": "0"}),
        httpx.get(base, params={"watch": "1", "resourceVersion": "abc"}),
        httpx.patch(f"{base}/web", content=b"{}", headers={"Content-Type": "text/plain"}),
        httpx.put(f"{base}/web", json={"metadata": {"name": "other"}}),
        httpx.post(f"{stand_in.url}/_stand_in/unknown"),
    ]
    for resp in cases:
        assert 400 <= resp.status_code < 500, resp.text
        assert resp.json()["kind"] == "Status" and "Traceback" not in resp.text
