"""Kustomize, step 1: gather a kustomization's inputs from a tree source, or say why not.

``core.kustomize`` renders an environment that holds a kustomization; before anything is rendered
its inputs are read here from the tree source (a folder or a git commit, never a work tree of its
own): the kustomization's folder, and every folder its ``resources``/``bases``/``components`` name,
transitively, plus the patch files it names (with their targets, for step 3's positions). An entry
that is a URL (a remote base), an absolute path, a path that leaves the repository, or a path the
tree does not hold is a finding at its line, and nothing is rendered, so kustomize never fetches
from the network or reads a file of the host. ``helmCharts`` is refused the same way (the service
runs no Helm). The inputs' total size is bounded by ``policy.limits.max_render_input_bytes``.

Paths are tree paths throughout; ``repository_path`` says where one lies in its repository (the
boundary nothing may leave), which is also where the renderer's scratch tree places it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitops_ingress.core.environments import Root
from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.loading import Document, load_yaml_mapping_document
from gitops_ingress.core.settings import LimitSettings
from gitops_ingress.core.tree import KUSTOMIZATION_NAMES, TreeFile, TreeSource, is_below, relative_path

_FOLDER_KEYS = ("resources", "bases", "components")
_REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://|^git@|^(github|gitlab|bitbucket)\.(com|org)/|\?ref=|\?version=", re.I)


@dataclass(slots=True)
class Inputs:
    """What gathering found: the files read, the kustomizations among them, the patch files
    named (with their targets), and the findings that stop a render."""

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


def kustomize_finding(rule: str, file: str, message: str, line: int = 0, hint: str = "") -> Finding:
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


def gather(
    tree: TreeSource, top: str, root: Root, limits: LimitSettings, inputs: Inputs, contents: dict[str, bytes]
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
            inputs.findings.append(kustomize_finding("kustomize/missing", named_in, message, line))
            return
        fresh = [file for path, file in found.items() if path not in inputs.files]
        total += sum(file.size for file in fresh)
        if total > limits.max_render_input_bytes:
            message = f"the kustomization's inputs are over {limits.max_render_input_bytes} bytes; not rendered"
            inputs.findings.append(
                kustomize_finding(
                    "kustomize/too-large", top, message, hint="raise policy.limits.max_render_input_bytes"
                )
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
                problems or [kustomize_finding("kustomize/render", kustomization, "the kustomization is empty")]
            )
            return
        queue.extend(_references(document, kustomization, root, found, inputs))
        if listing is not None:
            inputs.findings.extend(f for f in listing.findings if f.severity is Severity.ERROR)


def _references(
    document: Document, kustomization: str, root: Root, found: Mapping[str, TreeFile], inputs: Inputs
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
        inputs.findings.append(kustomize_finding("kustomize/helm", kustomization, message, line, hint))
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


def _local(entry: Any, folder: str, root: Root, named_in: str, what: str, line: int, inputs: Inputs) -> str | None:
    """A kustomization's path entry as a tree path, or None with a finding saying why it is refused."""
    if not isinstance(entry, str) or not entry:
        inputs.findings.append(kustomize_finding("kustomize/reference", named_in, f"{what} is not a path", line))
        return None
    if _REMOTE.search(entry):
        message = f"{what} is a remote base ({entry}): remote resources are not fetched"
        hint = "vendor the base into this repository and refer to it by a relative path"
        inputs.findings.append(kustomize_finding("kustomize/remote", named_in, message, line, hint))
        return None
    target = posixpath.normpath(posixpath.join(folder, entry)) if not posixpath.isabs(entry) else entry
    if posixpath.isabs(entry) or repository_path(root, target) is None:
        message = f"{what} ({entry}) is outside the repository: only files of this repository are read"
        inputs.findings.append(kustomize_finding("kustomize/outside", named_in, message, line))
        return None
    return target
