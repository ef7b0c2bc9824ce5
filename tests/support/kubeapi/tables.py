"""meta.k8s.io/v1 Table responses, which ``kubectl get`` asks for in its Accept header.

Columns follow what the real server prints for each kind (NAME, CLASS, HOSTS, ADDRESS, PORTS, AGE
for Ingress, and so on), so ``kubectl get`` output read in tests looks like a real cluster's.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from .resources import ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, Callable[[Obj], Any]]


def _age(obj: Obj) -> str:
    stamp = obj.get("metadata", {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    seconds = int((datetime.datetime.now(datetime.UTC) - created).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _hosts(obj: Obj) -> str:
    hosts = [r.get("host") for r in obj.get("spec", {}).get("rules") or [] if r.get("host")]
    return ",".join(hosts) if hosts else "*"


def _address(obj: Obj) -> str:
    ingress = obj.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    return ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress)


def _service_ports(obj: Obj) -> str:
    ports = obj.get("spec", {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


_NAME: Column = ("Name", "name", lambda o: o["metadata"]["name"])
_AGE: Column = ("Age", "", _age)
_COLUMNS: dict[str, list[Column]] = {
    "Namespace": [_NAME, ("Status", "", lambda o: o.get("status", {}).get("phase", "")), _AGE],
    "Ingress": [
        _NAME,
        ("Class", "", lambda o: o.get("spec", {}).get("ingressClassName") or "<none>"),
        ("Hosts", "", _hosts),
        ("Address", "", _address),
        ("Ports", "", lambda o: "80, 443" if o.get("spec", {}).get("tls") else "80"),
        _AGE,
    ],
    "Service": [
        _NAME,
        ("Type", "", lambda o: o.get("spec", {}).get("type", "")),
        ("Cluster-IP", "", lambda o: o.get("spec", {}).get("clusterIP", "")),
        ("Ports", "", _service_ports),
        _AGE,
    ],
    "Secret": [
        _NAME,
        ("Type", "", lambda o: o.get("type", "")),
        ("Data", "", lambda o: len(o.get("data") or {})),
        _AGE,
    ],
    "ConfigMap": [_NAME, ("Data", "", lambda o: len(o.get("data") or {})), _AGE],
    "Lease": [_NAME, ("Holder", "", lambda o: o.get("spec", {}).get("holderIdentity", "")), _AGE],
}


def _columns(rt: ResourceType) -> list[Column]:
    return _COLUMNS.get(rt.kind, [_NAME, _AGE])


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def table(
    rt: ResourceType, objects: list[Obj], resource_version: str, include_object: str, headers: bool = True
) -> Obj:
    columns = _columns(rt)
    rows = []
    for obj in objects:
        row: Obj = {"cells": [fn(obj) for _, _, fn in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": "integer" if name == "Data" else "string",
                "format": fmt,
                "description": name,
                "priority": 0,
            }
            for name, fmt, _ in columns
        ]
        if headers
        else [],
        "rows": rows,
    }
