"""DESIGN section 7, enforced: core imports nothing else of the package; adapters import core (and
the ``fs`` leaf) but never each other; ``sync`` sees adapters only through Protocols."""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from dataclasses import dataclass
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


# -- one pipeline from files to routes: the copies must not come back ---------------------------------


@dataclass(frozen=True)
class _Facts:
    defined: frozenset[str]  # names assigned, and functions and classes defined, at any level
    called: frozenset[str]  # f(...) and x.f(...) -> "f"
    strings: frozenset[str]  # string constants


def _facts_of(tree: ast.AST) -> _Facts:
    defined: set[str] = set()
    called: set[str] = set()
    strings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Call):
            func = node.func
            called.add(func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else "")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.add(node.value)
    return _Facts(frozenset(defined), frozenset(called), frozenset(strings))


@functools.cache
def _facts() -> dict[str, _Facts]:
    """Every module of the package, parsed once for all the tests below."""
    return {
        module.relative_to(PACKAGE).as_posix(): _facts_of(ast.parse(module.read_text(encoding="utf-8")))
        for module in sorted(PACKAGE.rglob("*.py"))
    }


def _where(predicate: Callable[[_Facts], bool]) -> list[str]:
    return [name for name, facts in _facts().items() if predicate(facts)]


def test_the_file_filter_is_defined_once() -> None:
    """Which names are manifests and which folders are skipped: core/tree.py and nowhere else, so
    the folder reader, the git walk and the proxy's watcher cannot disagree again."""
    for name in ("YAML_SUFFIXES", "is_manifest_name", "is_skipped_folder"):
        assert _where(lambda facts, name=name: name in facts.defined) == ["core/tree.py"], name  # type: ignore[misc]
    assert _where(lambda facts: bool({".yml", ".yaml"} & facts.strings)) == ["core/tree.py"]


def test_only_the_pipeline_parses_validates_and_compiles_files() -> None:
    """``core/build.py`` is the one path from files to routes. The cluster source compiles Ingress
    objects it got from the API server (no files), so it may compile too."""
    owners = {"core/objects.py", "core/build.py"}
    assert [m for m in _where(lambda facts: "parse_file" in facts.called) if m not in owners] == []
    validators = _where(lambda facts: "validate_environment" in facts.called)
    assert [m for m in validators if not m.startswith("core/validation/")] == ["core/build.py"]
    compilers = _where(lambda facts: bool({"compile_routes", "compile_environments"} & facts.called))
    assert [m for m in compilers if not m.startswith("core/routing/")] == ["core/build.py", "proxy/sources/cluster.py"]


def test_settings_are_found_and_parsed_in_one_place() -> None:
    assert _where(lambda facts: "read_settings" in facts.called) == ["cli/sources.py"]
    assert _where(lambda facts: "find_repository" in facts.defined) == ["fs.py"]
    assert _where(lambda facts: "find_repository" in facts.called) == ["cli/sources.py", "proxy/sources/files.py"]


def test_one_result_type_and_one_tree_walk_on_disk() -> None:
    """Per-environment results are ``core.build.EnvironmentBuild``; folders are walked by fs.py only
    (the TLS folder watcher walks certificates, not manifests)."""
    parallel = {"EnvironmentConfig", "ConfigSnapshot", "CommitBuild", "TreeRead", "CachedParse"}
    assert _where(lambda facts: bool(parallel & facts.defined)) == []
    assert _where(lambda facts: bool({"TreeBuild", "EnvironmentBuild"} & facts.defined)) == ["core/build.py"]
    walkers = _where(lambda facts: bool({"walk", "scandir"} & facts.called))
    assert walkers == ["fs.py", "proxy/tls.py"]
