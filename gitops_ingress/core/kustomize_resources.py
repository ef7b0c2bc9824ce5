"""Kustomize without kustomize, its inputs: the render's files read once, as objects and fields.

``core.kustomize_render`` builds a kustomization from the bytes ``core.kustomize_inputs`` gathered.
What it reads goes through here: ``Reader`` loads each file once (an object used twice, as by two
overlays of one base, is read again: the first use has changed it), counts the bytes of every
resource file once per use against ``policy.limits.max_render_output_bytes`` (about what
kustomize would write, so a base included over and over is refused as kustomize's run would be),
and turns documents into ``Resource``s: Ingresses and ``v1`` Services with a name and labels and
annotations of strings only (kustomize writes a null one as the string ``"null"``). A
kustomization is read the same way, refusing any field outside the subset. Whatever is not of the
subset raises ``Unsupported``, and kustomize renders that kustomization instead.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_ingress.core.errors import RenderError
from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.kustomize_patch import Unsupported
from gitops_ingress.core.loading import Document, load_yaml_file
from gitops_ingress.core.settings import LimitSettings

_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "resources",
        "bases",
        "namespace",
        "namePrefix",
        "nameSuffix",
        "commonLabels",
        "labels",
        "commonAnnotations",
        "patches",
        "patchesStrategicMerge",
        "patchesJson6902",
        "images",
        "buildMetadata",
    }
)
_KINDS = frozenset(
    {
        ("networking.k8s.io/v1", "Ingress"),
        ("networking.k8s.io/v1beta1", "Ingress"),
        ("extensions/v1beta1", "Ingress"),
        ("v1", "Service"),
    }
)


@dataclass(frozen=True, slots=True)
class Resource:
    """An object being rendered: its data (changed by the transformers), where it was read, its ids."""

    data: dict[str, Any]
    file: str
    source: Document
    ids: tuple[tuple[str, str], ...]  # (namespace, name) as read, then after each change


@dataclass(slots=True)
class Reader:
    """The files of one render, each loaded once; an object used twice (two overlays of one base
    in the same render) gets a copy the second time."""

    contents: Mapping[str, bytes]
    limits: LimitSettings
    shapes: LineShapes
    loaded: dict[str, list[Document]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    output: int = 0  # the bytes of every resource file, once per use: about what kustomize writes

    def documents(self, path: str) -> list[Document]:
        if path not in self.loaded:
            self.loaded[path] = self._load(path)
        return self.loaded[path]

    def _load(self, path: str) -> list[Document]:
        data = self.contents.get(path)
        if data is None:
            raise Unsupported(f"{path} is not among the files read")
        loaded = load_yaml_file(path, data, self.limits, shapes=self.shapes)
        if loaded.findings:
            raise Unsupported(f"{path} is not clean YAML")
        return [doc for doc in loaded.documents if doc.data is not None]

    def resources(self, path: str) -> list[Resource]:
        """The objects of a resource file, to be changed by the transformers: read again when the
        render uses the file a second time (the first use has changed the first reading)."""
        self.output += len(self.contents.get(path, b""))
        if self.output > self.limits.max_render_output_bytes:
            raise over_output_limit(self.limits)  # a base used over and over: as kustomize's run would be
        documents = self._load(path) if path in self.used else self.documents(path)
        self.used.add(path)
        return [to_resource(doc, path) for doc in documents]


def over_output_limit(limits: LimitSettings) -> RenderError:
    limit = limits.max_render_output_bytes
    return RenderError(f"the rendered output is over {limit} bytes (policy.limits.max_render_output_bytes)")


def to_resource(document: Document, path: str) -> Resource:
    data = document.data
    if not isinstance(data, dict):
        raise Unsupported(f"{path}: a document that is not a mapping")
    if (data.get("apiVersion"), data.get("kind")) not in _KINDS:
        raise Unsupported(f"{path}: a {data.get('kind')!r} of {data.get('apiVersion')!r}, not an Ingress or Service")
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        raise Unsupported(f"{path}: an object without a name")
    namespace = metadata.get("namespace", "")
    if not isinstance(namespace, str):
        raise Unsupported(f"{path}: a namespace that is not a string")
    for key in ("labels", "annotations"):
        check_strings(metadata.get(key, {}), f"{path}: metadata.{key}")
    return Resource(data, path, document, ((namespace, metadata["name"]),))


def check_strings(values: Any, what: str) -> None:
    """Labels and annotations of strings only: kustomize writes a null one as the string "null"."""
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise Unsupported(f"{what} is not a mapping of strings")


def read_kustomization(path: str, reader: Reader) -> dict[str, Any]:
    documents = reader.documents(path)
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        raise Unsupported(f"{path} is not one mapping")
    data: dict[str, Any] = documents[0].data
    unknown = data.keys() - _FIELDS
    if unknown:
        raise Unsupported(f"{path} uses {sorted(unknown)[0]}")
    if data.get("kind", "Kustomization") != "Kustomization":
        raise Unsupported(f"{path} is a {data.get('kind')}")
    if data.get("apiVersion", "kustomize.config.k8s.io/v1beta1") != "kustomize.config.k8s.io/v1beta1":
        raise Unsupported(f"{path} has apiVersion {data.get('apiVersion')}")
    if not set(list_field(data, "buildMetadata")) <= {"originAnnotations"}:
        raise Unsupported(f"{path} asks for build metadata other than originAnnotations")
    return data


def list_field(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unsupported(f"{key} is not a list")
    return value


def string_field(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Unsupported(f"{key} is not a string")
    return value


def strings_field(data: Mapping[str, Any], key: str) -> dict[str, str]:
    value = data.get(key)
    if value is None:
        return {}
    check_strings(value, key)
    return dict(value)


def below(folder: str, entry: Any) -> str:
    """A path a kustomization names, as a path of the tree, inside its folder for a file."""
    if not isinstance(entry, str) or not entry or posixpath.isabs(entry):
        raise Unsupported(f"the entry {entry!r}")
    return posixpath.normpath(posixpath.join(folder, entry))


def inside(folder: str, path: str) -> bool:
    return folder in ("", ".") or path.startswith(folder.rstrip("/") + "/")
