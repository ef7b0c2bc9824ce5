"""The command line (docs/cli.md): the only place where adapters are wired together.

One module per command, in the manner of pre-commit: each defines ``add_parser(subparsers)``, which
registers its options and sets ``run``, a function from the parsed options to an exit code. Only
the module of the command being run is imported: ``validate`` in a CI job must not pay for
loading uvicorn and the Kubernetes clients that ``serve`` and ``proxy`` need.
Exit codes everywhere: 0 success, 1 the input has findings, 2 usage, I/O or internal failure.
Errors of our own hierarchy are printed as one line; anything else is an internal failure and is
reported without a traceback unless ``GITOPS_INGRESS_DEBUG`` is set.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from gitops_ingress import __version__
from gitops_ingress.core.errors import GitopsIngressError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_FAILURE = 2

# command name -> one-line help; each lives in the module gitops_ingress.cli.<name>
COMMANDS = {
    "validate": "validate Ingress files as the API server and an admission webhook would",
    "diff": "diff two branches or folders as routes and requests",
    "routes": "show the compiled route table, or where one request goes",
    "proxy": "run the L7 proxy (the data plane)",
    "serve": "run the control plane: watch a repository, apply branches, serve previews",
    "demo": "start a self-contained demo with a sample repository, backends, control plane and proxy",
}


def add_routing_options(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--secret-dir`` and ``--preview-domain``, the same for ``proxy`` and ``serve``."""
    parser.add_argument(
        "--backend",
        action="append",
        default=[],
        metavar="[NS/]SERVICE:PORT=URL",
        help="where a Service port lives (repeatable; several URLs are several endpoints)",
    )
    parser.add_argument(
        "--secret-dir",
        metavar="DIR",
        help="Secrets of auth-type: basic Ingresses: DIR/<namespace>/<name>/auth or DIR/<name>/auth",
    )
    parser.add_argument("--preview-domain", metavar="DOMAIN", help="domain of the preview hosts")


def log_to_stderr() -> None:
    """Logging of the long-running commands (``proxy``, ``serve``): INFO and up, on stderr."""
    import logging  # here: the one-shot commands log nothing, and the module takes a few ms to load

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 on usage errors, as we want
        self.print_usage(sys.stderr)
        self.exit(EXIT_FAILURE, f"{self.prog}: error: {message}\n")


def _chosen_command(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; with ``argv`` given, only the chosen command's module is imported."""
    chosen = _chosen_command(argv)
    parser = _Parser(
        prog="gitops-ingress",
        description="Git branches of Kubernetes Ingress files as validated, diffed, live and previewable routing.",
    )
    parser.add_argument("--version", action="version", version=f"gitops-ingress {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name, help_text in COMMANDS.items():
        if chosen is None or name == chosen:
            importlib.import_module(f"gitops_ingress.cli.{name}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


# Commands that load a configuration once and exit. Loading allocates about a million small
# objects that all stay alive, and the cyclic collector would rescan that growing heap again and
# again (it doubled the time of validating 10,000 Ingresses); nothing built forms cycles, and the
# process ends right after. Long-running commands keep the collector.
ONE_SHOT = frozenset({"validate", "diff", "routes"})


def main(argv: Sequence[str] | None = None) -> int:
    whole_process = argv is None  # the console script, not a caller inside a longer-lived process
    argv = list(sys.argv[1:] if argv is None else argv)
    if whole_process and _chosen_command(argv) in ONE_SHOT:
        gc.disable()
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    tracebacks = False  # GITOPS_INGRESS_DEBUG, once the variables are read
    try:
        # Imported here: pydantic-settings is needed only once a command runs (not for --help).
        from gitops_ingress.cli.variables import Variables

        variables = Variables.read(os.environ)  # the one read of GITOPS_INGRESS_*, passed down
        tracebacks = variables.tracebacks
        return int(args.run(args, variables))
    except GitopsIngressError as exc:
        print(f"gitops-ingress {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if tracebacks:
            raise
        print(f"gitops-ingress {args.command}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
