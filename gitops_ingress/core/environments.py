"""The environment naming rule: which environment a file belongs to, the same for every command.

An environment is a folder directly under the environments folder (``environments_dir``, default
``environments``): a file whose path holds ``<environments_dir>/<env>/`` belongs to ``<env>`` (the
first such place in the path counts). The path the rule looks at is "located": repository-relative
for a git commit; for a folder on disk, the resolved path below the repository root (the folder of
``gitops-ingress.yaml``, else the git top level; see ``gitops_ingress.fs``), or the whole resolved
path when there is neither. A file directly inside the environments folder belongs to no
environment (reported as ``config/layout`` and ignored). Every other file belongs to the
environment of the root it was listed under: a folder given on the command line that is not
inside an environments folder is one environment named after the folder (a file: after the folder
holding it). So ``validate DIR`` and ``proxy --ingress-dir DIR`` name ``DIR`` alike and run the
same cross-file and per-environment checks. Documented in docs/concepts.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from gitops_ingress.core.settings import Settings

# the name of a root that has none of its own (the top of a repository, the file system root)
DEFAULT_ENVIRONMENT = "default"


@dataclass(frozen=True, slots=True)
class Root:
    """One place the pipeline reads from."""

    path: str  # where the tree source lists, in the source's own namespace
    located: str  # the same place as the naming rule sees it (see the module docstring)
    name: str  # the environment of its files that lie outside any environments folder

    @classmethod
    def at(cls, path: str) -> Root:
        """A root of a source whose paths are repository-relative already (git, memory)."""
        clean = path.strip("/")
        return cls(clean, clean, folder_name(clean))


def folder_name(path: str) -> str:
    return PurePosixPath(path).name or DEFAULT_ENVIRONMENT


def _below_marker(located: str, settings: Settings) -> list[str] | None:
    """The parts of ``located`` after the first ``<environments_dir>``; None if it has none."""
    parts = [part for part in located.split("/") if part not in ("", ".")]
    marker = [part for part in settings.environments_dir.split("/") if part not in ("", ".")]
    for start in range(len(parts) - len(marker) + 1):
        if parts[start : start + len(marker)] == marker:
            return parts[start + len(marker) :]
    return None


def environment_of(located: str, settings: Settings) -> str | None:
    """``.../environments/<env>/...`` -> ``<env>``; None for a path outside every environment folder."""
    rest = _below_marker(located, settings)
    return rest[0] if rest is not None and len(rest) >= 2 else None


def environment_for(root: Root, located: str, settings: Settings) -> str | None:
    """The environment of a path listed under ``root``; None when it lies in the environments
    folder but in no environment folder (a loose file, or the environments folder itself)."""
    rest = _below_marker(located, settings)
    if rest is None:
        return root.name
    return rest[0] if len(rest) >= 2 else None


def in_environment_folder(root: Root, located: str, settings: Settings) -> bool:
    """The file lies directly in its environment's folder (where a kustomization renders the
    environment): ``<environments_dir>/<env>/<file>``, or directly in a root outside them."""
    rest = _below_marker(located, settings)
    if rest is not None:
        return len(rest) == 2
    if root.located in ("", "."):
        return "/" not in located
    prefix = root.located.rstrip("/") + "/"
    return located.startswith(prefix) and "/" not in located[len(prefix) :]
