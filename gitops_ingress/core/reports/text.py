"""Plain text for terminals: one line per finding, ``file:line:col: severity rule: message``.

Colour only when asked (the CLI asks when stdout is a terminal and NO_COLOR is unset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitops_ingress.core.findings import Severity
from gitops_ingress.core.reports import annotation_table
from gitops_ingress.core.reports.summary import ValidationReport

if TYPE_CHECKING:  # validate's text report needs no diff module (the CI step's import time)
    from gitops_ingress.core.diff import RouteDiff

_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.NOTICE: "36"}
# by ChangeKind's values (a str enum, so its members look these up)
_CHANGE_MARKS = {
    "added": "+",
    "removed": "-",
    "retargeted": "~",
    "path-type": "~",
    "shadowed": "!",
    "host": "~",
    "default-backend": "~",
    "annotation": "~",
    "tls": "~",
}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def render_findings(report: ValidationReport, *, color: bool = False) -> str:
    lines = []
    for finding in report.findings:
        where = str(finding.position)
        severity = _paint(finding.severity.value, _COLORS[finding.severity], color)
        lines.append(f"{where}: {severity} {finding.rule}: {finding.message}")
        if finding.hint:
            lines.append(f"    hint: {finding.hint}")
    lines += annotation_table.text_lines(report.annotations)
    lines.append(_paint(report.headline(), "32" if report.ok else "31", color))
    return "\n".join(lines) + "\n"


def render_diff(diff: RouteDiff, *, color: bool = False) -> str:
    if diff.empty:
        return "no route changes\n"
    lines = []
    current_env = None
    for change in diff.changes:
        if change.environment != current_env:
            current_env = change.environment
            lines.append(_paint(f"environment {current_env or '-'}", "1", color))
        mark = _CHANGE_MARKS[change.kind]
        code = {"+": "32", "-": "31"}.get(mark, "33")
        head = f"  {mark} {change.kind.value:<15} {change.rule}".rstrip()
        lines.append(_paint(head, code, color))
        lines.append(f"      {change.message}")
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(diff.counts.items()))
    lines.append(f"{len(diff.changes)} route changes: {summary}")
    return "\n".join(lines) + "\n"
