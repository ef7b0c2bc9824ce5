"""Which build of the request path this process runs: compiled by mypyc, or the Python source.

setup.py compiles the modules of the request path with mypyc; each compiled file sits beside its
source (``protocol.cpython-311-x86_64-linux-gnu.so`` next to ``protocol.py``) and Python's import
system prefers it. Two cases must get the source all the same:

* ``GITOPS_INGRESS_PURE_PYTHON=1``: the test suite runs the proxy's tests a second time this way,
  so that the source, which is what a machine without a C compiler runs, stays correct on its own.
* In a source checkout, a compiled module older than its source: somebody edited the file after
  the last ``pip install -e .``, and running the stale C code would silently ignore the edit.

Compiled modules bind to each other's classes directly (attributes are struct fields, calls are C
calls), so a group that is part compiled and part source cannot work: either every compiled module
is used or none is. ``choose`` decides from the package folder and the environment; ``install``
puts a finder in front of the import system that loads the whole group from source when it must.
proxy/__init__.py runs it once, before any module of the group is imported; ``BUILD`` there says
what was chosen (the proxy logs it at start and exports it as ``gitops_ingress_proxy_build_info``).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

PURE_PYTHON_ENV = "GITOPS_INGRESS_PURE_PYTHON"


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


def choose(folder: Path, environ: Mapping[str, str]) -> Build:
    compiled = compiled_modules(folder)
    group = frozenset(compiled)
    if not compiled:
        return Build("source", "not compiled")
    if environ.get(PURE_PYTHON_ENV) == "1":
        return Build("source", f"{PURE_PYTHON_ENV}=1", group)
    if _in_source_checkout(folder):
        stale = sorted(
            name
            for name, path in compiled.items()
            if (folder / f"{name}.py").exists() and (folder / f"{name}.py").stat().st_mtime > path.stat().st_mtime
        )
        if stale:
            return Build("source", f"compiled modules older than their source: {', '.join(stale)}", group)
    return Build("compiled", "mypyc", group)


def _in_source_checkout(folder: Path) -> bool:
    """The package folder of a checkout (an editable install), not of an installed wheel: in a
    wheel's install the file times only tell the order the installer wrote the files in. Both
    tests matter: some packages install a stray pyproject.toml into site-packages."""
    installed = {"site-packages", "dist-packages"} & set(folder.parts)
    return not installed and (folder.parent.parent / "pyproject.toml").exists()


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
    """Decide, and when the source must be used, make the import system load it."""
    build = choose(folder, environ)
    if build.kind == "source" and build.modules:
        sys.meta_path.insert(0, _SourceFirst(package, folder, build.modules))
    return build
