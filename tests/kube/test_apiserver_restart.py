"""The stand-in's restart: while halted its port refuses connections; resumed, it serves on the
same port the same objects and resourceVersions, and watches resume from an older resourceVersion
unless the restart compacted the history (then 410 Expired)."""

from __future__ import annotations

import json

import httpx
import kubernetes
import pytest
import urllib3

from tests.support.kubeapi import StandIn


def _first_event(stand_in: StandIn, rv: int) -> dict[str, object]:
    url = f"{stand_in.url}/api/v1/namespaces?watch=1&resourceVersion={rv}&timeoutSeconds=2"
    with httpx.stream("GET", url, timeout=10) as response:
        for line in response.iter_lines():
            if line.strip():
                return dict(json.loads(line))
    raise AssertionError("the watch ended without an event")


def test_halt_refuses_resume_keeps_objects_and_resource_versions(
    stand_in: StandIn, api_client: kubernetes.client.ApiClient
) -> None:
    api_client.configuration.retries = 0
    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": "a"}})
    before, url = stand_in.resource_version, stand_in.url
    stand_in.halt()
    with pytest.raises(urllib3.exceptions.MaxRetryError, match="Connection refused"):
        core.list_namespace(_request_timeout=2)
    stand_in.resume()
    assert stand_in.url == url and stand_in.resource_version == before
    listed = core.list_namespace()
    assert "a" in {ns.metadata.name for ns in listed.items} and listed.metadata.resource_version == str(before)
    core.create_namespace({"metadata": {"name": "b"}})
    event = _first_event(stand_in, before)  # resumes across the restart
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "b"  # type: ignore[index]
    stand_in.restart(compact=True)
    event = _first_event(stand_in, before)
    assert event["type"] == "ERROR" and event["object"]["code"] == 410  # type: ignore[index]
