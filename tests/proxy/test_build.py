"""Which build of the request path runs (proxy/build.py), what gets compiled (setup.py), and that
the list of compiled modules is one list: setup.py's, the one docs/proxy.md shows and the one a
compiled build actually loads."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from setuptools import Distribution, Extension

import gitops_ingress.proxy
from gitops_ingress.proxy.build import PURE_PYTHON_ENV, BuildError, choose, compiled_modules
from gitops_ingress.proxy.metrics import ProxyMetrics

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # this interpreter's own, e.g. .cpython-311-x86_64-linux-gnu.so
REPO = Path(__file__).resolve().parents[2]
PACKAGE = Path(gitops_ingress.proxy.__file__).parent


def setup_py() -> ModuleType:
    """The project's setup.py as a module (it calls setup() only when run as a script)."""
    spec = importlib.util.spec_from_file_location("gitops_ingress_setup", REPO / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def package(root: Path, *, compiled: bool) -> Path:
    """A package folder with two request-path modules, compiled or not; each source is newer than
    its compiled file (file times play no part in the choice)."""
    folder = root / "gitops_ingress" / "proxy"
    folder.mkdir(parents=True)
    for name in ("protocol", "exchange"):
        source = folder / f"{name}.py"
        source.write_text("")
        if compiled:
            binary = folder / f"{name}{SUFFIX}"
            binary.write_bytes(b"")
            os.utime(binary, (1_000, 1_000))
            os.utime(source, (2_000, 2_000))
    return folder


def test_compiled_files_are_named_by_their_module(tmp_path: Path) -> None:
    folder = package(tmp_path, compiled=True)
    (folder / "plain.abi3.so").write_bytes(b"")
    assert sorted(compiled_modules(folder)) == ["exchange", "plain", "protocol"]


def test_nothing_compiled_runs_the_source(tmp_path: Path) -> None:
    build = choose(package(tmp_path, compiled=False), {})
    assert (build.kind, build.reason, build.modules) == ("source", "not compiled", frozenset())


def test_compiled_files_are_used_whole_whatever_their_times(tmp_path: Path) -> None:
    build = choose(package(tmp_path, compiled=True), {})
    assert build.kind == "compiled"
    assert build.modules == {"protocol", "exchange"}


def test_the_environment_can_ask_for_the_source(tmp_path: Path) -> None:
    build = choose(package(tmp_path, compiled=True), {PURE_PYTHON_ENV: "1"})
    assert build.kind == "source"
    assert build.modules == {"protocol", "exchange"}  # the whole group is loaded from source
    assert choose(package(tmp_path / "b", compiled=False), {PURE_PYTHON_ENV: "1"}).kind == "source"


def test_the_environment_can_demand_the_compiled_build(tmp_path: Path) -> None:
    assert choose(package(tmp_path / "a", compiled=True), {PURE_PYTHON_ENV: "0"}).kind == "compiled"
    with pytest.raises(BuildError, match=r"PURE_PYTHON=0 .* nothing in .* is compiled .* build_ext --inplace"):
        choose(package(tmp_path / "b", compiled=False), {PURE_PYTHON_ENV: "0"})


def test_this_test_run_uses_the_build_it_asked_for() -> None:
    """scripts/test compiles the request path in place and runs the suite with =0, then the proxy's
    tests with =1: each pass must run the build it names. Unset (a developer's run), the build
    follows the files: compiled when compiled files are there."""
    asked = os.environ.get(PURE_PYTHON_ENV)
    if asked in ("0", "1"):
        expected = "source" if asked == "1" else "compiled"
    else:
        expected = "compiled" if compiled_modules(PACKAGE) else "source"
    assert gitops_ingress.proxy.BUILD.kind == expected, gitops_ingress.proxy.BUILD.reason
    import gitops_ingress.proxy.protocol as protocol

    assert protocol.__file__ is not None
    assert protocol.__file__.endswith(".py") == (expected == "source")


def test_a_compiled_build_is_setup_pys_whole_list() -> None:
    if not compiled_modules(PACKAGE):
        pytest.skip("nothing compiled here (compile in place: python3 setup.py build_ext --inplace)")
    assert compiled_modules(PACKAGE).keys() == set(setup_py().REQUEST_PATH)


def test_the_documented_compiled_modules_are_setup_pys_list() -> None:
    text = (REPO / "docs" / "proxy.md").read_text()
    listed = re.search(r"compiled to C by mypyc: (.*?) \(setup\.py's `REQUEST_PATH`", text, re.DOTALL)
    assert listed is not None, "docs/proxy.md no longer lists the compiled modules"
    assert re.findall(r"`(\w+)`", listed.group(1)) == sorted(setup_py().REQUEST_PATH)


def test_an_editable_install_compiles_nothing(tmp_path: Path) -> None:
    """setup.py's build_ext skips an editable install (a real compile of a missing C file would
    fail), and builds for anything else."""
    command_class = setup_py().BuildRequestPath
    extension = Extension("nowhere", [str(tmp_path / "missing.c")])
    editable = command_class(Distribution({"ext_modules": [extension]}))
    editable.editable_mode = True
    editable.build_lib, editable.build_temp = str(tmp_path / "lib"), str(tmp_path / "temp")
    editable.ensure_finalized()
    editable.run()
    assert editable.get_outputs() == []
    assert not (tmp_path / "lib").exists()
    wheel = command_class(Distribution({"ext_modules": [Extension("nowhere", [str(tmp_path / "missing.c")])]}))
    wheel.build_lib, wheel.build_temp = str(tmp_path / "lib"), str(tmp_path / "temp")
    wheel.ensure_finalized()
    assert wheel.get_outputs() == [str(tmp_path / "lib" / f"nowhere{SUFFIX}")]
    with pytest.raises(Exception, match=r"missing\.c"):  # it tried: gcc found no such file
        wheel.run()


def test_a_process_asked_for_the_source_imports_every_module_of_the_group_from_source() -> None:
    script = (
        "import gitops_ingress.proxy as p, gitops_ingress.proxy.exchange as e, gitops_ingress.proxy.protocol as q;"
        "print(p.BUILD.kind, e.__file__.endswith('.py'), q.__file__.endswith('.py'))"
    )
    env = {**os.environ, PURE_PYTHON_ENV: "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    assert done.stdout.split() == ["source", "True", "True"]


def test_metrics_say_which_build_runs() -> None:
    text = ProxyMetrics(build="compiled").render().decode()
    assert 'gitops_ingress_proxy_build_info{build="compiled"} 1.0' in text


def test_a_group_whose_shared_library_cannot_be_imported_runs_the_source(tmp_path: Path, monkeypatch) -> None:
    """A checkout compiled in place keeps mypyc's shared library of the group in its root, on
    sys.path only when Python runs there: elsewhere the compiled modules could not load."""
    folder = package(tmp_path, compiled=True)
    (tmp_path / f"0123abcd__mypyc{SUFFIX}").write_bytes(b"")
    build = choose(folder, {})
    assert (build.kind, build.modules) == ("source", frozenset({"protocol", "exchange"}))
    assert "0123abcd__mypyc cannot be imported" in build.reason
    with pytest.raises(BuildError, match=r"PURE_PYTHON=0 .* 0123abcd__mypyc cannot be imported"):
        choose(folder, {PURE_PYTHON_ENV: "0"})
    monkeypatch.syspath_prepend(str(tmp_path))  # found now (it is never loaded by the choice)
    assert choose(folder, {}).kind == "compiled"


def test_the_proxy_imports_from_any_working_directory(tmp_path: Path) -> None:
    """An editable install compiled in place, started outside the checkout (a benchmark, a shell
    elsewhere): the proxy's modules import, compiled where the group's library is found, else
    from source; before, the first compiled import failed with ModuleNotFoundError."""
    env = {name: value for name, value in os.environ.items() if name != PURE_PYTHON_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and Path(p).resolve() != REPO)
    code = "import gitops_ingress.proxy.protocol as p; from gitops_ingress.proxy import BUILD; print(BUILD.kind, p.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    kind, path = done.stdout.split()
    assert path.endswith(".py") == (kind == "source")
