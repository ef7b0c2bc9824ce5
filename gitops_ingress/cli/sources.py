"""Where the CLI reads configuration from: folders and files on disk, or a git ref.

Every command goes through the same three steps, whatever the source: find the settings by the
one rule (``fs.find_repository``, documented in docs/configuration.md; a commit's own root for a
git ref; ``serve`` the stable branch's head), parse and merge them with ``settings_from`` (the one
function, over ``core.config.read_settings``), then ``core.build.build`` over a tree source. Paths
in findings are shown as the user wrote them for folders, and repository-relative for git refs,
which is what CI annotations need.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_ingress.cli.variables import Variables
from gitops_ingress.core.config import read_settings
from gitops_ingress.core.environments import Root
from gitops_ingress.core.errors import UsageError
from gitops_ingress.core.findings import Finding
from gitops_ingress.core.reports.summary import ValidationReport
from gitops_ingress.core.settings import SETTINGS_FILE, LimitSettings, Settings

if TYPE_CHECKING:
    from gitops_ingress.core.build import TreeBuild
from gitops_ingress.fs import FolderTree, Repository, find_repository, folder_root, git_top_level, read_settings_file


def settings_from(
    raw: bytes | None,
    variables: Variables,
    shown_as: str = SETTINGS_FILE,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Settings, list[Finding]]:
    """Settings from the bytes of a settings file (None: there is none), then the variables (read
    once by ``main``) and the options; findings of the file name it ``shown_as``."""
    files = {SETTINGS_FILE: raw} if raw is not None else {}
    return read_settings(files, variables=variables.repository_layer(), overrides=overrides, shown_as=shown_as)


@dataclass(frozen=True, slots=True)
class FolderSettings:
    settings: Settings
    findings: list[Finding]
    repository: Repository  # where the search ended: the root the naming rule reads paths from


def load_settings(
    paths: Sequence[str],
    variables: Variables,
    overrides: Mapping[str, Any] | None = None,
    settings_file: str | None = None,
) -> FolderSettings:
    """Settings for commands over folders: ``settings_file`` if given, else the one found by the
    search from the first of ``paths`` (the current folder when there is none)."""
    repository = find_repository(paths[0] if paths else None)
    chosen = Path(settings_file) if settings_file else repository.settings_file
    raw = read_settings_file(chosen) if chosen is not None else None
    settings, findings = settings_from(
        raw, variables, _shown(chosen) if chosen is not None else SETTINGS_FILE, overrides
    )
    return FolderSettings(settings, findings, repository)


def _shown(path: Path) -> str:
    """A path as short as it is unambiguous: relative to the current folder when below it."""
    resolved, here = path.resolve(), Path.cwd().resolve()
    return resolved.relative_to(here).as_posix() if resolved.is_relative_to(here) else resolved.as_posix()


def folder_roots(paths: Sequence[str], loaded: FolderSettings) -> list[Root]:
    return [folder_root(path, loaded.repository) for path in paths or [loaded.settings.environments_dir]]


def build_folders(
    loaded: FolderSettings, roots: Sequence[Root], environment: str | None = None, *, routes: bool = True
) -> TreeBuild:
    # imported here: ``proxy`` reads settings through this module but builds nothing from it
    # unless it serves files, and the build is most of a proxy worker's memory at start
    from gitops_ingress.core.build import build

    return build(
        FolderTree(),
        loaded.settings,
        roots,
        environment=environment,
        settings_findings=loaded.findings,
        routes=routes,
        render=render_kustomization,
    )


def render_kustomization(files: Mapping[str, bytes], directory: str, limits: LimitSettings) -> bytes:
    """``gitops_ingress.kustomize.render`` (a ``core.kustomize.Renderer``), imported when a
    kustomization outside ``core.kustomize_render``'s subset is rendered, not on every build."""
    from gitops_ingress import kustomize

    return kustomize.render(files, directory, limits)


# Findings that mean there was nothing to check: the command was given the wrong place or name.
NOTHING_TO_CHECK = frozenset({"config/no-yaml", "config/unknown-environment"})


def refuse_nothing_to_check(*builds: TreeBuild, environment: str | None = None, refs: str = "") -> None:
    """An empty folder or an unknown ``--env`` is a usage mistake (exit 2, naming what was given),
    not a finding (exit 1): there is nothing the input could fix. With several builds (the two
    sides of a diff), only when every side has nothing; one empty side is a real addition.
    ``refs``: the git refs read, as the options that named them (``--ref main``)."""
    mistakes = [next((f for f in built.findings if f.rule in NOTHING_TO_CHECK), None) for built in builds]
    first = mistakes[0] if mistakes else None
    if first is not None and all(mistakes):
        given = "".join(f"{text}: " for text in (refs, f"--env {environment}" if environment else "") if text)
        raise UsageError(f"{given}{first.message}")


def build_paths(
    paths: Sequence[str], variables: Variables, environment: str | None = None, *, routes: bool = True
) -> TreeBuild:
    """``validate PATH...``, ``routes PATH...``: the settings found for PATHs, then PATHs built."""
    loaded = load_settings(paths, variables)
    built = build_folders(loaded, folder_roots(paths, loaded), environment, routes=routes)
    refuse_nothing_to_check(built, environment=environment)
    return built


def build_two_folders(
    base: str, head: str, variables: Variables, environment: str | None = None
) -> tuple[TreeBuild, TreeBuild]:
    """``diff DIR_A DIR_B``: one settings search (from DIR_A) for both sides; each DIR is located
    in its own repository (``fs.folder_root``), which bounds its kustomize inputs. A DIR that is
    itself an environment is the same place in both trees, so the base side takes the head's name."""
    loaded = load_settings([base], variables)
    base_root, head_root = folder_roots([base, head], loaded)
    base_root = dataclasses.replace(base_root, name=head_root.name)
    sides = build_folders(loaded, [base_root], environment), build_folders(loaded, [head_root], environment)
    refuse_nothing_to_check(*sides, environment=environment)
    return sides


def repository_relative(report: ValidationReport, start: str | None) -> ValidationReport:
    """The report with its files relative to the repository root, as CI tools want them (a SARIF
    upload or an annotation with an absolute path is dropped), in its findings and its annotation
    table alike: ``GITHUB_WORKSPACE``, else the git top level above ``start``, else the current
    folder. A file outside the root keeps its path."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    root = (Path(workspace) if workspace else git_top_level(start) or Path.cwd()).resolve()
    return dataclasses.replace(
        report,
        findings=tuple(dataclasses.replace(finding, file=_below(finding.file, root)) for finding in report.findings),
        annotations=tuple(dataclasses.replace(use, file=_below(use.file, root)) for use in report.annotations),
    )


def _below(file: str, root: Path) -> str:
    resolved = Path(file).resolve()
    return resolved.relative_to(root).as_posix() if file and resolved.is_relative_to(root) else file
