"""Kustomize, step 3: map each rendered object back to the file and line a person edits.

kustomize's output names no positions. The top kustomization is handed to kustomize with
``buildMetadata: [originAnnotations]`` added to a copy (``with_origins``; the user's file is not
changed), so ``config.kubernetes.io/origin`` names each object's source file; the object takes the
positions of its document there (same kind, the longest name inside the rendered name, since
namePrefix and nameSuffix only add to it), and the annotation is removed so it is never applied.
The fields a patch set (strategic merge, or JSON 6902 with the patch's target) take the patch
file's lines instead. ``core.kustomize_render``'s output keeps the document each object was read
from, so it goes through the same ``Origins.placed`` rule for patches.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.loading import Document, load_yaml_file
from gitops_ingress.core.models import FieldPath, SourceMap
from gitops_ingress.core.objects import expand_lists
from gitops_ingress.core.settings import LimitSettings

ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
# a strategic-merge patch's fields that only say which object it patches: not set by the patch
_IDENTITY = {(), ("apiVersion",), ("kind",), ("metadata",)}


@dataclass(frozen=True, slots=True)
class _Patch:
    file: str
    target: Mapping[str, Any]  # kind, name, namespace as the kustomization's target says; {} for none
    documents: tuple[Document, ...]


def with_origins(data: bytes) -> bytes:
    """A copy of the top kustomization that asks kustomize to say where each object came from."""
    kustomization = yaml.safe_load(data) or {}
    metadata = kustomization.get("buildMetadata")
    wanted = list(metadata) if isinstance(metadata, list) else []
    if "originAnnotations" not in wanted:
        wanted.append("originAnnotations")
    kustomization["buildMetadata"] = wanted
    return yaml.safe_dump(kustomization, sort_keys=False).encode()


class Origins:
    """Step 3: rendered documents -> documents with the positions of the files they came from."""

    def __init__(
        self,
        folder: str,
        contents: Mapping[str, bytes],
        limits: LimitSettings,
        shapes: LineShapes,
        patches: Sequence[tuple[str, Mapping[str, Any]]],
    ) -> None:
        self._folder, self._contents, self._limits, self._shapes = folder, contents, limits, shapes
        self._loaded: dict[str, list[Document]] = {}
        self._patches = [_Patch(path, target, tuple(self._documents(path))) for path, target in patches]

    def _documents(self, path: str) -> list[Document]:
        if path not in self._loaded:
            data = self._contents.get(path)
            loaded = load_yaml_file(path, data, self._limits, shapes=self._shapes).documents if data is not None else ()
            self._loaded[path] = [doc for doc in loaded if doc.data is not None]
        return self._loaded[path]

    def locate(self, document: Document, kustomization: str) -> Document:
        data: dict[str, Any] = document.data
        origin_path = pop_origin(data)
        if origin_path is None:  # generated (a configMapGenerator): its kustomization is its origin
            return Document(data, SourceMap(kustomization, {(): (1, 1)}), document.index, 1)
        path = posixpath.normpath(posixpath.join(self._folder, origin_path))
        source = _matching(expand_lists(self._documents(path), []), data)
        if source is None:
            return Document(data, SourceMap(path, {(): (1, 1)}), document.index, 1)
        return self.placed(data, path, source, document.index, _name(source.data))

    def placed(self, data: dict[str, Any], path: str, source: Document, index: int, name: str) -> Document:
        """``data`` at the positions of ``source`` (a document of ``path`` named ``name``), the
        fields a patch set at the patch's."""
        patched = [(patch.file, found) for patch in self._patches for found in _patched(patch, data, name)]
        if not patched and source.source.file == path:  # its own positions, still read lazily
            return Document(data, source.source, index, source.line)
        marks: dict[FieldPath, tuple[int, int]] = dict(source.source.marks)
        origins: dict[FieldPath, str] = {}
        for file, (field_path, mark) in patched:
            marks[field_path] = mark
            origins[field_path] = file
        return Document(data, SourceMap(path, marks, origins), index, source.line)


def pop_origin(data: dict[str, Any]) -> str | None:
    metadata = data.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict) or ORIGIN_ANNOTATION not in annotations:
        return None
    origin = annotations.pop(ORIGIN_ANNOTATION)
    if not annotations and isinstance(metadata, dict):
        del metadata["annotations"]
    if not isinstance(origin, str):
        return None
    # kustomize writes "path: <file>" first, plain or quoted; a YAML parse per object would cost a
    # fifth of a render's mapping (measured on bench/validate.py's kustomize layout)
    for line in origin.splitlines():
        if line.startswith("path: "):
            value = line[len("path: ") :].strip()
            if value[:1] in ("'", '"'):
                try:
                    value = yaml.safe_load(value)
                except yaml.YAMLError:
                    return None
            return value if isinstance(value, str) and value else None
    return None


def _name(data: Any) -> str:
    metadata = data.get("metadata") if isinstance(data, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def _matching(documents: Sequence[Document], rendered: Mapping[str, Any]) -> Document | None:
    """The source document of a rendered object: same kind, and its name inside the rendered name
    (namePrefix and nameSuffix only add to it); else the first of the same kind."""
    kind, name = rendered.get("kind"), _name(rendered)
    same = [doc for doc in documents if doc.data.get("kind") == kind]
    named = [doc for doc in same if _name(doc.data) and _name(doc.data) in name]
    best = max(named, key=lambda doc: len(_name(doc.data)), default=None)
    return best or (same[0] if same else (documents[0] if documents else None))


def _targets(target: Mapping[str, Any], rendered: Mapping[str, Any], name: str) -> bool:
    for key, value in (("kind", rendered.get("kind")), ("name", name)):
        wanted = target.get(key)
        if isinstance(wanted, str) and not _matches(wanted, value):
            return False
    return True


def _matches(pattern: str, value: Any) -> bool:
    try:
        return re.fullmatch(pattern, str(value)) is not None
    except re.error:
        return pattern == str(value)


def _patched(patch: _Patch, rendered: Mapping[str, Any], name: str) -> list[tuple[FieldPath, tuple[int, int]]]:
    """The fields of ``rendered`` that ``patch`` set, with their place in the patch file."""
    if patch.target and not _targets(patch.target, rendered, name):
        return []
    found: list[tuple[FieldPath, tuple[int, int]]] = []
    for document in patch.documents:
        if isinstance(document.data, list):  # JSON 6902: a list of operations
            if not patch.target:
                continue
            for index, operation in enumerate(document.data):
                if not isinstance(operation, dict) or not isinstance(operation.get("path"), str):
                    continue
                at = _pointer(operation["path"])
                prefix: FieldPath = (index, "value")
                for key, mark in document.source.marks.items():
                    if key[:2] == prefix:
                        found.append(((*at, *key[2:]), mark))
                    elif key == (index,):
                        found.append((at, mark))
        elif isinstance(document.data, dict):  # strategic merge: names its object itself
            if not patch.target and not (
                document.data.get("kind") == rendered.get("kind") and _name(document.data) == name
            ):
                continue
            found.extend(
                (key, mark)
                for key, mark in document.source.marks.items()
                if key not in _IDENTITY and key[:2] != ("metadata", "name")
            )
    return found


def _pointer(pointer: str) -> FieldPath:
    """A JSON pointer (``/spec/rules/0/host``) as a field path."""
    parts: list[str | int] = []
    for raw in pointer.strip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        parts.append(int(part) if part.isdigit() else part)
    return tuple(part for part in parts if part != "")
