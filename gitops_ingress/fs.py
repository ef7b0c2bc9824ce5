"""Reading a folder of YAML files into ``relative POSIX path -> bytes``, safely.

The one place outside the adapters that touches the file system, kept as a leaf so the CLI, the
proxy's file mode and tests read folders the same way. It never follows symlinks (a link out of a
checked-out repository could expose any file on the machine, and git stores links as paths
anyway), never reads more than ``max_file_bytes + 1`` bytes of a file, and stops after
``max_files`` files; each of these is reported as a finding, never raised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.findings import Finding, Severity

YAML_SUFFIXES = (".yaml", ".yml")
_SKIPPED_DIRS = frozenset({".git"})


@dataclass(slots=True)
class TreeRead:
    files: dict[str, bytes] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def read_tree(root: Path, *, max_file_bytes: int, max_files: int) -> TreeRead:
    """Every ``*.yaml``/``*.yml`` below ``root`` (or ``root`` itself when it is a file)."""
    result = TreeRead()
    try:
        if root.is_symlink() or not root.exists():
            raise SourceError(f"{root}: no such file or folder (symlinks are not followed)")
        if root.is_file():
            _read(root, root.name, result, max_file_bytes)
            return result
    except OSError as exc:
        raise SourceError(f"{root}: cannot be read: {exc.strerror or exc}") from exc
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name, reverse=True)
        except OSError as exc:
            result.findings.append(
                _finding("fs/unreadable", f"cannot list folder: {exc.strerror or exc}", prefix or ".")
            )
            continue
        for entry in entries:
            relative = prefix + entry.name
            if entry.is_symlink():
                if entry.name.endswith(YAML_SUFFIXES) or os.path.isdir(entry.path):
                    _symlink(entry, relative, root, result)
            elif entry.is_dir(follow_symlinks=False):
                if entry.name not in _SKIPPED_DIRS:
                    stack.append((Path(entry.path), relative + "/"))
            elif entry.name.endswith(YAML_SUFFIXES) and entry.is_file(follow_symlinks=False):
                if len(result.files) >= max_files:
                    result.findings.append(
                        _finding(
                            "fs/too-many-files",
                            f"more than {max_files} YAML files; stopped reading here",
                            relative,
                            "raise policy.limits.max_files or split the repository",
                        )
                    )
                    return result
                _read(Path(entry.path), relative, result, max_file_bytes)
    return result


def _read(path: Path, relative: str, result: TreeRead, max_file_bytes: int) -> None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_file_bytes + 1)
    except OSError as exc:
        result.findings.append(_finding("fs/unreadable", f"cannot read file: {exc.strerror or exc}", relative))
        return
    if len(data) > max_file_bytes:
        result.findings.append(
            _finding(
                "yaml/too-large",
                f"the file is larger than the limit of {max_file_bytes} bytes; not read",
                relative,
                "split it into smaller files or raise policy.limits.max_file_bytes",
            )
        )
        return
    result.files[relative] = data


def _symlink(entry: os.DirEntry[str], relative: str, root: Path, result: TreeRead) -> None:
    try:
        target = os.readlink(entry.path)
    except OSError:
        target = "?"
    resolved = Path(entry.path).resolve()
    outside = not resolved.is_relative_to(root.resolve())
    where = "outside the folder" if outside else "inside the folder"
    result.findings.append(
        _finding(
            "fs/symlink",
            f"symlink to {target} ({where}) is not followed; its content is not validated",
            relative,
            "replace the link with a real file",
        )
    )


def _finding(rule: str, message: str, file: str, hint: str = "") -> Finding:
    return Finding(rule=rule, severity=Severity.ERROR, message=message, file=file, hint=hint)
