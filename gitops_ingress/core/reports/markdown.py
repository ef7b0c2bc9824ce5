"""Markdown for pull-request comments and ``$GITHUB_STEP_SUMMARY``.

Hosts, paths, messages and backends come from the pull request under review, so nothing of them
may become markup: values shown as written (hosts, paths, requests, backends) are code spans, and
free text escapes only what would end a cell or start HTML, a code span or an entity.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from gitops_ingress.core.reports import annotation_table
from gitops_ingress.core.reports.summary import ValidationReport

if TYPE_CHECKING:
    from gitops_ingress.core.diff import RouteDiff

_CHANGE_TITLES = {
    "added": "Added",
    "removed": "Removed",
    "retargeted": "Re-targeted",
    "path-type": "pathType changed",
    "shadowed": "Shadowed",
    "host": "Host group",
    "default-backend": "Default backend",
    "annotation": "Answer changed",
    "tls": "TLS",
}


def cell(value: object) -> str:
    """Free text in a table cell: only what would end the cell, start HTML or a code span, or
    turn an entity into another character is escaped; ``->`` stays ``->``."""
    text = str(value)
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), ("|", "\\|"), ("`", "\\`")):
        text = text.replace(char, escaped)
    return text.replace("\r", " ").replace("\n", " ")


def code(value: object) -> str:
    """A value shown as written (a host, path or backend) as a code span: nothing inside is
    markdown or HTML. The fence is longer than any run of backticks in the value; ``|`` is still
    escaped, as GitHub's tables require even inside code."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    if not text:
        return ""
    shown = text.replace("|", "\\|")
    fence = "`" * (max(len(run) for run in re.findall("`*", text)) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def render_findings(report: ValidationReport) -> str:
    icon = "✅" if report.ok else "❌"
    lines = [f"### {icon} gitops-ingress validate", "", cell(report.headline()), ""]
    if report.findings:
        lines += ["| Severity | File | Line | Rule | Message |", "| --- | --- | --- | --- | --- |"]
        for finding in report.findings:
            message = finding.message + (f" (hint: {finding.hint})" if finding.hint else "")
            lines.append(
                f"| {finding.severity.value} | {cell(finding.file)} | {finding.line or ''} "
                f"| {cell(finding.rule)} | {cell(message)} |"
            )
        lines.append("")
    lines += annotation_table.markdown_table(report.annotations, cell)
    return "\n".join(lines)


def render_diff(diff: RouteDiff) -> str:
    lines = ["### gitops-ingress route diff", ""]
    if diff.empty:
        return "\n".join(lines + ["No route changes.", ""])
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(diff.counts.items()))
    lines += [f"{len(diff.changes)} route changes: {summary}", ""]
    lines += [
        "| Environment | Change | Rule | Example request | Before | After | Note |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for change in diff.changes:
        # a TLS entry's sides are Secrets (none: no TLS); every other entry's are backends (404)
        missing = "none" if change.request is None else "404"
        request = code(change.request) if change.request is not None else ""
        if change.before_answer is not None and change.after_answer is not None:  # what the proxy does
            before, after = code(change.before_answer), code(change.after_answer)
        else:
            before, after = code(change.before or missing), code(change.after or missing)
        lines.append(
            f"| {cell(change.environment)} | {_CHANGE_TITLES[change.kind.value]} | {code(change.rule)} "
            f"| {request} | {before} | {after} | {cell(change.detail)} |"
        )
    lines.append("")
    return "\n".join(lines)
