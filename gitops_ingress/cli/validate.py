"""``gitops-ingress validate``: the CI step. Exit 0 clean, 1 findings of error severity, 2 failure."""

from __future__ import annotations

import argparse

from gitops_ingress import __version__
from gitops_ingress.cli.output import emit, wants_color
from gitops_ingress.cli.sources import build_paths, refuse_nothing_to_check, repository_relative
from gitops_ingress.cli.variables import Variables
from gitops_ingress.core.errors import UsageError
from gitops_ingress.core.findings import has_errors
from gitops_ingress.core.reports import FINDING_FORMATS, ValidationReport, render_findings

# formats whose consumers (code scanning, the Actions runner) place findings by repository path
REPOSITORY_RELATIVE = frozenset({"sarif", "github"})


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "validate",
        help="validate Ingress files as the API server and an admission webhook would",
        description="Validate Ingress files: API server rules, cross-file conflicts and policy.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="file or folder (default: environments/)")
    parser.add_argument("--repo", metavar="DIR", help="a git repository to read --ref from")
    parser.add_argument("--ref", metavar="REF", help="validate this commit, branch or tag straight from git")
    parser.add_argument("--env", metavar="NAME", help="only this environment")
    parser.add_argument("--format", choices=sorted(FINDING_FORMATS), default="text")
    parser.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, variables: Variables) -> int:
    if args.ref:
        # Imported here: GitPython costs a tenth of a second that a folder check does not need.
        from gitops_ingress.cli.gitsource import build_ref

        built = build_ref(args.repo or ".", args.ref, variables, args.env, args.paths, routes=False)
        refuse_nothing_to_check(built, environment=args.env, refs=f"--ref {args.ref}")
    else:
        if args.repo:
            raise UsageError("--repo goes with --ref")
        built = build_paths(args.paths, variables, args.env, routes=False)  # findings are all validate reports
    findings = built.all_findings()
    report = ValidationReport(
        findings=tuple(findings),
        files=built.files(),
        objects=built.object_count(),
        environments=tuple(built.environments),
        tool_version=__version__,
        annotations=built.annotation_uses(),
    )
    if args.format in REPOSITORY_RELATIVE and not args.ref:  # a ref's paths are relative already
        report = repository_relative(report, args.paths[0] if args.paths else None)
    emit(render_findings(args.format, report, color=wants_color(args.output)), args.output)
    return 1 if has_errors(findings) else 0
