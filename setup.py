"""Build hook: two groups compiled to C with mypyc, the proxy's request path and validation's hot
loops; everything else stays Python.

All metadata lives in pyproject.toml. This file only adds the extension modules. Why: the request
path is a chain of small methods on objects with fixed attributes, which is where CPython spends
most of its time per request (attribute lookups, calls, boxing); mypyc turns the same annotated
source into C that does those natively, and the proxy reaches nginx's throughput with it
(bench/proxy.py). Validation of a large repository is the same kind of work, per line and per
field: the fast YAML reader's line loop, its position trie and the per-object type walk and API
checks (bench/validate.py). The source stays the one implementation, and tests run on both builds.

Each group is its own mypyc run, so neither binds to the other's classes: each is loaded whole,
compiled or from source, on its own (gitops_ingress/compiled.py).

What gets compiled (gitops_ingress/compiled.py has the rule from the running side):

* every wheel: ``pip install .``, the Docker image and released wheels run the compiled build;
* not an editable install (``pip install -e .``): a checkout runs the source it shows, so an edit
  is never shadowed by an older compiled file;
* a checkout in place only when asked: ``python3 setup.py build_ext --inplace`` (scripts/test does
  this before its first pass). Those files are then used until rebuilt or deleted.

Compiling is best effort: without a C compiler (or with ``GITOPS_INGRESS_NO_COMPILE=1``) the
extensions are skipped and the package runs as plain Python, only slower.
"""

from __future__ import annotations

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# The modules every request passes through (docs/proxy.md lists them; tests/proxy/test_build.py
# holds the two lists equal). Only these: compiled modules bind to each other's classes
# directly, so the group is loaded whole or not at all (gitops_ingress/compiled.py).
REQUEST_PATH = (
    "annotated",  # only for routes with ingress-nginx annotations (decide.py)
    "config",  # ProxySettings, read on every request
    "decide",
    "exchange",
    "flow",
    "forwarded",
    "forwarding",
    "h2conn",  # HTTP/2 from clients: the connection, its frame layer, HPACK, streams and fields
    "h2decode",
    "h2encode",
    "h2fields",
    "h2frames",
    "h2stream",
    "h2wire",
    "httpdate",  # the Date line, on every response the proxy writes or lacks one
    "metrics",
    "pool",
    "protocol",
    "repeats",
    "server",  # ServerState and ConnectionContext, read on every request
    "snapshot",
    "timers",
    "upstream",
)

# Validation's hot modules below gitops_ingress/core: pure, no I/O (tests/test_build_groups.py
# holds this list equal to what a compiled build loads).
VALIDATION_PATH = (
    "fastyaml",  # the line loop of every manifest read
    "positions",  # the field-path trie the reader walks and the marks it fills
    "validation/api",  # the API server's per-object rules
    "validation/names",
    "validation/reporter",
    "validation/schema",  # the JSON type walk over every field
)


class BuildRequestPath(build_ext):
    """setuptools' build_ext, minus the editable install: that one runs the source."""

    def run(self) -> None:
        if self.editable_mode:
            print("gitops-ingress: editable install, the request path runs from source (setup.py)")
            return
        super().run()

    def get_outputs(self) -> list[str]:
        return [] if self.editable_mode else super().get_outputs()

    def get_output_mapping(self) -> dict[str, str]:
        return {} if self.editable_mode else super().get_output_mapping()


def compiled_extensions() -> list[Extension]:
    if os.environ.get("GITOPS_INGRESS_NO_COMPILE") == "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # built without the build requirements (no isolation, no mypy)
        return []
    groups = (
        [f"gitops_ingress/proxy/{name}.py" for name in REQUEST_PATH],
        [f"gitops_ingress/core/{name}.py" for name in VALIDATION_PATH],
    )
    # third-party packages are not installed in an isolated build: their types are Any there
    # the project's own mypy settings (strict, for the gate) are not the compiler's: it gets none
    extensions = [
        extension
        for paths in groups
        for extension in mypycify(["--config-file", os.devnull, "--ignore-missing-imports", *paths], opt_level="3")
    ]
    for extension in extensions:
        extension.optional = True  # a failed compile leaves the Python source in charge
    return extensions


if __name__ == "__main__":  # setuptools runs this file as __main__; tests import it for the groups
    setup(ext_modules=compiled_extensions(), cmdclass={"build_ext": BuildRequestPath})
