"""Field paths and managedFields encoding: the vocabulary of server-side apply ownership.

A field path is a tuple of map keys. Lists are atomic here (owned and replaced as a whole): that is
what the API server does for every list in an Ingress (``rules``, ``paths``, ``tls`` are
``x-kubernetes-list-type: atomic``); keyed lists such as Service ``ports`` are merged by key on a
real server, which only matters when two managers share one list -- a case gitops-ingress avoids.
Ownership is encoded as FieldsV1 (``{"f:spec": {"f:rules": {}}}``) so that clients reading
``managedFields`` see the real format.
"""

from __future__ import annotations

from typing import Any

Path = tuple[str, ...]

# Identity and server-owned metadata are never owned by a field manager.
_TRACKED_METADATA = ("labels", "annotations", "finalizers", "ownerReferences")
_MISSING = object()


def leaves(obj: dict[str, Any], status_only: bool = False, with_status: bool = True) -> dict[Path, Any]:
    """Every owned leaf of ``obj`` with its value. ``status_only`` for a /status write;
    ``with_status=False`` for a main-resource write of a kind with a status subresource."""
    out: dict[Path, Any] = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata":
            if status_only or not isinstance(value, dict):
                continue
            for mkey in _TRACKED_METADATA:
                if mkey in value:
                    _walk(value[mkey], ("metadata", mkey), out)
        elif key == "status":
            if status_only or with_status:
                _walk(value, ("status",), out)
        elif not status_only:
            _walk(value, (key,), out)
    return out


def _walk(value: Any, path: Path, out: dict[Path, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _walk(sub, path + (key,), out)
    else:
        out[path] = value


def overlaps(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def value_at(obj: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def remove_at(obj: dict[str, Any], path: Path) -> None:
    """Delete the field at ``path`` and any map it leaves empty (the API server omits them)."""
    parents: list[tuple[dict[str, Any], str]] = []
    node: Any = obj
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        parents.append((node, key))
        node = node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for parent, key in reversed(parents[1:]):
        if parent[key] == {}:
            del parent[key]


def deep_merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Maps merge, everything else (lists included) replaces; None removes."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = value


def dotted(path: Path) -> str:
    return "".join(f".{key}" for key in path)


def encode(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


def decode(fields: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in fields.items():
        if not key.startswith("f:"):
            continue  # "." markers and keyed list entries: the stand-in writes neither
        path = prefix + (key[2:],)
        children = decode(sub, path) if isinstance(sub, dict) else set()
        out |= children or {path}
    return out
