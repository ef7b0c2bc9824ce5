"""Kustomize: an environment that holds a kustomization is what ``kubectl kustomize`` renders.

Argo CD and Flux render a folder holding ``kustomization.yaml`` (``.yml``, ``Kustomization``)
before applying it, so that is what is validated, diffed, routed and applied here too. This module
is the pure half; running kustomize is I/O and lives in ``gitops_ingress.kustomize`` (at the fs
level), handed to ``core.build.build`` as a ``Renderer``. The steps:

1. Gather the inputs from the tree source (a folder or a git commit, never a work tree of its own):
   the kustomization's folder, and every folder its ``resources``/``bases``/``components`` name,
   transitively. An entry that is a URL (a remote base), an absolute path, a path that leaves the
   repository, or a path the tree does not hold is a finding at its line, and nothing is rendered,
   so kustomize never fetches from the network or reads a file of the host. ``helmCharts`` is
   refused the same way (the service runs no Helm).
2. Render: ``core.kustomize_render`` renders the common subset (Ingresses and Services with the
   usual transformers and patches) from the gathered bytes, each object keeping the document it
   was read from. Anything outside it goes to kustomize: the top kustomization gets
   ``buildMetadata: [originAnnotations]`` in a copy (the user's file is not changed), the
   ``Renderer`` materialises the inputs and runs kustomize with a timeout and output limit
   (``policy.limits``); those environments' renders run at the same time. A failure is one
   ``kustomize/render`` finding at the kustomization with kustomize's own message.
3. Map every object kustomize rendered back: ``config.kubernetes.io/origin`` names its source file, whose
   positions the object takes (the annotation is removed, so it is never applied); the fields a
   patch set (strategic merge or JSON 6902, with the patch's target) take the patch file's lines.
   Findings then name the file and line a person edits.
"""

from __future__ import annotations

import functools
import hashlib
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from gitops_ingress.core.environments import Root
from gitops_ingress.core.errors import RenderError, SourceError
from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.kustomize_patch import Unsupported
from gitops_ingress.core.kustomize_render import render as render_subset
from gitops_ingress.core.loading import Document, load_yaml_file, load_yaml_mapping_document
from gitops_ingress.core.models import FieldPath, SourceMap
from gitops_ingress.core.objects import ParsedFile, ParseStore, expand_lists, parse_documents
from gitops_ingress.core.settings import LimitSettings, Settings
from gitops_ingress.core.tree import KUSTOMIZATION_NAMES, TreeFile, TreeSource, is_below, relative_path

ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
_FOLDER_KEYS = ("resources", "bases", "components")
# a strategic-merge patch's fields that only say which object it patches: not set by the patch
_IDENTITY = {(), ("apiVersion",), ("kind",), ("metadata",)}
_REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://|^git@|^(github|gitlab|bitbucket)\.(com|org)/|\?ref=|\?version=", re.I)


class Renderer(Protocol):
    def __call__(self, files: Mapping[str, bytes], directory: str, limits: LimitSettings) -> bytes:
        """Render ``directory`` of the tree ``files`` (relative path -> bytes) as kustomize does;
        raises ``RenderError`` with kustomize's message."""


@dataclass(frozen=True, slots=True)
class Rendering:
    """One kustomization rendered: its objects (as one parsed file named after the kustomization),
    the files it was built from, and whether it was rendered now (by ``core.kustomize_render`` or
    kustomize; False: refused, or from the cache)."""

    parsed: ParsedFile
    inputs: tuple[str, ...]
    rendered: bool = False


@dataclass(frozen=True, slots=True)
class _Patch:
    file: str
    target: Mapping[str, Any]  # kind, name, namespace as the kustomization's target says; {} for none
    documents: tuple[Document, ...]


@dataclass(slots=True)
class _Inputs:
    files: dict[str, TreeFile] = field(default_factory=dict)
    kustomizations: list[str] = field(default_factory=list)
    patches: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)  # (file, target)
    findings: list[Finding] = field(default_factory=list)


def kustomization_in(folder: str, paths: Sequence[str] | set[str] | Mapping[str, Any]) -> str | None:
    """The kustomization file directly in ``folder``, by kustomize's order of preference."""
    for name in KUSTOMIZATION_NAMES:
        path = posixpath.join(folder, name) if folder not in ("", ".") else name
        if path in paths:
            return path
    return None


def _finding(rule: str, file: str, message: str, line: int = 0, hint: str = "") -> Finding:
    return Finding(
        rule=rule, severity=Severity.ERROR, message=message, file=file, line=line, column=1 if line else 0, hint=hint
    )


def _relpath(path: str, start: str) -> str:
    """``posixpath.relpath`` without the file system: that one resolves relative paths against
    the process's working directory, so ``../../x`` came out differently in a shallow one."""
    parts = [p for p in posixpath.normpath(path).split("/") if p not in ("", ".")]
    base = [p for p in posixpath.normpath(start).split("/") if p not in ("", ".")]
    common = 0
    while common < min(len(parts), len(base)) and parts[common] == base[common] != "..":
        common += 1
    return "/".join([".."] * (len(base) - common) + parts[common:]) or "."


def repository_path(root: Root, path: str) -> str | None:
    """A tree path listed from ``root`` as a path in its repository (the folder of
    ``gitops-ingress.yaml``, else the git top level; see ``core.environments``), or None when it
    lies outside. Without a repository (an absolute ``located``), the root is the boundary."""
    relative = _relpath(path, root.path or ".")  # both in the tree source's namespace
    located = posixpath.normpath(posixpath.join(root.located or ".", relative))
    if posixpath.isabs(root.located):
        return relative_path(root.located, located) if is_below(root.located, located) else None
    if located == ".." or located.startswith("../") or posixpath.isabs(located):
        return None
    return "" if located == "." else located


@dataclass(frozen=True, slots=True)
class _Job:
    """One kustomization gathered and not in the cache: what its render needs and its mapping after."""

    environment: str
    kustomization: str
    root: Root
    inputs: _Inputs
    contents: Mapping[str, bytes]
    content_id: str
    read: tuple[str, ...]


def render_environments(
    tree: TreeSource,
    wanted: Sequence[tuple[str, str, Root]],
    renderer: Renderer | None,
    settings: Settings,
    shapes: LineShapes,
    cache: ParseStore | None = None,
) -> dict[str, Rendering]:
    """environment -> the objects its kustomization renders to, with their origins' positions.
    ``wanted``: (environment, kustomization, the root it was listed under; no input may leave its
    repository). ``cache``: renders by a content id of all their inputs (a push that changes none of
    an overlay's inputs does not run kustomize for it again).

    Gathering and mapping run here one after another (a git tree source streams its reads through
    one process and is not shared between threads); the kustomize runs between them go at the same
    time, one thread each waiting on its child, since nearly all of a render's time is the child's
    CPU (bench/validate.py: several overlays then take the machine's cores, not one)."""
    done: dict[str, Rendering] = {}
    jobs: list[_Job] = []
    for environment, kustomization, root in wanted:
        prepared = _prepare(tree, kustomization, root, environment, settings, cache)
        if isinstance(prepared, Rendering):
            done[environment] = prepared
            continue
        here = _rendered_here(prepared, settings, shapes)
        if here is not None:
            done[environment] = _finished(prepared, here, cache)
        elif renderer is None:
            message = "this folder holds a kustomization, but kustomize rendering is not available here"
            finding = _finding("kustomize/render", kustomization, message)
            done[environment] = Rendering(ParsedFile(kustomization, (), (), (finding,)), prepared.read)
        else:
            jobs.append(prepared)  # outside core.kustomize_render's subset: kustomize renders it
    if renderer is None or not jobs:
        return {environment: done[environment] for environment, _, _ in wanted}
    limits = settings.policy.limits
    calls = [functools.partial(_run, renderer, job, limits) for job in jobs]
    if len(calls) == 1:
        outputs = [calls[0]()]
    else:
        with ThreadPoolExecutor(max_workers=min(len(calls), os.cpu_count() or 1)) as pool:
            outputs = list(pool.map(lambda call: call(), calls))
    for job, output in zip(jobs, outputs, strict=True):
        parsed = _failed(job, output) if isinstance(output, RenderError) else _mapped(job, output, settings, shapes)
        done[job.environment] = _finished(job, parsed, cache)
    return {environment: done[environment] for environment, _, _ in wanted}


def _failed(job: _Job, error: RenderError) -> ParsedFile:
    message = f"kustomize could not render it: {error}"
    return ParsedFile(job.kustomization, (), (), (_finding("kustomize/render", job.kustomization, message),))


def _finished(job: _Job, parsed: ParsedFile, cache: ParseStore | None) -> Rendering:
    if cache is not None and all(file.content_id for file in job.inputs.files.values()):
        cache.put(job.content_id, job.kustomization, parsed)
    return Rendering(parsed, job.read, rendered=True)


def _prepare(
    tree: TreeSource,
    kustomization: str,
    root: Root,
    environment: str,
    settings: Settings,
    cache: ParseStore | None,
) -> Rendering | _Job:
    """Step 1, and the cache: a Rendering when nothing is to be run (refused, or known)."""
    limits = settings.policy.limits
    inputs = _Inputs()
    contents: dict[str, bytes] = {}
    _gather(tree, kustomization, root, limits, inputs, contents)
    read = tuple(sorted(inputs.files))
    if inputs.findings:
        return Rendering(ParsedFile(kustomization, (), (), tuple(inputs.findings)), read)
    content_id = (
        "kustomize:"
        + hashlib.sha256(
            "\n".join(f"{path} {file.content_id}" for path, file in sorted(inputs.files.items())).encode()
        ).hexdigest()
    )
    known = cache.get(content_id, kustomization) if cache is not None else None
    if known is not None:
        return Rendering(known, read)
    return _Job(environment, kustomization, root, inputs, contents, content_id, read)


def _rendered_here(job: _Job, settings: Settings, shapes: LineShapes) -> ParsedFile | None:
    """Step 2 without kustomize (``core.kustomize_render``), with step 3's positions taken from
    the documents the objects were read from; None when kustomize is to render it."""
    limits = settings.policy.limits
    try:
        rendered = render_subset(job.kustomization, job.contents, limits, shapes)
    except Unsupported:
        return None
    except RenderError as exc:
        return _failed(job, exc)
    origins = _Origins(posixpath.dirname(job.kustomization), job.contents, limits, shapes, job.inputs.patches)
    documents = [
        origins.placed(item.data, item.file, item.source, index, item.name) for index, item in enumerate(rendered)
    ]
    return parse_documents(job.kustomization, documents, (), job.environment, settings)


def _run(renderer: Renderer, job: _Job, limits: LimitSettings) -> bytes | RenderError:
    """Step 2: kustomize's output, or its error (returned: it becomes the job's finding)."""
    try:
        materialised = {_placed(job.root, path): data for path, data in job.contents.items()}
        materialised[_placed(job.root, job.kustomization)] = _with_origins(job.contents[job.kustomization])
        return renderer(materialised, posixpath.dirname(_placed(job.root, job.kustomization)), limits)
    except RenderError as exc:
        return exc


def _mapped(job: _Job, rendered: bytes, settings: Settings, shapes: LineShapes) -> ParsedFile:
    """Step 3."""
    limits = settings.policy.limits
    big = limits.model_copy(
        update={"max_file_bytes": limits.max_render_output_bytes, "max_documents_per_file": limits.max_objects}
    )
    loaded = load_yaml_file(job.kustomization, rendered, big, shapes=shapes)
    folder = posixpath.dirname(job.kustomization)
    origins = _Origins(folder, job.contents, limits, shapes, job.inputs.patches)
    documents = [origins.locate(doc, job.kustomization) for doc in loaded.documents if isinstance(doc.data, dict)]
    return parse_documents(job.kustomization, documents, loaded.findings, job.environment, settings)


def _gather(
    tree: TreeSource, top: str, root: Root, limits: LimitSettings, inputs: _Inputs, contents: dict[str, bytes]
) -> None:
    """Step 1: every input of ``top``, read; or findings saying why it is not rendered."""
    queue: list[tuple[str, str, int]] = [(posixpath.dirname(top), top, 0)]  # (folder, named in, at line)
    seen: set[str] = set()
    total = 0
    while queue and not inputs.findings:
        folder, named_in, line = queue.pop()
        if folder in seen:
            continue
        seen.add(folder)
        try:
            listing = tree.list(folder, limits)
        except SourceError:
            listing = None
        found = {file.path: file for file in listing.files} if listing is not None else {}
        kustomization = kustomization_in(folder, found)
        if kustomization is None:
            if not found and (listing is None or not listing.findings):
                message = f"{folder or '.'} does not exist in the repository"
            elif folder in found:
                message = f"{folder} is a file outside the kustomization's folder, which kustomize does not load"
            else:
                message = f"{folder or '.'} holds no kustomization.yaml (or kustomization.yml, Kustomization)"
            inputs.findings.append(_finding("kustomize/missing", named_in, message, line))
            return
        fresh = [file for path, file in found.items() if path not in inputs.files]
        total += sum(file.size for file in fresh)
        if total > limits.max_render_input_bytes:
            message = f"the kustomization's inputs are over {limits.max_render_input_bytes} bytes; not rendered"
            inputs.findings.append(
                _finding("kustomize/too-large", top, message, hint="raise policy.limits.max_render_input_bytes")
            )
            return
        for path, data in tree.read(fresh).items():
            if isinstance(data, Finding):
                inputs.findings.append(data)
                return
            contents[path] = data
        inputs.files.update((file.path, file) for file in fresh)
        inputs.kustomizations.append(kustomization)
        document, problems = load_yaml_mapping_document(kustomization, contents[kustomization], limits)
        if document is None:
            inputs.findings.extend(
                problems or [_finding("kustomize/render", kustomization, "the kustomization is empty")]
            )
            return
        queue.extend(_references(document, kustomization, root, found, inputs))
        if listing is not None:
            inputs.findings.extend(f for f in listing.findings if f.severity is Severity.ERROR)


def _references(
    document: Document, kustomization: str, root: Root, found: Mapping[str, TreeFile], inputs: _Inputs
) -> list[tuple[str, str, int]]:
    """The folders a kustomization names (to gather next), its patches; findings for what is refused."""
    data: dict[str, Any] = document.data
    folder = posixpath.dirname(kustomization)
    marks = document.source.marks
    folders: list[tuple[str, str, int]] = []
    if data.get("helmCharts"):
        line = marks.get(("helmCharts",), (0, 0))[0]
        message = "helmCharts are not rendered here (no Helm is run for untrusted repositories)"
        hint = "render the chart with helm template first and commit the output as a resource"
        inputs.findings.append(_finding("kustomize/helm", kustomization, message, line, hint))
    for key in _FOLDER_KEYS:
        entries = data.get(key) or []
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            line = marks.get((key, index), (0, 0))[0]
            target = _local(entry, folder, root, kustomization, f"{key}[{index}]", line, inputs)
            if target is None or target in found:
                continue  # refused (a finding says why), or a file of this folder
            folders.append((target, kustomization, line))
    for key in ("patches", "patchesStrategicMerge", "patchesJson6902"):
        entries = data.get(key) or []
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            path = (
                entry
                if isinstance(entry, str) and "\n" not in entry
                else entry.get("path")
                if isinstance(entry, dict)
                else None
            )
            if not isinstance(path, str):
                continue  # an inline patch
            line = marks.get((key, index), (0, 0))[0]
            target = _local(path, folder, root, kustomization, f"{key}[{index}]", line, inputs)
            if target is not None:
                wanted = entry.get("target") if isinstance(entry, dict) else None
                inputs.patches.append((target, wanted if isinstance(wanted, dict) else {}))
    return folders


def _local(entry: Any, folder: str, root: Root, named_in: str, what: str, line: int, inputs: _Inputs) -> str | None:
    """A kustomization's path entry as a tree path, or None with a finding saying why it is refused."""
    if not isinstance(entry, str) or not entry:
        inputs.findings.append(_finding("kustomize/reference", named_in, f"{what} is not a path", line))
        return None
    if _REMOTE.search(entry):
        message = f"{what} is a remote base ({entry}): remote resources are not fetched"
        hint = "vendor the base into this repository and refer to it by a relative path"
        inputs.findings.append(_finding("kustomize/remote", named_in, message, line, hint))
        return None
    target = posixpath.normpath(posixpath.join(folder, entry)) if not posixpath.isabs(entry) else entry
    if posixpath.isabs(entry) or repository_path(root, target) is None:
        message = f"{what} ({entry}) is outside the repository: only files of this repository are read"
        inputs.findings.append(_finding("kustomize/outside", named_in, message, line))
        return None
    return target


def _placed(root: Root, path: str) -> str:
    """Where a gathered file goes in the renderer's scratch tree (gathered files are inside)."""
    placed = repository_path(root, path)
    if placed is None:
        raise RenderError(f"{path} is outside the repository")  # _local refused it already
    return placed


def _with_origins(data: bytes) -> bytes:
    """A copy of the top kustomization that asks kustomize to say where each object came from."""
    kustomization = yaml.safe_load(data) or {}
    metadata = kustomization.get("buildMetadata")
    wanted = list(metadata) if isinstance(metadata, list) else []
    if "originAnnotations" not in wanted:
        wanted.append("originAnnotations")
    kustomization["buildMetadata"] = wanted
    return yaml.safe_dump(kustomization, sort_keys=False).encode()


class _Origins:
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
        origin_path = _pop_origin(data)
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


def _pop_origin(data: dict[str, Any]) -> str | None:
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
