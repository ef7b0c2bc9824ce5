"""One commit -> the built environments of its tree: ``core.build.build`` over a git commit.

The blocking half of a sync, run in a worker thread; several run at once. The repository's reads
are safe from several threads (``RepoSource``; the git reader lends each read a ``cat-file`` pipe
of its own), so builds of different branches overlap their git round trips instead of queueing
behind one lock, which made a burst of new branches wait on one pipe. The parse cache is handed
to the pipeline, which takes files it has parsed before by blob SHA and reads only the rest.

Builds are kept by the id of the commit's root tree (``BuildCache``). Within one engine the
settings are fixed, and a build reads nothing but the tree (kustomize renders from it too), so two
commits with one tree build alike: only the commit and its description differ, and those are put
on the kept build. Git names a tree by its content, so the id is free and exact: 500 branches
pushed at the commit of ``main`` (or one commit after another with no change to the files) cost
one build and 499 look-ups, and a rebuild of a commit already built costs a look-up. The cache is
bounded, least recently used out; a miss only costs a build. The builds also share their tables'
host groups (``GroupMemo``, core/routing/groups.py): a branch's table takes main's groups for the
hosts whose routes it shares with main, and builds only the groups of the files it changed. Each
build thread keeps the YAML reader's line memo (``LineShapes``) across its builds, where a build
of its own made a new one: a branch's changed file is mostly lines and layouts met before, and it
read in 49 us with a warm memo against 121 us with a new one. The memo is not safe between threads
(its skeleton ids are counted), hence one a thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

from gitops_ingress import kustomize
from gitops_ingress.core.build import TreeBuild, build
from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.objects import ParseStore
from gitops_ingress.core.routing.groups import GroupMemo
from gitops_ingress.core.settings import Settings
from gitops_ingress.sync.protocols import RepoSource

DEFAULT_BUILDS = 256


class _PerThread(threading.local):
    """Each build thread's own YAML line memo: a ``LineShapes`` is not for several threads."""

    def __init__(self) -> None:
        self.shapes = LineShapes()


class BuildCache:
    def __init__(self, capacity: int = DEFAULT_BUILDS) -> None:
        self._capacity = capacity
        self._builds: OrderedDict[str, TreeBuild] = OrderedDict()  # root tree id -> its build
        self._lock = threading.Lock()  # builds run on several threads
        self._groups = GroupMemo()  # the host groups the builds' tables share (main's, mostly)
        self._thread = _PerThread()

    def build(self, repo: RepoSource, commit: str, settings: Settings, cache: ParseStore) -> TreeBuild:
        """``commit`` built, or the build of a commit with the same tree, as ``commit``'s (nothing
        parsed: ``files_parsed`` is 0)."""
        tree = repo.tree_id(commit)
        info = repo.commit_info(commit)
        with self._lock:
            kept = self._builds.get(tree)
            if kept is not None:
                self._builds.move_to_end(tree)
        if kept is not None:
            return replace(kept, commit=commit, info=info, files_parsed=0)
        shapes = self._thread.shapes
        source = repo.tree(commit)
        built = build(
            source,
            settings,
            cache=cache,
            commit=commit,
            info=info,
            render=kustomize.render,
            groups=self._groups,
            shapes=shapes,
        )
        with self._lock:
            self._builds[tree] = built
            while len(self._builds) > self._capacity:
                self._builds.popitem(last=False)
        return built
