"""Which build of the request path this process runs: compiled by mypyc, or the Python source.

setup.py compiles the modules of the request path (its ``REQUEST_PATH``) with mypyc; each
compiled file sits beside its source (``protocol.cpython-311-x86_64-linux-gnu.so`` next to
``protocol.py``). Where those files come from is decided when the package is built, not guessed
here: every wheel (``pip install .``, the Docker image, a release) is compiled, an editable
install is not, and a checkout is compiled in place only on request
(``python3 setup.py build_ext --inplace``). At start the rule is then one line:

* compiled files present: the compiled build, the whole group (Python's import system prefers an
  extension module over its source anyway), when mypyc's shared library of the group (a
  top-level ``<hash>__mypyc`` module, in the folder that holds the package) can be imported: a
  checkout compiled in place has it in its root, which is on ``sys.path`` only when Python runs
  there, so the proxy of an editable install started from elsewhere runs the source instead of
  failing on its first import;
* ``GITOPS_INGRESS_PURE_PYTHON=1``: the source all the same. The test suite's second pass runs
  this way, so that the source, which is what a machine without a C compiler runs, stays correct;
  it also rules the compiler out when something behaves oddly in an image.
* ``GITOPS_INGRESS_PURE_PYTHON=0``: the compiled build or nothing: importing the proxy fails when
  there is nothing compiled. The test suite's first pass runs this way, so that a compile that
  failed (compiling is best effort) cannot pass for a test of the compiled build.

Compiled modules bind to each other's classes directly (attributes are struct fields, calls are C
calls), so a group that is part compiled and part source cannot work: either every compiled module
is used or none is. ``install`` puts a finder in front of the import system that loads the whole
group from source when the source is asked for. proxy/__init__.py runs it once, before any module
of the group is imported; ``BUILD`` there says what was chosen, and that is the one place the
build is reported from: the proxy logs it at start and exports it as
``gitops_ingress_proxy_build_info``.
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
    modules: frozenset[str] = frozenset()  # the compiled group (module names in the folder)


def compiled_modules(folder: Path) -> dict[str, Path]:
    """Module name -> its compiled file, for every compiled module in ``folder``."""
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)  # ".so" last
    found: dict[str, Path] = {}
    for path in folder.iterdir():
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        if suffix is not None:
            found[path.name[: -len(suffix)]] = path
    return found


def unimportable_libraries(folder: Path) -> list[str]:
    """mypyc's shared libraries of the group compiled in ``folder`` (``<hash>__mypyc`` modules in
    the folder that holds the package) that this process cannot import."""
    names = {path.name.split(".", 1)[0] for path in folder.parents[1].glob("*__mypyc.*")}
    return sorted(name for name in names if importlib.util.find_spec(name) is None)


def choose(folder: Path, environ: Mapping[str, str]) -> Build:
    group = frozenset(compiled_modules(folder))
    asked = environ.get(PURE_PYTHON_ENV)
    if asked == "1":
        return Build("source", f"{PURE_PYTHON_ENV}=1", group)
    if not group:
        if asked == "0":
            raise BuildError(
                f"{PURE_PYTHON_ENV}=0 asks for the compiled request path, but nothing in {folder} is compiled "
                f"(an editable install runs the source; compile in place with: {COMPILE_IN_PLACE})"
            )
        return Build("source", "not compiled")
    missing = unimportable_libraries(folder)
    if missing:
        why = f"{', '.join(missing)} cannot be imported from here"
        if asked == "0":
            raise BuildError(
                f"{PURE_PYTHON_ENV}=0 asks for the compiled request path, but {why} (a checkout compiled "
                "in place has it in its root: run from there)"
            )
        return Build("source", why, group)
    return Build("compiled", "mypyc", group)


class _SourceFirst:
    """A meta path finder that loads the named modules of one package from their .py files."""

    def __init__(self, package: str, folder: Path, names: frozenset[str]) -> None:
        self._package = package
        self._folder = folder
        self._names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != self._package or name not in self._names:
            return None
        return importlib.util.spec_from_file_location(fullname, self._folder / f"{name}.py")


def install(package: str, folder: Path, environ: Mapping[str, str]) -> Build:
    """Decide, and when the source must be used although compiled files exist, make the import
    system load it."""
    build = choose(folder, environ)
    if build.kind == "source" and build.modules:
        sys.meta_path.insert(0, _SourceFirst(package, folder, build.modules))
    return build
