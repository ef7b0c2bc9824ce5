"""The one builder of test Kubernetes objects: plain dicts, YAML text, and broken variants.

``ingress()`` returns one valid Ingress (a rule host, Prefix paths to one Service port, in the
``gitops-ingress`` class) as the dict a client or a YAML file would carry; ``namespace()`` and
``service()`` build the other kinds the tests apply. ``to_yaml()`` renders objects as YAML in one
stable block style (keys in the order built, lists indented under their key), for files pushed to
git, written to folders or handed to kubectl.

Broken variants are spelled out at the call site with mutators that return a new object and
never change their argument (so a module-level constant stays valid): ``set_at`` sets a field at
a dotted path (``"spec.rules.0.host"``; a key the API does not know is an unknown field),
``drop`` removes one. What a dict cannot hold (a duplicate key, a tab, bad bytes) is made on the
rendered text with ``insert_line_after`` and ``indent_with_tab``. Tests that check the line of a
finding compute it from the rendered text with ``line_of``, never from this module's layout.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

Obj = dict[str, Any]

# dotted paths of the fields tests most often break, in the object ingress() builds
HOST = "spec.rules.0.host"
PATH_ENTRY = "spec.rules.0.http.paths.0"
BACKEND = f"{PATH_ENTRY}.backend"
SERVICE = f"{BACKEND}.service"


def ingress(
    name: str = "web",
    host: str = "shop.example.com",
    service: str = "web",
    *,
    namespace: str = "shop",
    path: str = "/",
    paths: Sequence[str] = (),
    path_type: str = "Prefix",
    port: int | str = 80,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    tls_secret: str = "",
    ingress_class: str = "gitops-ingress",
) -> Obj:
    """``paths`` (or the one ``path``) all go to ``service``: ``port`` is a number, or a port name
    (str). ``tls_secret``: a TLS entry for ``host``. Leave a field out with ``drop``."""
    metadata: Obj = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    port_ref = {"number": port} if isinstance(port, int) else {"name": port}
    spec: Obj = {"ingressClassName": ingress_class}
    if tls_secret:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    spec["rules"] = [
        {
            "host": host,
            "http": {
                "paths": [
                    {
                        "path": each,
                        "pathType": path_type,
                        "backend": {"service": {"name": service, "port": dict(port_ref)}},
                    }
                    for each in (paths or (path,))
                ]
            },
        }
    ]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}


def namespace(name: str, labels: Mapping[str, str] | None = None) -> Obj:
    metadata: Obj = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def service(name: str, namespace: str = "default", port: int = 80) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port}]},
    }


# -- mutators: each returns a new object -------------------------------------------------------


def _steps(path: str) -> list[str | int]:
    return [int(step) if step.isdigit() else step for step in path.split(".")]


def _parent(obj: Obj, steps: list[str | int]) -> Any:
    node: Any = obj
    for step in steps[:-1]:
        node = node[step]
    return node


def set_at(obj: Obj, path: str, value: Any) -> Obj:
    """A copy of ``obj`` with the field at ``path`` set to ``value`` (added if it was not there;
    the containers on the way must exist). Any value goes: a wrong type, None, an unknown key."""
    result = copy.deepcopy(obj)
    steps = _steps(path)
    _parent(result, steps)[steps[-1]] = copy.deepcopy(value)
    return result


def drop(obj: Obj, path: str) -> Obj:
    """A copy of ``obj`` without the field at ``path`` (which must be there)."""
    result = copy.deepcopy(obj)
    steps = _steps(path)
    del _parent(result, steps)[steps[-1]]
    return result


# -- YAML text ---------------------------------------------------------------------------------


class _BlockDumper(yaml.SafeDumper):
    """Block style with list items indented under their key, as kubectl users write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def to_yaml(*objects: Obj) -> str:
    """The objects as YAML documents, separated by ``---``."""
    return "---\n".join(
        yaml.dump(obj, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
        for obj in objects
    )


def _matches(line: str, prefix: str) -> bool:
    return line.lstrip(" -").startswith(prefix)


def line_of(text: str, prefix: str, nth: int = 1) -> int:
    """The 1-based number of the ``nth`` line that starts with ``prefix`` (indentation and list
    dashes aside): ``line_of(text, "pathType:")``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), 1):
        if _matches(line, prefix):
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(f"no line {nth} starting {prefix!r} in:\n{text}")


def column_of(text: str, prefix: str) -> int:
    """The 1-based column where the first line starting with ``prefix`` has it."""
    return text.splitlines()[line_of(text, prefix) - 1].index(prefix) + 1


def insert_line_after(text: str, prefix: str, content: str) -> str:
    """``content`` as a new line after the first line starting with ``prefix``, at its indentation
    (for what a dict cannot hold, such as a duplicate key)."""
    lines = text.splitlines(keepends=True)
    at = line_of(text, prefix)
    anchor = lines[at - 1]
    indent = " " * (len(anchor) - len(anchor.lstrip(" -")))
    lines.insert(at, f"{indent}{content}\n")
    return "".join(lines)


def indent_with_tab(text: str, prefix: str) -> str:
    """The first line starting with ``prefix`` indented with a tab instead of its spaces."""
    lines = text.splitlines(keepends=True)
    at = line_of(text, prefix) - 1
    lines[at] = "\t" + lines[at].lstrip(" ")
    return "".join(lines)
