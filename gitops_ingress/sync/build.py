"""One commit -> the built environments of its tree: ``core.build.build`` over a git commit.

The blocking half of a sync, run in a worker thread. The engine's repository lock is held around
each git read (listing, blob), never around parsing and validation, so other branches' builds and
the fetcher wait only for object reads. The parse cache is handed to the pipeline, which takes
files it has parsed before by blob SHA and reads only the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from gitops_ingress import kustomize
from gitops_ingress.core.build import TreeBuild, build
from gitops_ingress.core.findings import Finding
from gitops_ingress.core.objects import ParseStore
from gitops_ingress.core.settings import LimitSettings, Settings
from gitops_ingress.core.tree import TreeFile, TreeListing, TreeSource
from gitops_ingress.sync.protocols import RepoSource


class _Locked:
    """A tree source whose reads hold ``lock``."""

    def __init__(self, tree: TreeSource, lock: threading.Lock) -> None:
        self._tree, self._lock = tree, lock

    def list(self, root: str, limits: LimitSettings) -> TreeListing:
        with self._lock:
            return self._tree.list(root, limits)

    def read(self, files: Sequence[TreeFile]) -> dict[str, bytes | Finding]:
        with self._lock:
            return self._tree.read(files)


def build_commit(
    repo: RepoSource, commit: str, settings: Settings, cache: ParseStore, repo_lock: threading.Lock
) -> TreeBuild:
    with repo_lock:
        info = repo.commit_info(commit)
        tree = repo.tree(commit)
    return build(_Locked(tree, repo_lock), settings, cache=cache, commit=commit, info=info, render=kustomize.render)
