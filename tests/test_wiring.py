"""Collaborators are wired at construction or through explicit methods, never by reaching in.

Issue 11: the engine set ``self._watcher.failures = 1`` and ``serve`` set ``elector.on_started``
after building them, so what a part did depended on who touched it later. This reads the engine
and the command-line wiring and refuses attribute writes on other objects; the only ones left are
third-party APIs that are used that way (argparse's ``required``, uvicorn's ``should_exit``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gitops_ingress"
THIRD_PARTY_SWITCHES = {"required", "should_exit"}


def _attribute_writes(path: Path) -> list[tuple[int, ast.Attribute]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        for target in targets:
            for item in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(item, ast.Attribute):
                    found.append((node.lineno, item))
    return found


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def test_the_engine_never_sets_attributes_of_its_collaborators() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} {ast.unparse(item)}"
        for path in sorted((PACKAGE / "sync").glob("*.py"))
        for line, item in _attribute_writes(path)
        if isinstance(item.value, ast.Attribute) and _is_self(item.value.value)  # self._part.x = ...
    ]
    assert not offenders


def test_the_cli_wires_at_construction() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line} {ast.unparse(item)}"
        for path in sorted((PACKAGE / "cli").glob("*.py"))
        for line, item in _attribute_writes(path)
        if not _is_self(item.value) and item.attr not in THIRD_PARTY_SWITCHES
    ]
    assert not offenders


def test_the_checks_catch_the_old_wiring(tmp_path: Path) -> None:
    old = tmp_path / "old.py"
    old.write_text(
        "def f(self, elector, target):\n    self._watcher.failures = 1\n    elector.on_started = target.resync\n"
    )
    writes = [ast.unparse(item) for _line, item in _attribute_writes(old)]
    assert writes == ["self._watcher.failures", "elector.on_started"]
