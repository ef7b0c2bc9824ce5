"""Listing a folder of a commit straight from git tree objects, with limits and findings.

The walk is a plain function over two callables (the entries of a tree, the size of a blob) so the
reader can put caches in front of both: branches share most of their subtrees, so after the first
branch, listing another is mostly dictionary look-ups. Sizes come from the object header, never
from reading the blob, so a 50 MB file costs the same as a 50-byte one. The walk is iterative with
a bound on files and folders, so a hostile tree (100,000 files, deep nesting) ends with a finding
instead of exhausting memory or the stack. Symlinks (mode 120000) and submodules (mode 160000) are
reported and never followed.

Which files count and which folders are skipped is ``core.tree``'s one file filter, and the findings
are ``core.tree``'s, so a problem reads the same whether the files came from a folder or from git.
``gitrepo.source.CommitTree`` turns a listing into the pipeline's ``TreeSource``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gitops_ingress.core.findings import Finding
from gitops_ingress.core.tree import is_manifest_name, is_skipped_folder, listing_finding, too_large, too_many_files

MODE_TREE = 0o040000
MODE_SYMLINK = 0o120000
MODE_GITLINK = 0o160000
MODE_FILE = 0o100000
MODE_KIND = 0o170000  # the bits of a mode that say what kind of entry it is

# (binary object id, mode, name) as git stores a tree entry
RawEntry = tuple[bytes, int, str]


class BadTree(Exception):
    """A tree object that could not be parsed (raised by the entries callable)."""


@dataclass(frozen=True, slots=True)
class BlobEntry:
    sha: str
    size: int
    mode: int = 0o100644


@dataclass(frozen=True, slots=True)
class GitTreeListing:
    """YAML files below a folder of one commit: repo-relative POSIX path -> blob."""

    entries: Mapping[str, BlobEntry]
    findings: tuple[Finding, ...] = ()
    tree: str | None = None  # id of the folder's tree; None when the commit has no such folder


def walk_tree(
    root: bytes,
    mode: int,
    prefix: str,
    *,
    entries: Callable[[bytes], Sequence[RawEntry]],
    size: Callable[[bytes], int],
    max_file_bytes: int,
    max_files: int,
) -> GitTreeListing:
    """List the YAML blobs below ``root`` (a tree, or a single file), whose repo path is ``prefix``."""
    found: dict[str, BlobEntry] = {}
    findings: list[Finding] = []
    if mode & MODE_KIND != MODE_TREE:
        _file(prefix, root, mode, size, max_file_bytes, found, findings)
        return GitTreeListing(entries=found, findings=tuple(findings))
    files = folders = 0
    stack: list[tuple[bytes, str]] = [(root, prefix)]
    while stack and files <= max_files and folders <= max_files:
        tree, folder = stack.pop()
        folders += 1
        try:
            children = entries(tree)
        except BadTree as exc:
            findings.append(listing_finding("fs/bad-tree", folder, f"unreadable git tree: {exc}"))
            continue
        # reversed so that popping from the stack visits folders in git's (sorted) order
        for binsha, child_mode, name in reversed(children):
            path = f"{folder}/{name}" if folder else name
            if child_mode & MODE_KIND == MODE_TREE:
                if not is_skipped_folder(name):
                    stack.append((binsha, path))
                continue
            if child_mode & MODE_KIND == MODE_FILE and not is_manifest_name(name):
                continue
            files += 1
            if files > max_files:
                break
            _file(path, binsha, child_mode, size, max_file_bytes, found, findings)
    if files > max_files or folders > max_files:
        findings.append(too_many_files(prefix, max_files))
    return GitTreeListing(
        entries=dict(sorted(found.items())),
        findings=tuple(sorted(findings, key=Finding.sort_key)),
        tree=root.hex(),
    )


def _file(
    path: str,
    binsha: bytes,
    mode: int,
    size: Callable[[bytes], int],
    max_file_bytes: int,
    found: dict[str, BlobEntry],
    findings: list[Finding],
) -> None:
    kind = mode & MODE_KIND
    if kind == MODE_SYMLINK:
        message = "symbolic link: not followed, so whatever it points at is not part of this environment"
        findings.append(listing_finding("fs/symlink", path, message))
    elif kind == MODE_GITLINK:
        message = f"submodule (commit {binsha.hex()[:12]}): its files are not read"
        findings.append(listing_finding("fs/submodule", path, message))
    elif is_manifest_name(path.rsplit("/", 1)[-1]):
        blob_size = size(binsha)
        if blob_size > max_file_bytes:
            findings.append(too_large(path, blob_size, max_file_bytes))
        else:
            found[path] = BlobEntry(binsha.hex(), blob_size, mode)
