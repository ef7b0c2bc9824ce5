"""Listing a folder of a commit straight from git tree objects, with limits and findings.

The walk is a plain function over two callables (the entries of a tree, the size of a blob) so the
reader can put caches in front of both: branches share most of their subtrees, so after the first
branch, listing another is mostly dictionary look-ups. Sizes come from the object header, never
from reading the blob, so a 50 MB file costs the same as a 50-byte one. The walk is iterative with
a bound on files and folders, so a hostile tree (100,000 files, deep nesting) ends with a finding
instead of exhausting memory or the stack. Symlinks (mode 120000) and submodules (mode 160000) are
reported and never followed.

Rule ids are those of ``gitops_ingress.fs`` (and the loader's ``yaml/too-large``), so a problem reads
the same whether the files came from a folder or from git. One difference: ``max_files`` counts
every file walked here, not only YAML files, because it bounds the work of the walk itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gitops_ingress.core.config import YAML_SUFFIXES
from gitops_ingress.core.findings import Finding, Severity

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
class TreeListing:
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
) -> TreeListing:
    """List the YAML blobs below ``root`` (a tree, or a single file), whose repo path is ``prefix``."""
    found: dict[str, BlobEntry] = {}
    findings: list[Finding] = []
    if mode & MODE_KIND != MODE_TREE:
        _file(prefix, root, mode, size, max_file_bytes, found, findings)
        return TreeListing(entries=found, findings=tuple(findings))
    files = folders = 0
    stack: list[tuple[bytes, str]] = [(root, prefix)]
    while stack and files <= max_files and folders <= max_files:
        tree, folder = stack.pop()
        folders += 1
        try:
            children = entries(tree)
        except BadTree as exc:
            findings.append(_finding("fs/bad-tree", folder, f"unreadable git tree: {exc}"))
            continue
        # reversed so that popping from the stack visits folders in git's (sorted) order
        for binsha, child_mode, name in reversed(children):
            path = f"{folder}/{name}" if folder else name
            if child_mode & MODE_KIND == MODE_TREE:
                stack.append((binsha, path))
                continue
            files += 1
            if files > max_files:
                break
            _file(path, binsha, child_mode, size, max_file_bytes, found, findings)
    if files > max_files or folders > max_files:
        message = f"more than {max_files} files or folders below {prefix or 'the root'}; listing stopped there"
        findings.append(_finding("fs/too-many-files", prefix, message))
    return TreeListing(
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
        findings.append(_finding("fs/symlink", path, message))
    elif kind == MODE_GITLINK:
        message = f"submodule (commit {binsha.hex()[:12]}): its files are not read"
        findings.append(_finding("fs/submodule", path, message))
    elif path.endswith(YAML_SUFFIXES):
        blob_size = size(binsha)
        if blob_size > max_file_bytes:
            message = f"the file is {blob_size} bytes, more than the limit of {max_file_bytes} bytes; it was not read"
            findings.append(_finding("yaml/too-large", path, message))
        else:
            found[path] = BlobEntry(binsha.hex(), blob_size, mode)


# rule -> (severity, hint); the rule ids are those gitops_ingress.fs and the loader use
_RULES: dict[str, tuple[Severity, str]] = {
    "fs/symlink": (Severity.ERROR, "commit the file itself instead of a link to it"),
    "fs/submodule": (Severity.WARNING, "commit the Ingress files into this repository"),
    "fs/bad-tree": (Severity.ERROR, "the repository is damaged; run git fsck on it"),
    "fs/too-many-files": (Severity.ERROR, "remove files or raise policy.limits.max_files"),
    "yaml/too-large": (Severity.ERROR, "split it into smaller files or raise policy.limits.max_file_bytes"),
}


def _finding(rule: str, path: str, message: str) -> Finding:
    severity, hint = _RULES[rule]
    return Finding(rule=rule, severity=severity, message=message, file=path, hint=hint)
