"""Build hook: the proxy's request path compiled to C with mypyc; everything else stays Python.

All metadata lives in pyproject.toml. This file only adds the extension modules. Why: the request
path is a chain of small methods on objects with fixed attributes, which is where CPython spends
most of its time per request (attribute lookups, calls, boxing); mypyc turns the same annotated
source into C that does those natively, and the proxy reaches nginx's throughput with it
(bench/proxy.py). The source stays the one implementation, and tests run on both builds.

What gets compiled (proxy/build.py has the rule from the running side):

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
# directly, so the group is loaded whole or not at all (proxy/build.py).
REQUEST_PATH = (
    "accesslog",  # with the access log on: a record per request, its lines formatted per batch
    "annotated",  # only for routes with ingress-nginx annotations (decide.py)
    "config",  # ProxySettings, read on every request
    "counting",  # the per-route request counts every answer goes into
    "decide",
    "exchange",
    "flow",
    "forwarded",
    "forwarding",
    "response_head",
    "routecache",  # what decide.py asks first: the per-snapshot route cache
    "h2conn",  # HTTP/2 from clients: the connection, its frame layer, HPACK, streams and fields
    "h2blocks",
    "h2decode",
    "h2encode",
    "h2fields",
    "h2frames",
    "h2stream",
    "h2wire",
    "h2upstream_stream",  # one request on an HTTP/2 upstream: an Upstream, as upstream.py's connection
    "headerkinds",  # request header names sorted by what forwarding.py does with them
    "httpdate",  # the Date line, on every response the proxy writes or lacks one
    "linger",  # asked at every close whether the connection lingers (protocol.py)
    "metrics",
    "pool",
    "protocol",
    "repeats",
    "request_reader",  # HTTP/1.1 requests read off a client connection (protocol.py)
    "server",  # ServerState and ConnectionContext, read on every request
    "snapshot",
    "timers",
    "tlsalerts",  # its ALPN check of every ClientHello that selected no protocol
    "tlsconn",  # the TLS record layer of HTTPS client connections
    "upstream",
    "upstream_reader",  # its parser callbacks' helpers: the trailer reader, where a head lies
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
    paths = [f"gitops_ingress/proxy/{name}.py" for name in REQUEST_PATH]
    # third-party packages are not installed in an isolated build: their types are Any there
    # the project's own mypy settings (strict, for the gate) are not the compiler's: it gets none
    extensions = mypycify(["--config-file", os.devnull, "--ignore-missing-imports", *paths], opt_level="3")
    # one whole request head in one C call (its source says what it takes and why that is safe);
    # in a folder below proxy/, so that it is no module of the mypyc group (proxy/build.py counts those)
    extensions.append(
        Extension(
            "gitops_ingress.proxy.native._headscan",
            ["gitops_ingress/proxy/native/headscan.c"],
            extra_compile_args=["-O2"],
        )
    )
    for extension in extensions:
        extension.optional = True  # a failed compile leaves the Python source in charge
    return extensions


if __name__ == "__main__":  # setuptools runs this file as __main__; tests import it for REQUEST_PATH
    setup(ext_modules=compiled_extensions(), cmdclass={"build_ext": BuildRequestPath})
