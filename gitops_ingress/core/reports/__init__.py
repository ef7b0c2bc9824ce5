"""Reports: findings and route diffs rendered for people, machines and CI systems.

One module per format. Every renderer is a pure function from a report object to text; the CLI
decides where the text goes. Formats for findings: text, json, github (workflow commands), junit,
sarif (2.1.0), markdown. Formats for diffs: text, json, markdown.
"""

from __future__ import annotations

from collections.abc import Callable

from gitops_ingress.core.diff import RouteDiff
from gitops_ingress.core.errors import UsageError
from gitops_ingress.core.reports import github, jsonfmt, junit, markdown, sarif, text
from gitops_ingress.core.reports.summary import ValidationReport

FINDING_FORMATS: dict[str, Callable[..., str]] = {
    "text": text.render_findings,
    "json": jsonfmt.render_findings,
    "github": github.render_findings,
    "junit": junit.render_findings,
    "sarif": sarif.render_findings,
    "markdown": markdown.render_findings,
}

DIFF_FORMATS: dict[str, Callable[..., str]] = {
    "text": text.render_diff,
    "json": jsonfmt.render_diff,
    "markdown": markdown.render_diff,
}


def _render(formats: dict[str, Callable[..., str]], fmt: str, subject: object, color: bool) -> str:
    try:
        renderer = formats[fmt]
    except KeyError as exc:
        raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(formats)}") from exc
    return renderer(subject, color=color) if fmt == "text" else renderer(subject)


def render_findings(fmt: str, report: ValidationReport, *, color: bool = False) -> str:
    return _render(FINDING_FORMATS, fmt, report, color)


def render_diff(fmt: str, diff: RouteDiff, *, color: bool = False) -> str:
    return _render(DIFF_FORMATS, fmt, diff, color)


__all__ = ["DIFF_FORMATS", "FINDING_FORMATS", "ValidationReport", "render_diff", "render_findings"]
