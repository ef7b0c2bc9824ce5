"""The layers of docs/dev/architecture.md, enforced: core imports nothing else of the package; adapters import core (and
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
    "kustomize": {"core"},  # running kustomize: I/O at the level of fs
    **{name: {name, "core", "fs", "kustomize"} for name in ADAPTERS},
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


# -- wire contracts exist once (issue 11): a copy in two adapters is how they drift apart --------


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports_from(path: Path, module: str) -> set[str]:
    return {
        alias.name
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ImportFrom) and node.module == module
        for alias in node.names
    }


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_stream_encoder_and_decoder_share_one_module() -> None:
    encoder, decoder = PACKAGE / "web" / "stream.py", PACKAGE / "proxy" / "sources" / "controller.py"
    assert "state_line" in _imports_from(encoder, "gitops_ingress.core.stream")
    assert "decode_line" in _imports_from(decoder, "gitops_ingress.core.stream")
    # neither end speaks JSON itself, so neither can grow a private variant of the format
    assert "json" not in _imported_modules(encoder) | _imported_modules(decoder)


# string constants that are wire facts, and the one module allowed to spell each
WIRE_LITERALS = {
    "gitops-ingress.dev/": "core/labels.py",  # every label and annotation of ours (a prefix)
    "app.kubernetes.io/managed-by": "core/labels.py",
    "kubernetes.io/service-name": "core/labels.py",
    "/api/v1/proxy/stream": "core/stream.py",
    "application/x-ndjson": "core/stream.py",
}


def _spelled_at(module: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for literal in WIRE_LITERALS:
                if node.value == literal or (literal.endswith("/") and node.value.startswith(literal)):
                    found.append((literal, node.lineno))
    return found


def test_label_annotation_and_stream_names_are_defined_once() -> None:
    offenders = [
        f"{module.relative_to(PACKAGE)}:{line} spells {literal!r} (use {WIRE_LITERALS[literal]})"
        for module in PACKAGE.rglob("*.py")
        for literal, line in _spelled_at(module)
        if module.relative_to(PACKAGE).as_posix() != WIRE_LITERALS[literal]
    ]
    assert not offenders, "\n".join(offenders)
    for literal, owner in WIRE_LITERALS.items():
        assert any(found == literal for found, _ in _spelled_at(PACKAGE / owner)), (literal, owner)


def test_the_wire_literal_check_catches_a_copy(tmp_path: Path) -> None:
    copy = tmp_path / "copy.py"
    copy.write_text('ROLE = "gitops-ingress.dev/role"\nPATH = "/api/v1/proxy/stream"\n"""a docstring"""\n')
    assert _spelled_at(copy) == [("gitops-ingress.dev/", 1), ("/api/v1/proxy/stream", 2)]


def _public_classes() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for module in PACKAGE.rglob("*.py"):
        for node in _tree(module).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                found.setdefault(node.name, []).append(str(module.relative_to(PACKAGE)))
    return found


def test_no_public_class_is_defined_twice() -> None:
    assert {name: where for name, where in _public_classes().items() if len(where) > 1} == {}


def _members(node: ast.ClassDef) -> set[str]:
    names = set()
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
        elif isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and not item.name.startswith("_"):
            names.add(item.name)
    return names


def _classes(layer_paths: list[Path], want: str) -> dict[str, set[str]]:
    """name -> members of the Protocols (``want="protocol"``) or dataclasses in those modules."""
    found = {}
    for module in layer_paths:
        for node in _tree(module).body:
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {ast.unparse(b) for b in node.bases}
            decorators = {ast.unparse(d).split("(")[0] for d in node.decorator_list}
            if (want == "protocol" and "Protocol" in bases) or (want == "dataclass" and "dataclass" in decorators):
                found[f"{module.relative_to(PACKAGE)}:{node.name}"] = _members(node)
    return found


def test_adapters_name_core_types_instead_of_mirroring_them() -> None:
    """A Protocol in an adapter whose members are all fields of one core dataclass is a
    structural copy of that type (``EnvironmentLike`` of ``DesiredEnvironment`` was one)."""
    core_types = _classes(sorted((PACKAGE / "core").rglob("*.py")), "dataclass")
    adapter_modules = sorted(p for p in PACKAGE.rglob("*.py") if _layer(p) in ADAPTERS)
    copies = [
        f"{protocol} mirrors {dataclass}"
        for protocol, members in _classes(adapter_modules, "protocol").items()
        for dataclass, fields in core_types.items()
        if len(members) >= 2 and members <= fields
    ]
    assert not copies
    assert any(name.endswith(":DesiredEnvironment") for name in core_types)


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
    # fs.py itself: a folder outside the settings' repository is located in its own (folder_root)
    callers = ["cli/sources.py", "fs.py", "proxy/sources/files.py"]
    assert _where(lambda facts: "find_repository" in facts.called) == callers


def test_one_result_type_and_one_tree_walk_on_disk() -> None:
    """Per-environment results are ``core.build.EnvironmentBuild``; folders are walked by fs.py only
    (the TLS folder watcher walks certificates, not manifests)."""
    parallel = {"EnvironmentConfig", "ConfigSnapshot", "CommitBuild", "TreeRead", "CachedParse"}
    assert _where(lambda facts: bool(parallel & facts.defined)) == []
    assert _where(lambda facts: bool({"TreeBuild", "EnvironmentBuild"} & facts.defined)) == ["core/build.py"]
    walkers = _where(lambda facts: bool({"walk", "scandir"} & facts.called))
    assert walkers == ["fs.py", "proxy/tls.py"]
