"""Tree sources: the one interface between where Ingress files live and the pipeline.

A tree source lists the manifest files below a root (with their size and a content id) and reads
one; the listing also carries the findings it made on the way (a symlink, a submodule, a file over
the size limit, too many files). A folder on disk (``gitops_ingress.fs.FolderTree``), a commit in
git (``gitops_ingress.gitrepo.CommitTree``) and a mapping in memory (``MemoryTree``, for tests and
the demo) implement it, and ``core.build.build`` is the only consumer, so every command and the
sync engine read files the same way.

The file filter is defined here once, and every source and the proxy's file watcher use it: a
manifest is a ``*.yaml``/``*.yml``/``*.json`` file other than the settings file, or a
kustomization (``Kustomization`` has no suffix; ``core.kustomize`` renders the folders that hold one); folders whose name starts
with a dot (``.git``, ``.github``, an editor's ``.backup/``) are skipped; a symlink is never
followed and is reported as ``fs/symlink``. The finding rules of a listing are defined here too
(``listing_finding``), so a problem reads the same whether the files came from a folder or git.

Paths are POSIX strings in the source's own namespace: as the user wrote them for a folder,
repository-relative for git. ``join_path`` and ``relative_path`` are the one convention for the
path of a file below a root (a root of ``""`` or ``.`` adds no prefix; a root that is a file is
its own only path).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.settings import SETTINGS_FILE, LimitSettings

YAML_SUFFIXES = (".yaml", ".yml")
MANIFEST_SUFFIXES = (*YAML_SUFFIXES, ".json")  # kubectl and Argo CD read JSON manifests too
# the names kustomize looks for in a folder, in its order of preference
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def is_manifest_name(name: str) -> bool:
    """The file filter: which file names hold Ingress manifests (or a kustomization)."""
    return (name.endswith(MANIFEST_SUFFIXES) and name != SETTINGS_FILE) or name == "Kustomization"


def is_skipped_folder(name: str) -> bool:
    """The folder filter: hidden folders (``.git`` among them) are neither read nor watched."""
    return name.startswith(".")


@dataclass(frozen=True, slots=True)
class TreeFile:
    path: str
    size: int
    # Changes whenever the bytes do. Git: the blob SHA, so equal ids mean equal bytes and the sync
    # engine's parse cache may skip reading; a folder: size and modification time (a change mark).
    content_id: str


@dataclass(frozen=True, slots=True)
class TreeListing:
    files: tuple[TreeFile, ...] = ()  # sorted by path
    findings: tuple[Finding, ...] = ()


class TreeSource(Protocol):
    def list(self, root: str, limits: LimitSettings) -> TreeListing:
        """Every manifest below ``root`` (a folder, or one file). A root that does not exist is a
        SourceError for a folder and an empty listing for a commit (it may have no environments)."""

    def read(self, files: Sequence[TreeFile]) -> dict[str, bytes | Finding]:
        """Listed files' bytes by path, all in one call (a git source streams them in one batch);
        a file that could not be read after all has a finding saying why instead."""


def join_path(root: str, relative: str) -> str:
    if not relative:
        return root
    if root in ("", "."):
        return relative
    return f"{root.rstrip('/')}/{relative}"


def is_below(root: str, path: str) -> bool:
    """``path`` is ``root`` itself or a path below it."""
    return root in ("", ".") or path == root or path.startswith(root.rstrip("/") + "/")


def relative_path(root: str, path: str) -> str:
    """The inverse of ``join_path``: ``path`` below ``root`` ("" for the root itself)."""
    if path == root:
        return ""
    if root in ("", "."):
        return path
    return path[len(root.rstrip("/")) + 1 :]


# rule -> (severity, hint): the findings a listing or a read can make, whatever the source
_LISTING_RULES: dict[str, tuple[Severity, str]] = {
    "fs/symlink": (Severity.ERROR, "replace the link with the file itself"),
    "fs/submodule": (Severity.WARNING, "commit the Ingress files into this repository"),
    "fs/bad-tree": (Severity.ERROR, "the repository is damaged; run git fsck on it"),
    "fs/unreadable": (Severity.ERROR, "check the file's permissions"),
    "fs/too-many-files": (Severity.ERROR, "remove files, split the repository or raise policy.limits.max_files"),
    "yaml/too-large": (Severity.ERROR, "split it into smaller files or raise policy.limits.max_file_bytes"),
}


def listing_finding(rule: str, path: str, message: str) -> Finding:
    severity, hint = _LISTING_RULES[rule]
    return Finding(rule=rule, severity=severity, message=message, file=path, hint=hint)


def too_large(path: str, size: int, max_file_bytes: int) -> Finding:
    message = f"the file is {size} bytes, more than the limit of {max_file_bytes} bytes; it was not read"
    return listing_finding("yaml/too-large", path, message)


def too_many_files(path: str, max_files: int) -> Finding:
    message = f"more than {max_files} YAML files or folders below {path or 'the root'}; listing stopped there"
    return listing_finding("fs/too-many-files", path, message)


class MemoryTree:
    """A tree source over ``path -> bytes`` held in memory (tests, the demo), content-addressed
    like git: a file's content id is the SHA-256 of its bytes."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self._files = dict(files)

    def list(self, root: str, limits: LimitSettings) -> TreeListing:
        found: list[TreeFile] = []
        findings: list[Finding] = []
        for path in sorted(self._files):
            if not is_below(root, path):
                continue
            parts = path.split("/")
            if not is_manifest_name(parts[-1]) or any(is_skipped_folder(p) for p in parts[:-1]):
                continue
            if len(found) >= limits.max_files:
                findings.append(too_many_files(root, limits.max_files))
                break
            size = len(self._files[path])
            if size > limits.max_file_bytes:
                findings.append(too_large(path, size, limits.max_file_bytes))
            else:
                found.append(TreeFile(path, size, hashlib.sha256(self._files[path]).hexdigest()))
        return TreeListing(tuple(found), tuple(findings))

    def read(self, files: Sequence[TreeFile]) -> dict[str, bytes | Finding]:
        return {file.path: self._files[file.path] for file in files}
