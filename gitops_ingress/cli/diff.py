"""``gitops-ingress diff``: what a branch changes, as routes and example requests.

``diff --base REF --head REF [--repo DIR]`` reads both sides straight from git; ``diff DIR_A
DIR_B`` compares two folders. Exit 0 when the diff was computed, 1 when the head side has error
findings (the diff is still printed, so a reviewer sees both), 2 on usage or I/O failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gitops_ingress.cli.output import emit, wants_color
from gitops_ingress.cli.sources import settings_from_folder, snapshot_from_paths
from gitops_ingress.core.config import ConfigSnapshot
from gitops_ingress.core.diff import diff_environments
from gitops_ingress.core.errors import UsageError
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.reports import DIFF_FORMATS, render_diff
from gitops_ingress.core.routing import RouteTable, compile_environments


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "diff",
        help="diff two branches or folders as routes and requests",
        description="Routes added, removed and re-targeted between two refs or two folders.",
    )
    parser.add_argument("dirs", nargs="*", metavar="DIR", help="DIR_A DIR_B: compare two folders")
    parser.add_argument("--base", metavar="REF", help="the base ref (e.g. main)")
    parser.add_argument("--head", metavar="REF", help="the head ref (e.g. the pull request's branch)")
    parser.add_argument("--repo", metavar="DIR", default=".", help="the git repository (default: .)")
    parser.add_argument("--env", metavar="NAME", help="only this environment")
    parser.add_argument("--format", choices=sorted(DIFF_FORMATS), default="text")
    parser.add_argument("--output", metavar="FILE", help="write the diff here instead of stdout")
    parser.set_defaults(run=run)


def _tables(snapshot: ConfigSnapshot) -> dict[str, RouteTable]:
    return compile_environments({name: env.ingresses for name, env in snapshot.environments.items()}, snapshot.settings)


def _sides(args: argparse.Namespace) -> tuple[ConfigSnapshot, ConfigSnapshot, list[Finding]]:
    if args.dirs:
        if len(args.dirs) != 2 or args.base or args.head:
            raise UsageError("give either two folders (DIR_A DIR_B) or --base REF --head REF")
        settings, findings = settings_from_folder(Path("."))
        base, _ = snapshot_from_paths([args.dirs[0]], settings, args.env)
        head, head_read = snapshot_from_paths([args.dirs[1]], settings, args.env)
        return base, head, findings + head_read
    if not (args.base and args.head):
        raise UsageError("give either two folders (DIR_A DIR_B) or --base REF --head REF")
    # Imported here: GitPython costs a tenth of a second that a folder diff does not need.
    from gitops_ingress.cli.gitsource import snapshot_from_ref

    base, _ = snapshot_from_ref(args.repo, args.base, args.env)
    head, head_read = snapshot_from_ref(args.repo, args.head, args.env)
    return base, head, head_read


def run(args: argparse.Namespace) -> int:
    base, head, head_findings = _sides(args)
    diff = diff_environments(_tables(base), _tables(head))
    emit(render_diff(args.format, diff, color=wants_color(args.output)), args.output)
    errors = [f for f in head_findings + head.all_findings() if f.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        print(
            f"head has {len(errors)} error finding(s), first: {first.position}: {first.rule}: {first.message}",
            file=sys.stderr,
        )
        return 1
    return 0
