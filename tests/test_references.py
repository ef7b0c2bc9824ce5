"""The project documents itself: code and docs cite files inside the project, never a design file
kept elsewhere, and every relative link in the Markdown pages reaches a file that exists."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tests.support.gitrepos import PROJECT_ROOT

# Spelled in pieces so that this file does not cite them itself.
OUTSIDE = ("../" + "shared", "DESI" + "GN section", "DESI" + "GN.md", "INGRESS-" + "SEMANTICS")
# Generated or installed content, and git's own files: not the project's text.
SKIPPED_FOLDERS = {
    ".git",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".venv",
    "build",
    "dist",
    "test-artifacts",
    ".gitops-ingress",
    ".hypothesis",
    ".state",
    "node_modules",  # tests/a11y: axe-core, installed by npm ci
}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def project_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.iterdir()):
        if path.is_dir():
            if path.name not in SKIPPED_FOLDERS and not path.name.endswith(".egg-info"):
                yield from project_files(path)
        elif path.is_file() and not path.is_symlink():
            yield path


def outside_references(root: Path) -> list[str]:
    found = []
    for path in project_files(root):
        data = path.read_bytes()
        if b"\0" in data:
            continue  # compiled modules, images
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            found += [f"{path.relative_to(root)}:{number}: {word}" for word in OUTSIDE if word in line]
    return found


def broken_links(root: Path) -> list[str]:
    broken = []
    for page in project_files(root):
        if page.suffix != ".md":
            continue
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target) or target.startswith("#"):
                    continue  # a URL or an anchor on the same page
                if not (page.parent / target.split("#", 1)[0]).exists():
                    broken.append(f"{page.relative_to(root)}:{number}: {target}")
    return broken


def test_nothing_in_the_project_cites_files_outside_it() -> None:
    assert outside_references(PROJECT_ROOT) == []


def test_every_relative_markdown_link_reaches_a_file() -> None:
    assert broken_links(PROJECT_ROOT) == []


def test_the_checks_see_the_project_and_catch_a_violation(tmp_path: Path) -> None:
    scanned = {str(p.relative_to(PROJECT_ROOT)) for p in project_files(PROJECT_ROOT)}
    assert {"README.md", "docs/dev/architecture.md", "gitops_ingress/core/__init__.py", "action.yml"} <= scanned
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        f"See {OUTSIDE[0]}/x.md and [the design](../{OUTSIDE[2]}), [ok](page.md), [web](https://example.com).\n"
    )
    (tmp_path / "module.py").write_text(f'"""Routing ({OUTSIDE[1]} 5)."""\n')
    assert outside_references(tmp_path) == [
        f"docs/page.md:1: {OUTSIDE[0]}",
        f"docs/page.md:1: {OUTSIDE[2]}",
        f"module.py:1: {OUTSIDE[1]}",
    ]
    assert broken_links(tmp_path) == [f"docs/page.md:1: ../{OUTSIDE[2]}"]
