"""Which build of a compiled group this process runs: compiled by mypyc, or the Python source.

setup.py compiles two groups of modules with mypyc: the proxy's request path (``REQUEST_PATH``)
and validation's hot loops (``VALIDATION_PATH``: the fast YAML reader, its positions and the
per-object API checks). Each compiled file sits beside its source
(``protocol.cpython-311-x86_64-linux-gnu.so`` next to ``protocol.py``). Where those files come
from is decided when the package is built, not guessed here: every wheel (``pip install .``, the
Docker image, a release) is compiled, an editable install is not, and a checkout is compiled in
place only on request (``python3 setup.py build_ext --inplace``). At start the rule, the same for
both groups, is then one line:

* compiled files present: the compiled build, the whole group (Python's import system prefers an
  extension module over its source anyway);
* ``GITOPS_INGRESS_PURE_PYTHON=1``: the source all the same. The test suite's second pass runs
  this way, so that the source, which is what a machine without a C compiler runs, stays correct;
  it also rules the compiler out when something behaves oddly in an image.
* ``GITOPS_INGRESS_PURE_PYTHON=0``: the compiled build or nothing: importing the group fails when
  there is nothing compiled. The test suite's first pass runs this way, so that a compile that
  failed (compiling is best effort) cannot pass for a test of the compiled build.

Compiled modules bind to each other's classes directly (attributes are struct fields, calls are C
calls), so a group that is part compiled and part source cannot work: either every compiled module
is used or none is. ``install`` puts a finder in front of the import system that loads the whole
group from source when the source is asked for. It runs once per group, before any module of the
group is imported: proxy/__init__.py for the request path (``BUILD`` there is what the proxy logs
at start and exports as ``gitops_ingress_proxy_build_info``), the package's ``__init__.py`` for
validation's group (``VALIDATION_BUILD``), since core is imported by everything.

This module is a leaf (it imports only core's errors), so both the package root and the proxy can
use it without breaking the layers of docs/dev/architecture.md.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from gitops_ingress.core.errors import ConfigError

PURE_PYTHON_ENV = "GITOPS_INGRESS_PURE_PYTHON"
COMPILE_IN_PLACE = "python3 setup.py build_ext --inplace"


class BuildError(ConfigError):
    """The compiled build was demanded (``GITOPS_INGRESS_PURE_PYTHON=0``) and is not there."""


@dataclass(frozen=True, slots=True)
class Build:
    kind: str  # "compiled" or "source"
    reason: str  # why, in a few words (for logs and metrics)
    modules: frozenset[str] = frozenset()  # the compiled group (full module names)


def compiled_modules(folder: Path) -> dict[str, Path]:
    """Module name -> its compiled file, for every compiled module in ``folder``."""
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)  # ".so" last
    found: dict[str, Path] = {}
    for path in folder.iterdir():
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        if suffix is not None:
            found[path.name[: -len(suffix)]] = path
    return found


def _group_sources(packages: Mapping[str, Path]) -> dict[str, Path]:
    """Full module name -> its source file, for every compiled module of the group's packages."""
    return {
        f"{package}.{name}": folder / f"{name}.py"
        for package, folder in packages.items()
        for name in compiled_modules(folder)
    }


def choose(packages: Mapping[str, Path], environ: Mapping[str, str]) -> Build:
    """The build of the group whose modules live in ``packages`` (package name -> its folder)."""
    sources = _group_sources(packages)
    group = frozenset(sources)
    asked = environ.get(PURE_PYTHON_ENV)
    if asked == "1":
        return Build("source", f"{PURE_PYTHON_ENV}=1", group)
    if not group:
        if asked == "0":
            folders = ", ".join(str(folder) for folder in packages.values())
            raise BuildError(
                f"{PURE_PYTHON_ENV}=0 asks for the compiled build, but nothing in {folders} is compiled "
                f"(an editable install runs the source; compile in place with: {COMPILE_IN_PLACE})"
            )
        return Build("source", "not compiled")
    return Build("compiled", "mypyc", group)


class _SourceFirst:
    """A meta path finder that loads the named modules from their .py files."""

    def __init__(self, sources: Mapping[str, Path]) -> None:
        self._sources = dict(sources)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        source = self._sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def install(packages: Mapping[str, Path], environ: Mapping[str, str]) -> Build:
    """Decide, and when the source must be used although compiled files exist, make the import
    system load it."""
    build = choose(packages, environ)
    if build.kind == "source" and build.modules:
        sys.meta_path.insert(0, _SourceFirst(_group_sources(packages)))
    return build
