"""``gitops-ingress routes``: the compiled route table, or where one request goes.

All environments given are compiled as one routing set, as a single local proxy serves them; use
``--env`` to look at one. For one request the first line is the backend (or the 404); when the
route's ingress-nginx annotations change the answer, more lines follow, each from the code the
proxy runs: the redirect the proxy answers itself (``RouteEffects.redirect``, over ``--scheme``),
else the path, Host and X-Forwarded-Prefix the upstream gets (``RouteEffects.rewrite`` and the
effects' fields). The JSON answer carries the same as ``redirect`` and ``upstream``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gitops_ingress.cli.output import emit
from gitops_ingress.cli.sources import build_paths
from gitops_ingress.cli.variables import Variables
from gitops_ingress.core.errors import UsageError
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.routing import RouteMatch, RouteTable, normalize_host
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
    parser.add_argument(
        "--scheme",
        choices=("http", "https"),
        default="http",
        help="match one request: the listener it came in on, for force-ssl-redirect (default http)",
    )
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
        answer = match.to_dict() | _annotated(match, args.host, request_path, args.scheme)
        if args.format == "json":
            emit(json.dumps(answer, indent=2) + "\n", args.output)
        else:
            emit(f"{answer['backend'] or '404 (no rule matched)'}\n" + _annotated_lines(answer), args.output)
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


def _annotated(match: RouteMatch, host: str, target: str, scheme: str) -> dict[str, object]:
    """What the route's annotations make of the request: ``redirect`` (status and Location; the
    backend is never asked), else ``upstream`` (path and query, Host, X-Forwarded-Prefix) when an
    annotation changes it. Empty for a route without annotations."""
    effects = match.route.effects if match.route is not None else None
    if effects is None:
        return {}
    found = effects.redirect(host, target, scheme) if effects.redirects else None
    if found is not None:
        return {"redirect": {"status": found[0], "location": found[1]}}
    upstream: dict[str, str] = {}
    if effects.rewrite_target:
        upstream["target"] = effects.rewrite_request(target)
    if effects.upstream_vhost:
        upstream["host"] = effects.upstream_vhost
    if effects.x_forwarded_prefix:
        upstream["xForwardedPrefix"] = effects.x_forwarded_prefix
    return {"upstream": upstream} if upstream else {}


def _annotated_lines(answer: dict[str, Any]) -> str:
    lines = []
    if "redirect" in answer:
        redirect = answer["redirect"]
        lines.append(f"  redirect {redirect['status']} {redirect['location']} (answered by the proxy)")
    upstream = answer.get("upstream", {})
    for key, label in (
        ("target", "upstream path"),
        ("host", "upstream Host"),
        ("xForwardedPrefix", "X-Forwarded-Prefix"),
    ):
        if key in upstream:
            lines.append(f"  {label} {upstream[key]}")
    return "".join(line + "\n" for line in lines)


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
