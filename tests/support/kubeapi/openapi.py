"""OpenAPI v3 documents (/openapi/v3 and one per group-version) and strict field validation.

kubectl reads them for two things: whether PATCH accepts ``fieldValidation`` (then it leaves
validation to the server, which is what happens against any 1.27+ cluster) and, for ``explain``,
the schemas. The schemas are not hand-written: they are the Kubernetes 1.32 definitions shipped
in the ``kubernetes-validate`` package (a dev dependency), turned from JSON Schema back into
OpenAPI 3 form. The same schemas drive ``fieldValidation=Strict|Warn`` on writes, so an unknown
field (``spec.rules[0].htp``) is refused with the API server's "strict decoding error".
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import pathlib
from typing import Any

from . import resources
from .resources import ResourceType

_REF = "#/$defs/"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"


def _schema_dir() -> pathlib.Path:
    # Located, not imported: importing kubernetes_validate pulls in jsonschema (~0.5 s).
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the stand-in needs the kubernetes-validate package (a dev dependency) for its OpenAPI schemas"
        )
    root = pathlib.Path(spec.origin).parent / "kubernetes-json-schema"
    preferred = root / "v1.32.0-local"
    if preferred.is_dir():
        return preferred
    return max(p for p in root.iterdir() if p.name.endswith("-local"))


def _convert(node: Any) -> Any:
    """JSON Schema as kubernetes-validate writes it -> OpenAPI 3.0 as the API server serves it."""
    if isinstance(node, list):
        return [_convert(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(_REF):
            name = value[len(_REF) :]
            if name == _INT_OR_STRING:
                return {"x-kubernetes-int-or-string": True}
            out["allOf"] = [{"$ref": f"#/components/schemas/{name}"}]
        elif key == "type" and isinstance(value, list):
            out["type"] = next(v for v in value if v != "null")
        elif key == "enum" and isinstance(value, list) and len(value) == 1:
            continue  # apiVersion/kind pins added by the JSON Schema generator
        else:
            out[key] = _convert(value)
    return out


@functools.lru_cache(maxsize=1)
def definitions() -> dict[str, Any]:
    raw = json.loads((_schema_dir() / "_definitions.json").read_text())["$defs"]
    converted = {name: _convert(schema) for name, schema in raw.items()}
    converted[_INT_OR_STRING] = {"x-kubernetes-int-or-string": True}
    return converted


def schema_name(rt: ResourceType) -> str:
    package = rt.group.split(".")[0] if rt.group else "core"
    return f"io.k8s.api.{package}.{rt.version}.{rt.kind}"


def _reachable(names: list[str]) -> dict[str, Any]:
    defs = definitions()
    seen: dict[str, Any] = {}
    todo = [n for n in names if n in defs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen[name] = defs[name]
        todo.extend(_refs(defs[name]))
    return dict(sorted(seen.items()))


def _refs(node: Any) -> list[str]:
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    if not isinstance(node, dict):
        return []
    found = [node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else []
    return found + [r for v in node.values() for r in _refs(v)]


def _operation(rt: ResourceType, action: str, params: list[str], schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    op: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}",
        "parameters": [{"name": p, "in": "query", "schema": {"type": "string"}} for p in params],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    }
    if action in ("post", "put", "patch"):
        types = (
            [
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ]
            if action == "patch"
            else ["application/json"]
        )
        op["requestBody"] = {
            "content": {t: {"schema": ref if action != "patch" else {"type": "object"}} for t in types}
        }
    return op


_WRITE = ["dryRun", "fieldManager", "fieldValidation", "pretty"]
_LIST = [
    "labelSelector",
    "fieldSelector",
    "limit",
    "continue",
    "resourceVersion",
    "resourceVersionMatch",
    "timeoutSeconds",
    "watch",
    "allowWatchBookmarks",
    "sendInitialEvents",
]


def _paths(rt: ResourceType) -> dict[str, Any]:
    base = f"/apis/{rt.group_version}" if rt.group else "/api/v1"
    collection = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    item, schema = f"{collection}/{{name}}", schema_name(rt)
    paths: dict[str, Any] = {
        collection: {
            "get": _operation(rt, "list", _LIST, f"{schema}List"),
            "post": _operation(rt, "post", _WRITE, schema),
            "delete": _operation(rt, "deletecollection", _LIST, schema),
        },
        item: {
            "get": _operation(rt, "get", [], schema),
            "put": _operation(rt, "put", _WRITE, schema),
            "patch": _operation(rt, "patch", _WRITE + ["force"], schema),
            "delete": _operation(rt, "delete", ["dryRun"], schema),
        },
    }
    if rt.namespaced:
        paths[f"{base}/{rt.plural}"] = {"get": _operation(rt, "list", _LIST, f"{schema}List")}
    if rt.status_subresource:
        paths[f"{item}/status"] = {
            "get": _operation(rt, "get", [], schema),
            "put": _operation(rt, "put", _WRITE, schema),
            "patch": _operation(rt, "patch", _WRITE + ["force"], schema),
        }
    return paths


def _url_key(group_version: str) -> str:
    return f"apis/{group_version}" if "/" in group_version else f"api/{group_version}"


@functools.cache
def group_version_document(group_version: str) -> bytes | None:
    served = [rt for rt in resources.RESOURCES if rt.group_version == group_version]
    if not served:
        return None
    paths: dict[str, Any] = {}
    for rt in served:
        paths.update(_paths(rt))
    names = [n for rt in served for n in (schema_name(rt), f"{schema_name(rt)}List")]
    names += ["io.k8s.apimachinery.pkg.apis.meta.v1.Status"]
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": _reachable(names)},
    }
    return json.dumps(doc, sort_keys=True).encode()


def index() -> dict[str, Any]:
    out = {}
    for gv in resources.group_versions():
        digest = hashlib.sha512(group_version_document(gv) or b"").hexdigest()[:32].upper()
        out[_url_key(gv)] = {"serverRelativeURL": f"/openapi/v3/{_url_key(gv)}?hash={digest}"}
    return {"paths": out}


def document_for_path(path: str) -> bytes | None:
    """``api/v1`` or ``apis/networking.k8s.io/v1`` -> that group-version's document."""
    parts = path.strip("/").split("/")
    if parts[:1] == ["api"] and len(parts) == 2:
        return group_version_document(parts[1])
    if parts[:1] == ["apis"] and len(parts) == 3:
        return group_version_document(f"{parts[1]}/{parts[2]}")
    return None


def prune_unknown_fields(rt: ResourceType, obj: dict[str, Any]) -> list[str]:
    """Remove the fields the schema of ``rt`` does not declare from ``obj`` (as the API server's
    decoder drops them) and return their dotted paths."""
    out: list[str] = []
    _walk(obj, {"allOf": [{"$ref": f"#/components/schemas/{schema_name(rt)}"}]}, "", out)
    return out


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    for _ in range(8):  # refs chain at most a few levels
        if "allOf" not in schema:
            return schema
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            target = definitions().get(part.get("$ref", "").rsplit("/", 1)[-1], part)
            merged = {**target, **merged}
        schema = merged
    return schema


def _walk(value: Any, schema: dict[str, Any], path: str, out: list[str]) -> None:
    schema = _resolve(schema)
    if isinstance(value, dict) and "properties" in schema:
        for key in list(value):
            here = f"{path}.{key}" if path else key
            if key in schema["properties"]:
                _walk(value[key], schema["properties"][key], here, out)
            elif not schema.get("additionalProperties"):
                out.append(here)
                del value[key]
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, sub in value.items():
            _walk(sub, schema["additionalProperties"], f"{path}.{key}", out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, sub in enumerate(value):
            _walk(sub, schema["items"], f"{path}[{i}]", out)
