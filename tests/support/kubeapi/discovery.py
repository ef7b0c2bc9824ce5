"""Legacy (unaggregated) discovery documents: /version, /api, /api/v1, /apis, /apis/{g}[/{v}].

kubectl and client-go ask for aggregated discovery first (``as=APIGroupDiscoveryList`` in the
Accept header) and fall back to these documents when the answer is plain ``application/json``;
the Python clients only read the legacy format. Serving one format keeps the two clients on the
same code path here, and the fallback is the behaviour of every API server before 1.26.
"""

from __future__ import annotations

import hashlib
from typing import Any

from . import resources
from .resources import ResourceType

KUBERNETES_VERSION = ("1", "32", "v1.32.0-stand-in")
_STATUS_VERBS = ["get", "patch", "update"]


def version() -> dict[str, Any]:
    major, minor, git = KUBERNETES_VERSION
    return {
        "major": major,
        "minor": minor,
        "gitVersion": git,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def core_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str) -> dict[str, Any]:
    versions = sorted({rt.version for rt in resources.RESOURCES if rt.group == name})
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(name) for name in resources.groups()]}


def group(name: str) -> dict[str, Any] | None:
    if name not in resources.groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def _storage_hash(rt: ResourceType) -> str:
    return hashlib.sha256(rt.key.encode()).hexdigest()[:11]


def _resource(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(resources.ALL_VERBS),
        "storageVersionHash": _storage_hash(rt),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    out = [main]
    if rt.status_subresource:
        out.append(
            {
                "name": f"{rt.plural}/status",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": _STATUS_VERBS,
            }
        )
    return out


def resource_list(group_name: str, version_name: str) -> dict[str, Any] | None:
    served = resources.in_group_version(group_name, version_name)
    if not served:
        return None
    doc: dict[str, Any] = {
        "kind": "APIResourceList",
        "groupVersion": served[0].group_version,
        "resources": [r for rt in served for r in _resource(rt)],
    }
    if group_name:
        doc["apiVersion"] = "v1"
    return doc
