"""``gitops-ingress diff``: what a branch changes, as routes and example requests.

``diff --base REF --head REF [--repo DIR]`` reads both sides straight from git; ``diff DIR_A
DIR_B`` compares two folders. Exit 0 when the diff was computed, 1 when the head side has error
findings (the diff is still printed, so a reviewer sees both), 2 on usage or I/O failure.
"""

from __future__ import annotations

import argparse
import sys

from gitops_ingress.cli.output import emit, wants_color
from gitops_ingress.cli.sources import build_two_folders, refuse_nothing_to_check
from gitops_ingress.cli.variables import Variables
from gitops_ingress.core.build import TreeBuild
from gitops_ingress.core.diff import diff_environments
from gitops_ingress.core.errors import UsageError
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.reports import DIFF_FORMATS, render_diff


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


def _sides(args: argparse.Namespace, variables: Variables) -> tuple[TreeBuild, TreeBuild]:
    if args.dirs:
        if len(args.dirs) != 2 or args.base or args.head:
            raise UsageError("give either two folders (DIR_A DIR_B) or --base REF --head REF")
        return build_two_folders(args.dirs[0], args.dirs[1], variables, args.env)
    if not (args.base and args.head):
        raise UsageError("give either two folders (DIR_A DIR_B) or --base REF --head REF")
    # Imported here: GitPython costs a tenth of a second that a folder diff does not need.
    from gitops_ingress.cli.gitsource import build_ref

    sides = build_ref(args.repo, args.base, variables, args.env), build_ref(args.repo, args.head, variables, args.env)
    refuse_nothing_to_check(*sides, environment=args.env, refs=f"--base {args.base} --head {args.head}")
    return sides


def run(args: argparse.Namespace, variables: Variables) -> int:
    base, head = _sides(args, variables)
    diff = diff_environments(base.tables(), head.tables())
    emit(render_diff(args.format, diff, color=wants_color(args.output)), args.output)
    errors = [f for f in head.all_findings() if f.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        print(
            f"head has {len(errors)} error finding(s), first: {first.position}: {first.rule}: {first.message}",
            file=sys.stderr,
        )
        return 1
    return 0
