"""The command line (DESIGN section 6): the only place where adapters are wired together.

One module per command, in the manner of pre-commit: each defines ``add_parser(subparsers)``, which
registers its options and sets ``run``, a function from the parsed options to an exit code.
Exit codes everywhere: 0 success, 1 the input has findings, 2 usage, I/O or internal failure.
Errors of our own hierarchy are printed as one line; anything else is an internal failure and is
reported without a traceback unless ``GITOPS_INGRESS_DEBUG`` is set.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from gitops_ingress import __version__
from gitops_ingress.core.errors import GitopsIngressError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_FAILURE = 2

# command name -> module under gitops_ingress.cli
COMMANDS = {
    "validate": "validate",
    "diff": "diff",
    "routes": "routes",
    "proxy": "proxy",
    "serve": "serve",
    "demo": "demo",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on usage errors, as we want
        self.print_usage(sys.stderr)
        self.exit(EXIT_FAILURE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gitops-ingress",
        description="Git branches of Kubernetes Ingress files as validated, diffed, live and previewable routing.",
    )
    parser.add_argument("--version", action="version", version=f"gitops-ingress {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"gitops_ingress.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"gitops_ingress.cli.{module_name}":
                raise
            continue  # a command still being built
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except GitopsIngressError as exc:
        print(f"gitops-ingress {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - last line of defence: no traceback for users
        if os.environ.get("GITOPS_INGRESS_DEBUG"):
            raise
        print(f"gitops-ingress {args.command}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
