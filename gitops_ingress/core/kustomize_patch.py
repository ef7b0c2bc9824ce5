"""Kustomize's patches and target selectors, for the objects ``core.kustomize_render`` renders.

Pure functions over JSON-like data (dicts, lists, scalars), each doing what kustomize v5 does for
the kinds that renderer admits (Ingress), and raising ``Unsupported`` for anything else, so the
caller falls back to ``kubectl kustomize`` and its own message (docs/dev/architecture.md,
"Kustomize"):

* ``strategic_merge``: kyaml's merge of a strategic-merge patch. Maps merge key by key; a ``null``
  removes the key (and adds nothing when it is absent); lists are replaced whole, which is what
  the Ingress schema says for ``rules``, ``tls`` and ``paths`` (``x-kubernetes-list-type:
  atomic``). Directives (``$patch``, ``$retainKeys``, ...), lists whose items kyaml would merge by
  a key (``name``, ``ip``, ...) and ``null`` in labels or annotations (kustomize writes the string
  ``"null"`` there) are not done here.
* ``json_patch``: RFC 6902's six operations, as evanphx/json-patch applies them.
* ``selects``: a patch target (group, version, kind, name, namespace as anchored regular
  expressions, against the object's original or current name and namespace; a label or annotation
  selector of equality terms).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# keys by which kyaml merges the items of a list it has no schema for (walk.AssociativeSequenceKeys)
_ASSOCIATIVE = frozenset({"mountPath", "devicePath", "ip", "type", "topologyKey", "name", "containerPort"})
_STRING_MAPS = (("metadata", "labels"), ("metadata", "annotations"))


class Unsupported(Exception):
    """The kustomization needs what this renderer does not do; ``kubectl kustomize`` renders it."""


def copy_data(value: Any) -> Any:
    """A deep copy of JSON-like data (a tenth of ``copy.deepcopy``'s time on an Ingress)."""
    if isinstance(value, dict):
        return {key: copy_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_data(item) for item in value]
    return value


def strategic_merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """Merge ``patch`` into ``target`` (an Ingress) in place."""
    _merge(target, patch, ())


def _merge(target: dict[str, Any], patch: Mapping[str, Any], at: tuple[str, ...]) -> None:
    for key, value in patch.items():
        if not isinstance(key, str) or key.startswith("$"):
            raise Unsupported(f"the strategic-merge directive {key!r}")
        here = (*at, key)
        if value is None:
            if here[:2] in _STRING_MAPS and len(here) == 3:
                raise Unsupported("a null label or annotation value in a strategic-merge patch")
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            if isinstance(current, dict):
                _merge(current, value, here)
            else:
                fresh: dict[str, Any] = {}
                _merge(fresh, value, here)
                target[key] = fresh
        elif isinstance(value, list):
            if here[0] == "metadata" or _associative(value) or _associative(target.get(key)):
                raise Unsupported(f"a strategic merge of the list {'.'.join(here)}")
            target[key] = copy_data(value)
        else:
            target[key] = value


def _associative(items: Any) -> bool:
    return isinstance(items, list) and any(isinstance(item, dict) and _ASSOCIATIVE & item.keys() for item in items)


def json_patch(document: dict[str, Any], operations: Sequence[Any]) -> dict[str, Any]:
    """``document`` with RFC 6902 ``operations`` applied (a new object; ``document`` is kept)."""
    result: Any = copy_data(document)
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("path"), str):
            raise Unsupported("a JSON 6902 operation without a path")
        op, path = operation.get("op"), _pointer(operation["path"])
        if op in ("add", "replace", "test") and "value" not in operation:
            raise Unsupported(f"a JSON 6902 {op} without a value")
        if op == "add":
            result = _add(result, path, copy_data(operation["value"]))
        elif op == "remove":
            _remove(result, path)
        elif op == "replace":
            _remove(result, path)
            result = _add(result, path, copy_data(operation["value"]))
        elif op in ("move", "copy"):
            source = operation.get("from")
            if not isinstance(source, str):
                raise Unsupported(f"a JSON 6902 {op} without from")
            value = copy_data(_get(result, _pointer(source)))
            if op == "move":
                _remove(result, _pointer(source))
            result = _add(result, path, value)
        elif op == "test":
            if not _same(_get(result, path), operation["value"]):
                raise Unsupported("a JSON 6902 test that fails")
        else:
            raise Unsupported(f"the JSON 6902 operation {op!r}")
    if not isinstance(result, dict):
        raise Unsupported("a JSON 6902 patch that replaces the whole object")
    return result


def _same(one: Any, other: Any) -> bool:
    """JSON equality as Go decodes it: numbers by value, but ``true`` is not ``1``."""
    if isinstance(one, bool) or isinstance(other, bool):
        return type(one) is type(other) and one == other
    if isinstance(one, dict) and isinstance(other, dict):
        return one.keys() == other.keys() and all(_same(one[key], other[key]) for key in one)
    if isinstance(one, list) and isinstance(other, list):
        return len(one) == len(other) and all(_same(a, b) for a, b in zip(one, other, strict=True))
    return bool(one == other) and (isinstance(one, str) == isinstance(other, str))


def _pointer(text: str) -> list[str]:
    if text == "":
        return []
    if not text.startswith("/"):
        raise Unsupported(f"the JSON pointer {text!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/")]


def _index(items: list[Any], part: str, adding: bool) -> int:
    if part == "-" and adding:
        return len(items)
    if not part.isdigit() or (len(part) > 1 and part.startswith("0")):
        raise Unsupported(f"the list index {part!r}")
    index = int(part)
    if index > len(items) or (index == len(items) and not adding):
        raise Unsupported(f"the list index {index} past the end")
    return index


def _parent(document: Any, path: list[str]) -> Any:
    return _get(document, path[:-1])


def _get(document: Any, path: list[str]) -> Any:
    current = document
    for part in path:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list):
            current = current[_index(current, part, adding=False)]
        else:
            raise Unsupported(f"the JSON pointer /{'/'.join(path)}, which is not in the object")
    return current


def _add(document: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _parent(document, path)
    if isinstance(parent, dict):
        parent[path[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, path[-1], adding=True), value)
    else:
        raise Unsupported(f"the JSON pointer /{'/'.join(path)}, whose parent is not an object or list")
    return document


def _remove(document: Any, path: list[str]) -> None:
    if not path:
        raise Unsupported("a JSON 6902 remove of the whole object")
    parent = _parent(document, path)
    if isinstance(parent, dict) and path[-1] in parent:
        del parent[path[-1]]
    elif isinstance(parent, list):
        del parent[_index(parent, path[-1], adding=False)]
    else:
        raise Unsupported(f"the JSON pointer /{'/'.join(path)}, which is not in the object")


def selects(target: Mapping[str, Any], data: Mapping[str, Any], names: Sequence[tuple[str, str]]) -> bool:
    """Whether a patch ``target`` selects the object ``data``; ``names``: its (namespace, name)
    when it was read and now (kustomize matches either; an empty namespace is ``default``)."""
    unknown = target.keys() - {"group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"}
    if unknown:
        raise Unsupported(f"the patch target field {sorted(unknown)[0]}")
    api_version = str(data.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    checks = (("group", group), ("version", version), ("kind", str(data.get("kind", ""))))
    if not all(_matches(target.get(key), value) for key, value in checks):
        return False
    if not any(_matches(target.get("namespace"), namespace or "default") for namespace, _ in names):
        return False
    if not any(_matches(target.get("name"), name) for _, name in names):
        return False
    metadata = data.get("metadata") or {}
    return _selected(target.get("labelSelector"), metadata.get("labels")) and _selected(
        target.get("annotationSelector"), metadata.get("annotations")
    )


def _matches(pattern: Any, value: str) -> bool:
    if pattern is None or pattern == "":
        return True
    if not isinstance(pattern, str):
        raise Unsupported("a patch target that is not a string")
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error as exc:
        raise Unsupported(f"the target pattern {pattern!r}") from exc


_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9][-A-Za-z0-9_./]*)\s*(?:(==|=|!=)\s*([-A-Za-z0-9_.]*))?\s*$")


def _selected(selector: Any, labels: Any) -> bool:
    """A label selector of equality and existence terms (``a=b,c!=d,e,!f``); set terms (``in``,
    ``notin``) are not done here."""
    if selector is None or selector == "":
        return True
    if not isinstance(selector, str) or "(" in selector:
        raise Unsupported("a set-based label selector in a patch target")
    present: Mapping[str, Any] = labels if isinstance(labels, dict) else {}
    for term in selector.split(","):
        match = _TERM.match(term)
        if match is None:
            raise Unsupported(f"the selector term {term!r}")
        negated, key, operator, value = match.groups()
        if operator is None:
            if (key in present) == bool(negated):
                return False
        elif negated:
            raise Unsupported(f"the selector term {term!r}")
        elif operator == "!=":
            if key in present and str(present[key]) == value:
                return False
        elif key not in present or str(present[key]) != value:
            return False
    return True
