"""Validation's compiled group (setup.py's ``VALIDATION_PATH``) follows the request path's rule
(gitops_ingress/compiled.py): one group spanning core and core/validation, used whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import gitops_ingress
import gitops_ingress.core.fastyaml as fastyaml
import gitops_ingress.core.validation.schema as schema
from gitops_ingress.compiled import PURE_PYTHON_ENV, choose, compiled_modules
from tests.proxy.test_build import SUFFIX, built_from_source, setup_py

CORE = Path(gitops_ingress.__file__).parent / "core"


def compiled_here() -> set[str]:
    """VALIDATION_PATH's spelling (``validation/api``) of every compiled module below core."""
    return {*compiled_modules(CORE), *(f"validation/{name}" for name in compiled_modules(CORE / "validation"))}


def test_a_group_spans_its_packages_folders(tmp_path: Path) -> None:
    core, validation = tmp_path / "core", tmp_path / "core" / "validation"
    validation.mkdir(parents=True)
    for folder, name in ((core, "fastyaml"), (validation, "api")):
        (folder / f"{name}.py").write_text("")
        (folder / f"{name}{SUFFIX}").write_bytes(b"")
    packages = {"gitops_ingress.core": core, "gitops_ingress.core.validation": validation}
    build = choose(packages, {})
    assert (build.kind, build.modules) == (
        "compiled",
        {"gitops_ingress.core.fastyaml", "gitops_ingress.core.validation.api"},
    )
    assert choose(packages, {PURE_PYTHON_ENV: "1"}).modules == build.modules


def test_this_test_run_uses_the_validation_build_it_asked_for() -> None:
    asked = os.environ.get(PURE_PYTHON_ENV)
    if asked in ("0", "1"):
        expected = "source" if asked == "1" else "compiled"
    else:
        expected = "compiled" if compiled_here() else "source"
    assert gitops_ingress.VALIDATION_BUILD.kind == expected, gitops_ingress.VALIDATION_BUILD.reason
    for module in (fastyaml, schema):
        assert module.__file__ is not None
        assert module.__file__.endswith(".py") == (expected == "source")


def test_a_compiled_build_is_setup_pys_whole_validation_list() -> None:
    if not compiled_here():
        pytest.skip("nothing compiled here (compile in place: python3 setup.py build_ext --inplace)")
    assert compiled_here() == set(setup_py().VALIDATION_PATH)


def test_a_process_asked_for_the_source_imports_the_whole_validation_group_from_source() -> None:
    modules = ("gitops_ingress.core.fastyaml", "gitops_ingress.core.validation.api")
    assert built_from_source("gitops_ingress.VALIDATION_BUILD.kind", modules) == ["source", "True", "True"]
