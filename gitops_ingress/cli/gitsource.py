"""Reading configuration straight from git objects for ``--ref``, ``--base`` and ``--head``.

No checkout and no change to the working tree: the tree at the commit is listed and its blobs are
read through the ``gitrepo`` adapter, then handed to the same core loader as a folder would be.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from gitops_ingress.core.config import ConfigSnapshot, load_snapshot, read_settings
from gitops_ingress.core.findings import Finding
from gitops_ingress.core.settings import SETTINGS_FILE
from gitops_ingress.gitrepo import GitReader


def snapshot_from_ref(
    repo: str, ref: str, environment: str | None = None, paths: Sequence[str] = ()
) -> tuple[ConfigSnapshot, list[Finding]]:
    """The configuration at ``ref`` of the repository in ``repo``."""
    with GitReader(Path(repo)) as source:
        return _snapshot_at(source, source.resolve(ref), environment, paths)


def _snapshot_at(
    source: GitReader, commit: str, environment: str | None, paths: Sequence[str]
) -> tuple[ConfigSnapshot, list[Finding]]:
    settings_bytes = source.read_file(commit, SETTINGS_FILE)
    settings, findings = read_settings(
        {SETTINGS_FILE: settings_bytes} if settings_bytes is not None else {}, environ=os.environ
    )
    limits = settings.policy.limits
    roots = [p.strip("/") for p in paths] or [settings.environments_dir]
    files: dict[str, bytes] = {}
    for root in roots:
        listing = source.list_tree(commit, root, max_file_bytes=limits.max_file_bytes, max_files=limits.max_files)
        findings.extend(listing.findings)
        for path, entry in listing.entries.items():
            files[path] = source.read_blob(entry.sha)
    return load_snapshot(files, settings, environment=environment), findings
