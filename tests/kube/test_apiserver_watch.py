"""Watch on the stand-in: ordering, resume, 410 Expired, bookmarks, selectors, timeouts, and many
watchers at once. Each watch is bounded by ``timeoutSeconds`` and an HTTP read timeout."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.support.kubeapi import StandIn
from tests.support.manifests import ingress, namespace

INGRESSES = "/apis/networking.k8s.io/v1/namespaces/default/ingresses"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as http_client:
        yield http_client


def _events(http: httpx.Client, stand_in: StandIn, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    params.setdefault("timeoutSeconds", 5)
    with http.stream("GET", stand_in.url + path, params={"watch": "1", **params}) as resp:
        assert resp.status_code == 200
        assert resp.headers["transfer-encoding"] == "chunked"
        for line in resp.iter_lines():
            if line:
                yield json.loads(line)


def test_watch_streams_changes_in_order(api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    rv = net.list_namespaced_ingress("default").metadata.resource_version
    net.create_namespaced_ingress("default", ingress("web", namespace="default"))
    net.patch_namespaced_ingress("web", "default", {"metadata": {"labels": {"a": "b"}}})
    net.delete_namespaced_ingress("web", "default")
    seen = []
    w = watch.Watch()
    for event in w.stream(net.list_namespaced_ingress, "default", resource_version=rv, timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "web"), ("MODIFIED", "web"), ("DELETED", "web")]


def test_watch_without_version_starts_with_current_state(
    http: httpx.Client, stand_in: StandIn, api_client: client.ApiClient
) -> None:
    client.NetworkingV1Api(api_client).create_namespaced_ingress("default", ingress("web", namespace="default"))
    first = next(_events(http, stand_in, INGRESSES))
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "web"
    assert first["object"]["kind"] == "Ingress"


def test_resume_from_resource_version(http: httpx.Client, stand_in: StandIn, api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    created = net.create_namespaced_ingress("default", ingress("one", namespace="default"))
    net.create_namespaced_ingress("default", ingress("two", namespace="default"))
    events = _events(http, stand_in, INGRESSES, resourceVersion=created.metadata.resource_version)
    first = next(events)
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "two")


def test_compaction_expires_old_versions(http: httpx.Client, stand_in: StandIn, api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    old = net.create_namespaced_ingress("default", ingress("one", namespace="default")).metadata.resource_version
    net.create_namespaced_ingress("default", ingress("two", namespace="default"))
    stand_in.compact()
    events = list(_events(http, stand_in, INGRESSES, resourceVersion=old))
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {old} (")
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(net.list_namespaced_ingress, "default", resource_version=old, timeout_seconds=5):
            pass
    assert err.value.status == 410
    # A continue token from before the compaction is expired too.
    page = net.list_namespaced_ingress("default", limit=1)
    stand_in.compact()
    net.create_namespaced_ingress("default", ingress("three", namespace="default"))
    stand_in.compact()
    with pytest.raises(ApiException) as err:
        net.list_namespaced_ingress("default", limit=1, _continue=page.metadata._continue)
    assert err.value.status == 410 and json.loads(err.value.body)["reason"] == "Expired"


def test_bookmarks_and_initial_events_end(http: httpx.Client, stand_in: StandIn, api_client: client.ApiClient) -> None:
    client.NetworkingV1Api(api_client).create_namespaced_ingress("default", ingress("web", namespace="default"))
    events = _events(
        http,
        stand_in,
        INGRESSES,
        allowWatchBookmarks="true",
        sendInitialEvents="true",
        resourceVersionMatch="NotOlderThan",
    )
    assert next(events)["type"] == "ADDED"
    end = next(events)
    assert end["type"] == "BOOKMARK"
    assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    periodic = next(events)  # the fixture's server sends one every 0.2 s
    assert periodic["type"] == "BOOKMARK"
    assert periodic["object"] == {
        "kind": "Ingress",
        "apiVersion": "networking.k8s.io/v1",
        "metadata": {"resourceVersion": str(stand_in.resource_version)},
    }


def test_selector_transitions_and_timeout(http: httpx.Client, stand_in: StandIn, api_client: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api_client)
    rv = str(stand_in.resource_version)
    net.create_namespaced_ingress("default", ingress("web", labels={"team": "a"}, namespace="default"))
    net.patch_namespaced_ingress("web", "default", {"metadata": {"labels": {"team": "b"}}})
    net.patch_namespaced_ingress("web", "default", {"metadata": {"labels": {"team": "a"}}})
    net.create_namespaced_ingress("default", ingress("other", labels={"team": "b"}, namespace="default"))
    events = _events(http, stand_in, INGRESSES, resourceVersion=rv, labelSelector="team=a", timeoutSeconds=1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "web"),
        ("DELETED", "web"),
        ("ADDED", "web"),
    ]  # then the stream times out


def test_namespace_deletion_emits_deleted_events(
    http: httpx.Client, stand_in: StandIn, api_client: client.ApiClient
) -> None:
    core, net = client.CoreV1Api(api_client), client.NetworkingV1Api(api_client)
    core.create_namespace(namespace("preview"))
    net.create_namespaced_ingress("preview", ingress("web", namespace="preview"))
    rv = str(stand_in.resource_version)
    core.delete_namespace("preview")
    events = _events(http, stand_in, "/apis/networking.k8s.io/v1/ingresses", resourceVersion=rv)
    first = next(events)
    assert (first["type"], first["object"]["metadata"]["name"]) == ("DELETED", "web")


def test_many_concurrent_watchers_see_every_event(
    http: httpx.Client, stand_in: StandIn, api_client: client.ApiClient
) -> None:
    net = client.NetworkingV1Api(api_client)
    rv = str(stand_in.resource_version)
    results: dict[int, list[str]] = {}
    ready = threading.Barrier(21, timeout=10)

    def watcher(i: int) -> None:
        with http.stream(
            "GET", stand_in.url + INGRESSES, params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "10"}
        ) as resp:
            ready.wait()
            names = []
            for line in resp.iter_lines():
                if line:
                    names.append(json.loads(line)["object"]["metadata"]["name"])
                if len(names) == 10:
                    break
            results[i] = names

    threads = [threading.Thread(target=watcher, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    ready.wait()
    for n in range(10):
        net.create_namespaced_ingress("default", ingress(f"web{n}", namespace="default"))
    for t in threads:
        t.join(timeout=15)
    assert all(results.get(i) == [f"web{n}" for n in range(10)] for i in range(20))


def test_drop_watches_ends_open_streams(http: httpx.Client, stand_in: StandIn) -> None:
    events = _events(http, stand_in, INGRESSES, allowWatchBookmarks="true", timeoutSeconds=30)
    assert next(events)["type"] == "BOOKMARK"  # the stream is open
    stand_in.faults(drop_watches=True)
    assert [e["type"] for e in events] in ([], ["BOOKMARK"])  # then it ends, well before 30 s
