"""The file system: folders as a tree source, and where a repository's settings and root are.

The one place outside the adapters that touches the file system, kept as a leaf over core so the
CLI, the proxy's file mode (reader and watcher alike) and tests read folders the same way.

* ``FolderTree`` lists with ``core.tree``'s file filter and never follows a symlink (a link out of
  a checked-out repository could expose any file on the machine, and git stores links as paths
  anyway): a link named like a manifest, or to a folder, is an ``fs/symlink`` finding. It reads no
  more than ``max_file_bytes + 1`` bytes of a file and stops after ``max_files`` files or folders;
  each of these is a finding, never raised. A file's content id is its size and modification
  time, which is what the proxy's watcher compares between two polls.
* ``find_repository`` is the one rule for finding ``gitops-ingress.yaml`` (docs/configuration.md):
  the folder of the first path given (the current folder when there is none; the nearest existing
  folder above a path that does not exist), then each folder
  above it, up to and including the git top level (the first folder that holds ``.git``), or up
  to the file system root outside git. The folder where the search ends is the repository root
  against which the environment naming rule reads paths (``core.environments``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops_ingress.core.environments import Root, folder_name
from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.findings import Finding
from gitops_ingress.core.settings import SETTINGS_FILE, LimitSettings
from gitops_ingress.core.tree import (
    TreeFile,
    TreeListing,
    is_manifest_name,
    is_skipped_folder,
    join_path,
    listing_finding,
    too_large,
    too_many_files,
)


class FolderTree:
    """A tree source over the file system; paths are the roots as the caller wrote them."""

    def list(self, root: str, limits: LimitSettings) -> TreeListing:
        top = Path(root)
        try:
            if top.is_symlink() or not top.exists():
                raise SourceError(f"{root}: no such file or folder (symlinks are not followed)")
            if top.is_file():
                if not is_manifest_name(top.name):
                    return TreeListing()
                stat = top.stat()
                one = _file(root, stat.st_size, stat.st_mtime_ns, limits)
                return TreeListing(files=(one,)) if isinstance(one, TreeFile) else TreeListing(findings=(one,))
        except OSError as exc:
            raise SourceError(f"{root}: cannot be read: {exc.strerror or exc}") from exc
        files: list[TreeFile] = []
        findings: list[Finding] = []
        folders = 0
        stack = [(top, "")]
        while stack:
            folder, prefix = stack.pop()
            folders += 1
            if folders > limits.max_files:
                findings.append(too_many_files(root, limits.max_files))
                break
            try:
                entries = sorted(os.scandir(folder), key=lambda entry: entry.name, reverse=True)
            except OSError as exc:
                message = f"cannot list folder: {exc.strerror or exc}"
                findings.append(listing_finding("fs/unreadable", join_path(root, prefix.rstrip("/")), message))
                continue
            for entry in entries:
                path = join_path(root, prefix + entry.name)
                if entry.is_symlink():
                    if is_manifest_name(entry.name) or os.path.isdir(entry.path):
                        findings.append(_symlink(entry, path, top))
                elif entry.is_dir(follow_symlinks=False):
                    if not is_skipped_folder(entry.name):
                        stack.append((Path(entry.path), prefix + entry.name + "/"))
                elif is_manifest_name(entry.name) and entry.is_file(follow_symlinks=False):
                    if len(files) >= limits.max_files:
                        findings.append(too_many_files(root, limits.max_files))
                        return _listing(files, findings)
                    try:
                        stat = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # removed while we walked: the next listing sees the final picture
                    one = _file(path, stat.st_size, stat.st_mtime_ns, limits)
                    if isinstance(one, TreeFile):
                        files.append(one)
                    else:
                        findings.append(one)
        return _listing(files, findings)

    def read(self, files: Sequence[TreeFile]) -> dict[str, bytes | Finding]:
        return {file.path: _read(file) for file in files}


def _read(file: TreeFile) -> bytes | Finding:
    """The file's bytes, never more than the size it was listed with (which was within the limit):
    a file that grew since is refused rather than read whole; the next listing sees it."""
    try:
        with open(file.path, "rb") as handle:
            data = handle.read(file.size + 1)
    except OSError as exc:
        return listing_finding("fs/unreadable", file.path, f"cannot read file: {exc.strerror or exc}")
    if len(data) != file.size:
        return listing_finding("fs/unreadable", file.path, "the file changed while it was read; not validated")
    return data


def _file(path: str, size: int, mtime_ns: int, limits: LimitSettings) -> TreeFile | Finding:
    if size > limits.max_file_bytes:
        return too_large(path, size, limits.max_file_bytes)
    return TreeFile(path, size, f"{size}:{mtime_ns}")


def _listing(files: list[TreeFile], findings: list[Finding]) -> TreeListing:
    return TreeListing(tuple(sorted(files, key=lambda f: f.path)), tuple(findings))


def _symlink(entry: os.DirEntry[str], path: str, top: Path) -> Finding:
    try:
        target = os.readlink(entry.path)
    except OSError:
        target = "?"
    outside = not Path(entry.path).resolve().is_relative_to(top.resolve())
    where = "outside the folder" if outside else "inside the folder"
    message = f"symlink to {target} ({where}) is not followed; its content is not validated"
    return listing_finding("fs/symlink", path, message)


@dataclass(frozen=True, slots=True)
class Repository:
    """Where the settings search ended."""

    root: Path | None  # the folder of the settings file, else the git top level, else None
    settings_file: Path | None


def _upward(start: str | Path | None) -> list[Path]:
    """The folder of ``start`` (a file: its folder; missing: the nearest existing one) and every
    folder above it, up to and including the git top level (the first that holds ``.git``)."""
    folder = (Path(start) if start is not None else Path(".")).resolve()
    while not folder.is_dir():  # a file, or a path that does not exist (yet)
        folder = folder.parent
    found = [folder]
    while not (folder / ".git").exists() and folder.parent != folder:
        folder = folder.parent
        found.append(folder)
    return found


def find_repository(start: str | Path | None = None) -> Repository:
    """The settings search (see the module docstring) from ``start`` (a file: its folder)."""
    for folder in _upward(start):
        candidate = folder / SETTINGS_FILE
        if candidate.is_file() and not candidate.is_symlink():
            return Repository(folder, candidate)
        if (folder / ".git").exists():
            return Repository(folder, None)
    return Repository(None, None)


def git_top_level(start: str | Path | None = None) -> Path | None:
    """The git top level above ``start``, or None outside git."""
    top = _upward(start)[-1]
    return top if (top / ".git").exists() else None


def read_settings_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read: {exc.strerror or exc}") from exc


def folder_root(path: str, repository: Repository) -> Root:
    """A PATH given on the command line as the pipeline's naming rule sees it: located in
    ``repository`` (the one the settings came from) when it lies there, else in the repository
    that holds it. Where a PATH is located is also the boundary of its kustomize inputs
    (``core.kustomize_inputs.repository_path``), so ``diff DIR_A DIR_B`` over two clones renders
    each overlay within its own clone, not DIR_B as if it were all of its repository."""
    resolved = Path(path).resolve()
    named = resolved if resolved.is_dir() or not resolved.exists() else resolved.parent
    if repository.root is None or not resolved.is_relative_to(repository.root):
        repository = find_repository(resolved)
    located = resolved.as_posix()
    if repository.root is not None and resolved.is_relative_to(repository.root):
        located = resolved.relative_to(repository.root).as_posix()
    return Root(path, "" if located == "." else located, folder_name(named.as_posix()))
