"""Markdown for pull-request comments and ``$GITHUB_STEP_SUMMARY``.

Table cells are escaped (``|``, backticks, HTML-significant characters) because hosts, paths and
messages come from the pull request under review.
"""

from __future__ import annotations

from gitops_ingress.core.diff import RouteDiff
from gitops_ingress.core.reports import annotation_table
from gitops_ingress.core.reports.summary import ValidationReport

_CHANGE_TITLES = {
    "added": "Added",
    "removed": "Removed",
    "retargeted": "Re-targeted",
    "shadowed": "Shadowed",
    "default-backend": "Default backend",
    "tls": "TLS",
}


def cell(value: object) -> str:
    text = str(value)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "&#96;")):
        text = text.replace(char, entity)
    return text.replace("\r", " ").replace("\n", " ")


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
        "| Environment | Change | Rule | Example request | Before | After |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for change in diff.changes:
        rule = "" if change.path_type == "Default" else f"{change.host or '*'}{change.path} ({change.path_type})"
        request = change.request if change.request is not None else change.message
        lines.append(
            f"| {cell(change.environment)} | {_CHANGE_TITLES[change.kind.value]} | {cell(rule)} "
            f"| {cell(request)} | {cell(change.before or '404')} | {cell(change.after or '404')} |"
        )
    lines.append("")
    return "\n".join(lines)
