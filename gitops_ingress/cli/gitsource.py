"""Reading configuration straight from git objects for ``--ref``, ``--base`` and ``--head``.

No checkout and no change to the working tree: the commit is a tree source (``gitrepo.CommitTree``)
for the same pipeline a folder goes through, with the settings file at the commit's root.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gitops_ingress.cli.sources import render_kustomization, settings_from
from gitops_ingress.cli.variables import Variables
from gitops_ingress.core.build import TreeBuild, build
from gitops_ingress.core.environments import Root
from gitops_ingress.core.settings import SETTINGS_FILE
from gitops_ingress.gitrepo import GitReader


def build_ref(
    repo: str,
    ref: str,
    variables: Variables,
    environment: str | None = None,
    paths: Sequence[str] = (),
    *,
    routes: bool = True,
) -> TreeBuild:
    """The configuration at ``ref`` of the repository in ``repo``."""
    with GitReader(Path(repo)) as reader:
        commit = reader.resolve(ref)
        settings, findings = settings_from(reader.read_file(commit, SETTINGS_FILE), variables)
        roots = [Root.at(path) for path in paths]
        return build(
            reader.tree(commit),
            settings,
            roots,
            environment=environment,
            settings_findings=findings,
            routes=routes,
            commit=commit,
            render=render_kustomization,
        )
