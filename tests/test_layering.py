"""The layers of docs/dev/architecture.md, enforced: core imports nothing else of the package; adapters import core (and
the ``fs`` leaf) but never each other; ``sync`` sees adapters only through Protocols."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gitops_ingress"
ADAPTERS = ("gitrepo", "kube", "sync", "proxy", "web")
# what each layer may import from inside the package
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "fs": {"core", "fs"},
    **{name: {name, "core", "fs"} for name in ADAPTERS},
}


def _layer(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path}:{node.lineno}: use absolute imports inside the package")
        for name in names:
            parts = name.split(".")
            if parts[0] == "gitops_ingress" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if _layer(p) in ALLOWED)


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_layers(module: Path) -> None:
    layer = _layer(module)
    bad = [
        f"line {line}: {layer} imports gitops_ingress.{target}"
        for target, line in sorted(_imported_layers(module))
        if target not in ALLOWED[layer] and target not in ("__init__",)
    ]
    assert not bad, f"{module.relative_to(PACKAGE)}: " + "; ".join(bad)


def test_the_layer_check_catches_a_violation(tmp_path: Path) -> None:
    offending = tmp_path / "bad.py"
    offending.write_text("from gitops_ingress.proxy import server\nimport gitops_ingress.web.app\n")
    assert _imported_layers(offending) == {("proxy", 1), ("web", 2)}


def test_core_has_no_io_modules() -> None:
    io_modules = {"socket", "subprocess", "asyncio", "sqlite3", "git", "httpx", "kubernetes", "shutil"}
    offenders = []
    for module in (PACKAGE / "core").rglob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            else:
                continue
            offenders += [f"{module.name}:{node.lineno} {n}" for n in names if n in io_modules]
    assert not offenders
