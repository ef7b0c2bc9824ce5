"""``gitops-ingress routes``: the compiled route table, or where one request goes.

All environments given are compiled as one routing set, as a single local proxy serves them; use
``--env`` to look at one.
"""

from __future__ import annotations

import argparse
import json
import sys

from gitops_ingress.cli.output import emit
from gitops_ingress.cli.sources import build_paths
from gitops_ingress.cli.variables import Variables
from gitops_ingress.core.errors import UsageError
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.routing import RouteTable, normalize_host
from gitops_ingress.core.routing.paths import UnsafePath, normalize_target


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "routes",
        help="show the compiled route table, or where one request goes",
        description="Show the compiled route table, or the single match for --host and --path.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="file or folder (default: environments/)")
    parser.add_argument("--env", metavar="NAME", help="only this environment")
    parser.add_argument("--host", help="match one request: its Host header")
    parser.add_argument("--path", dest="request_path", metavar="PATH", help="match one request: its path (default /)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--output", metavar="FILE", help="write the answer here instead of stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, variables: Variables) -> int:
    if args.request_path is not None and args.host is None:
        raise UsageError("--path goes with --host")
    built = build_paths(args.paths, variables, args.env)
    table = RouteTable.merge(built.tables())
    errors = [f for f in built.all_findings() if f.severity is Severity.ERROR]
    if args.host is not None:
        try:  # matched as the proxy matches it (docs/routing.md)
            request_path = normalize_target(args.request_path or "/")
        except UnsafePath as exc:
            raise UsageError(f"--path {args.request_path!r}: the proxy answers 400 for it ({exc})") from exc
        match = table.match(normalize_host(args.host), request_path)
        answer = match.to_dict()
        if args.format == "json":
            emit(json.dumps(answer, indent=2) + "\n", args.output)
        else:
            emit(f"{answer['backend'] or '404 (no rule matched)'}\n", args.output)
    else:
        emit(_render_table(table, args.format), args.output)
    if errors:
        first = errors[0]
        print(
            f"{first.position}: {first.rule}: {first.message} (and {len(errors) - 1} more errors; run validate)",
            file=sys.stderr,
        )
        return 1
    return 0


def _render_table(table: RouteTable, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(table.to_dict(), indent=2) + "\n"
    rows = [("HOST", "PATH", "TYPE", "BACKEND", "INGRESS", "SOURCE")]
    for route in table.routes:
        rows.append(
            (route.host or "*", route.path or "(any)", route.path_type, str(route.backend), route.ingress, route.source)
        )
    if table.default_backend is not None:
        default = table.default_backend
        rows.append(("(default)", "", "", str(default.backend), default.ingress, default.source))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"
