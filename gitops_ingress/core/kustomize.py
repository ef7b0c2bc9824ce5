"""Kustomize: an environment that holds a kustomization is what ``kubectl kustomize`` renders.

Argo CD and Flux render a folder holding ``kustomization.yaml`` (``.yml``, ``Kustomization``)
before applying it, so that is what is validated, diffed, routed and applied here too. This module
is the pure half and runs the steps; running kustomize is I/O and lives in
``gitops_ingress.kustomize`` (at the fs level), handed to ``core.build.build`` as a ``Renderer``.
The steps:

1. Gather the inputs from the tree source (``core.kustomize_inputs``): the kustomization's folder
   and every folder it names, transitively. A remote base, an absolute path, a path that leaves
   the repository, a path the tree does not hold, or ``helmCharts`` is a finding at its line, and
   nothing is rendered. Renders are cached by a content id of all their inputs.
2. Render: ``core.kustomize_render`` renders the common subset (Ingresses and Services with the
   usual transformers and patches) from the gathered bytes, each object keeping the document it
   was read from. Anything outside it goes to kustomize: the top kustomization gets
   ``buildMetadata: [originAnnotations]`` in a copy (the user's file is not changed), the
   ``Renderer`` materialises the inputs and runs kustomize with a timeout and output limit
   (``policy.limits``); those environments' renders run at the same time. A failure is one
   ``kustomize/render`` finding at the kustomization with kustomize's own message.
3. Map every object back to its origin file's positions, the fields a patch set at the patch's
   lines (``core.kustomize_origins``). Findings then name the file and line a person edits.
"""

from __future__ import annotations

import functools
import hashlib
import os
import posixpath
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from gitops_ingress.core.environments import Root
from gitops_ingress.core.errors import RenderError
from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.kustomize_inputs import Inputs, gather, kustomize_finding, repository_path
from gitops_ingress.core.kustomize_origins import Origins, with_origins
from gitops_ingress.core.kustomize_patch import Unsupported
from gitops_ingress.core.kustomize_render import render as render_subset
from gitops_ingress.core.loading import load_yaml_file
from gitops_ingress.core.objects import ParsedFile, ParseStore, parse_documents
from gitops_ingress.core.settings import LimitSettings, Settings
from gitops_ingress.core.tree import TreeSource


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
class _Job:
    """One kustomization gathered and not in the cache: what its render needs and its mapping after."""

    environment: str
    kustomization: str
    root: Root
    inputs: Inputs
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
    *,
    routes: bool = True,
) -> dict[str, Rendering]:
    """environment -> the objects its kustomization renders to, with their origins' positions.
    ``wanted``: (environment, kustomization, the root it was listed under; no input may leave its
    repository). ``cache``: renders by a content id of all their inputs (a push that changes none of
    an overlay's inputs does not run kustomize for it again). ``routes``: as ``objects.parse_documents``.

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
        here = _rendered_here(prepared, settings, shapes, routes)
        if here is not None:
            done[environment] = _finished(prepared, here, cache)
        elif renderer is None:
            message = "this folder holds a kustomization, but kustomize rendering is not available here"
            finding = kustomize_finding("kustomize/render", kustomization, message)
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
        parsed = (
            _failed(job, output) if isinstance(output, RenderError) else _mapped(job, output, settings, shapes, routes)
        )
        done[job.environment] = _finished(job, parsed, cache)
    return {environment: done[environment] for environment, _, _ in wanted}


def _failed(job: _Job, error: RenderError) -> ParsedFile:
    message = f"kustomize could not render it: {error}"
    return ParsedFile(job.kustomization, (), (), (kustomize_finding("kustomize/render", job.kustomization, message),))


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
    inputs = Inputs()
    contents: dict[str, bytes] = {}
    gather(tree, kustomization, root, limits, inputs, contents)
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


def _rendered_here(job: _Job, settings: Settings, shapes: LineShapes, routes: bool = True) -> ParsedFile | None:
    """Step 2 without kustomize (``core.kustomize_render``), with step 3's positions taken from
    the documents the objects were read from; None when kustomize is to render it."""
    limits = settings.policy.limits
    try:
        rendered = render_subset(job.kustomization, job.contents, limits, shapes)
    except Unsupported:
        return None
    except RenderError as exc:
        return _failed(job, exc)
    origins = Origins(posixpath.dirname(job.kustomization), job.contents, limits, shapes, job.inputs.patches)
    documents = [
        origins.placed(item.data, item.file, item.source, index, item.name) for index, item in enumerate(rendered)
    ]
    return parse_documents(job.kustomization, documents, (), job.environment, settings, routes=routes)


def _run(renderer: Renderer, job: _Job, limits: LimitSettings) -> bytes | RenderError:
    """Step 2: kustomize's output, or its error (returned: it becomes the job's finding)."""
    try:
        materialised = {_placed(job.root, path): data for path, data in job.contents.items()}
        materialised[_placed(job.root, job.kustomization)] = with_origins(job.contents[job.kustomization])
        return renderer(materialised, posixpath.dirname(_placed(job.root, job.kustomization)), limits)
    except RenderError as exc:
        return exc


def _mapped(job: _Job, rendered: bytes, settings: Settings, shapes: LineShapes, routes: bool = True) -> ParsedFile:
    """Step 3."""
    limits = settings.policy.limits
    big = replace(limits, max_file_bytes=limits.max_render_output_bytes, max_documents_per_file=limits.max_objects)
    loaded = load_yaml_file(job.kustomization, rendered, big, shapes=shapes)
    folder = posixpath.dirname(job.kustomization)
    origins = Origins(folder, job.contents, limits, shapes, job.inputs.patches)
    documents = [origins.locate(doc, job.kustomization) for doc in loaded.documents if isinstance(doc.data, dict)]
    return parse_documents(job.kustomization, documents, loaded.findings, job.environment, settings, routes=routes)


def _placed(root: Root, path: str) -> str:
    """Where a gathered file goes in the renderer's scratch tree (gathered files are inside)."""
    placed = repository_path(root, path)
    if placed is None:
        raise RenderError(f"{path} is outside the repository")  # kustomize_inputs refused it already
    return placed
