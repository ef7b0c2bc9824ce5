"""One commit as the pipeline's tree source (``core.tree.TreeSource``).

Listing goes through the reader's cached tree walk; each file's content id is its blob SHA, so
the sync engine's parse cache recognises a file it has parsed before on any branch and neither
reads nor parses it again. Reads are of immutable objects, so a ``CommitTree`` may be shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from gitops_ingress.core.findings import Finding
from gitops_ingress.core.settings import LimitSettings
from gitops_ingress.core.tree import TreeFile, TreeListing
from gitops_ingress.gitrepo.tree import GitTreeListing as GitListing


class _Objects(Protocol):
    def list_tree(self, sha: str, root: str, *, max_file_bytes: int, max_files: int) -> GitListing: ...

    def read_blobs(self, shas: Iterable[str]) -> dict[str, bytes]: ...


class CommitTree:
    def __init__(self, objects: _Objects, commit: str) -> None:
        self._objects = objects
        self.commit = commit

    def list(self, root: str, limits: LimitSettings) -> TreeListing:
        listing = self._objects.list_tree(
            self.commit, root, max_file_bytes=limits.max_file_bytes, max_files=limits.max_files
        )
        files = tuple(TreeFile(path, entry.size, entry.sha) for path, entry in listing.entries.items())
        return TreeListing(files, listing.findings)

    def read(self, files: Sequence[TreeFile]) -> dict[str, bytes | Finding]:
        """One batch for all the files (blobs shared by several paths are read once)."""
        blobs = self._objects.read_blobs(file.content_id for file in files)
        return {file.path: blobs[file.content_id] for file in files}
