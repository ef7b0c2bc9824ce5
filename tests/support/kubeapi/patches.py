"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) on plain JSON values.

Strategic merge patch is served as a merge patch: for the kinds the stand-in holds, the only
difference is how keyed lists merge (Service ports, EndpointSlice endpoints), which the tests and
gitops-ingress never patch piecewise. Failures become 422/400 Status errors, as on the server.
"""

from __future__ import annotations

import copy
from typing import Any

from .status import ApiError, bad_request


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f'json patch path "{path}" must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise _unprocessable(f'doc is missing path: "{path}"') from exc
    return node


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {message}")


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return copy.deepcopy(doc)
    parent = _parent(doc, parts, path)
    try:
        return copy.deepcopy(parent[int(parts[-1])] if isinstance(parent, list) else parent[parts[-1]])
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise _unprocessable(f'doc is missing key: "{path}"') from exc


def _remove(doc: Any, path: str) -> None:
    _get(doc, path)  # raises when absent, as RFC 6902 requires
    parts = _pointer(path)
    parent = _parent(doc, parts, path)
    if isinstance(parent, list):
        del parent[int(parts[-1])]
    else:
        del parent[parts[-1]]


def _add(doc: Any, path: str, value: Any, replace: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if replace:
            parent[index] = value
        else:
            parent.insert(index, value)
    elif isinstance(parent, dict):
        if replace and last not in parent:
            raise _unprocessable(f'replace operation does not apply: doc is missing key: "{path}"')
        parent[last] = value
    else:
        raise _unprocessable(f'doc is missing path: "{path}"')
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace"):
            if kind == "replace":
                _get(doc, path)
            doc = _add(doc, path, copy.deepcopy(op.get("value")), kind == "replace")
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise _unprocessable(f"testing value {path} failed")
        elif kind in ("move", "copy"):
            value = _get(doc, op.get("from", ""))
            if kind == "move":
                _remove(doc, op.get("from", ""))
            doc = _add(doc, path, value, False)
        else:
            raise bad_request(f"Unexpected kind: {kind}")
    return doc
