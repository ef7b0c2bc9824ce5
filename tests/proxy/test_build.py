"""Which build of the request path runs (proxy/build.py): compiled by mypyc, or the source."""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
from pathlib import Path

import gitops_ingress.proxy
from gitops_ingress.proxy.build import PURE_PYTHON_ENV, choose, compiled_modules
from gitops_ingress.proxy.metrics import ProxyMetrics

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # this interpreter's own, e.g. .cpython-311-x86_64-linux-gnu.so


def package(root: Path, *, checkout: bool, compiled: bool, source_newer: tuple[str, ...] = ()) -> Path:
    """A package folder with two request-path modules, compiled or not, inside a source checkout
    (pyproject.toml two levels up) or as an installed package."""
    folder = root / "gitops_ingress" / "proxy"
    folder.mkdir(parents=True)
    if checkout:
        (root / "pyproject.toml").write_text("[project]\n")
    for name in ("protocol", "exchange"):
        source = folder / f"{name}.py"
        source.write_text("")
        if compiled:
            binary = folder / f"{name}{SUFFIX}"
            binary.write_bytes(b"")
            os.utime(source, (1_000, 1_000))
            os.utime(binary, (2_000, 2_000))
            if name in source_newer:
                os.utime(source, (3_000, 3_000))
    return folder


def test_compiled_files_are_named_by_their_module(tmp_path: Path) -> None:
    folder = package(tmp_path, checkout=False, compiled=True)
    (folder / "plain.abi3.so").write_bytes(b"")
    assert sorted(compiled_modules(folder)) == ["exchange", "plain", "protocol"]


def test_nothing_compiled_runs_the_source(tmp_path: Path) -> None:
    build = choose(package(tmp_path, checkout=True, compiled=False), {})
    assert (build.kind, build.reason) == ("source", "not compiled")


def test_compiled_modules_are_used_when_fresh(tmp_path: Path) -> None:
    build = choose(package(tmp_path, checkout=True, compiled=True), {})
    assert build.kind == "compiled"
    assert build.modules == {"protocol", "exchange"}


def test_the_environment_can_ask_for_the_source(tmp_path: Path) -> None:
    build = choose(package(tmp_path, checkout=True, compiled=True), {PURE_PYTHON_ENV: "1"})
    assert build.kind == "source"
    assert build.modules == {"protocol", "exchange"}  # the whole group is loaded from source
    assert choose(package(tmp_path / "b", checkout=True, compiled=True), {PURE_PYTHON_ENV: "0"}).kind == "compiled"


def test_an_edited_source_in_a_checkout_wins_over_its_stale_compiled_module(tmp_path: Path) -> None:
    build = choose(package(tmp_path, checkout=True, compiled=True, source_newer=("exchange",)), {})
    assert build.kind == "source"
    assert "exchange" in build.reason and "protocol" not in build.reason
    assert build.modules == {"protocol", "exchange"}  # never half compiled, half source


def test_an_installed_package_trusts_its_compiled_modules(tmp_path: Path) -> None:
    # installers write files in any order: file times say nothing about staleness there
    build = choose(package(tmp_path, checkout=False, compiled=True, source_newer=("exchange",)), {})
    assert build.kind == "compiled"
    # ... even where another package left a pyproject.toml in site-packages (some do)
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    build = choose(package(site, checkout=True, compiled=True, source_newer=("exchange",)), {})
    assert build.kind == "compiled"


def test_this_test_run_uses_the_build_it_asked_for() -> None:
    """scripts/test builds the request path with mypyc and runs the proxy's tests on it, then once
    more on the source: a compile that silently failed would leave the suite testing the wrong one."""
    expected = "source" if os.environ.get(PURE_PYTHON_ENV) == "1" else "compiled"
    assert gitops_ingress.proxy.BUILD.kind == expected, gitops_ingress.proxy.BUILD.reason
    import gitops_ingress.proxy.protocol as protocol

    assert protocol.__file__ is not None
    assert protocol.__file__.endswith(".py") == (expected == "source")


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
