"""Where the CLI reads configuration from: folders and files on disk, or a git ref.

Both end as a ``ConfigSnapshot`` built by the core, so every command validates and routes the same
way whatever the source. Paths in findings are shown as the user wrote them (``environments/...``)
for folders, and repository-relative for git refs, which is what CI annotations need.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitops_ingress.core.config import ConfigSnapshot, read_settings, snapshot_from_files
from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.findings import Finding
from gitops_ingress.core.settings import SETTINGS_FILE, Settings
from gitops_ingress.fs import read_tree

DEFAULT_PATH = "environments"


def settings_from_folder(root: Path, overrides: dict[str, Any] | None = None) -> tuple[Settings, list[Finding]]:
    """Settings from ``gitops-ingress.yaml`` in ``root`` (when present), the environment, options."""
    settings_file = root / SETTINGS_FILE
    files: dict[str, bytes] = {}
    if settings_file.is_file() and not settings_file.is_symlink():
        try:
            files[SETTINGS_FILE] = settings_file.read_bytes()
        except OSError as exc:
            raise SourceError(f"{settings_file}: cannot be read: {exc.strerror}") from exc
    return read_settings(files, environ=os.environ, overrides=overrides)


def _display(base: str, relative: str, is_file: bool) -> str:
    if is_file:
        return base
    base = base.rstrip("/")
    return f"{base}/{relative}" if base not in ("", ".") else relative


def snapshot_from_paths(
    paths: Sequence[str], settings: Settings, environment: str | None = None
) -> tuple[ConfigSnapshot, list[Finding]]:
    """Read every PATH (file or folder) and build the snapshot; returns read findings apart."""
    limits = settings.policy.limits
    files: dict[str, bytes] = {}
    findings: list[Finding] = []
    for raw in paths or [DEFAULT_PATH]:
        root = Path(raw)
        tree = read_tree(root, max_file_bytes=limits.max_file_bytes, max_files=limits.max_files)
        is_file = root.is_file()
        for relative, data in tree.files.items():
            files[_display(raw, relative, is_file)] = data
        for finding in tree.findings:
            findings.append(finding.model_copy(update={"file": _display(raw, finding.file, is_file)}))
    snapshot = snapshot_from_files(files, settings, environment=environment)
    return snapshot, findings


def object_count(snapshot: ConfigSnapshot) -> int:
    return sum(len(env.ingresses) + len(env.classes) for env in snapshot.environments.values())


def checked_files(snapshot: ConfigSnapshot) -> tuple[str, ...]:
    return tuple(sorted(path for env in snapshot.environments.values() for path in env.files))
