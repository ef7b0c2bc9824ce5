"""One commit -> the built environments of its tree: ``core.build.build`` over a git commit.

The blocking half of a sync, run in a worker thread; several run at once. The repository's reads
are safe from several threads (``RepoSource``; the git reader lends each read a ``cat-file`` pipe
of its own), so builds of different branches overlap their git round trips instead of queueing
behind one lock, which made a burst of new branches wait on one pipe. The parse cache is handed
to the pipeline, which takes files it has parsed before by blob SHA and reads only the rest.
"""

from __future__ import annotations

from gitops_ingress import kustomize
from gitops_ingress.core.build import TreeBuild, build
from gitops_ingress.core.objects import ParseStore
from gitops_ingress.core.settings import Settings
from gitops_ingress.sync.protocols import RepoSource


def build_commit(repo: RepoSource, commit: str, settings: Settings, cache: ParseStore) -> TreeBuild:
    return build(
        repo.tree(commit), settings, cache=cache, commit=commit, info=repo.commit_info(commit), render=kustomize.render
    )
