"""Reports: findings and route diffs rendered for people, machines and CI systems.

One module per format. Every renderer is a pure function from a report object to text; the CLI
decides where the text goes. Formats for findings: text, json, github (workflow commands), junit,
sarif (2.1.0), markdown. Formats for diffs: text, json, markdown.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from gitops_ingress.core.errors import UsageError
from gitops_ingress.core.reports.summary import ValidationReport

if TYPE_CHECKING:
    from gitops_ingress.core.diff import RouteDiff

# format -> the module that renders it (gitops_ingress.core.reports.<module>), imported when asked
# for: one validate run writes one format, and the diff formats' modules are not validate's
FINDING_FORMATS: dict[str, str] = {
    "text": "text",
    "json": "jsonfmt",
    "github": "github",
    "junit": "junit",
    "sarif": "sarif",
    "markdown": "markdown",
}

DIFF_FORMATS: dict[str, str] = {
    "text": "text",
    "json": "jsonfmt",
    "markdown": "markdown",
}


def _render(formats: dict[str, str], function: str, fmt: str, subject: object, color: bool) -> str:
    try:
        module = formats[fmt]
    except KeyError as exc:
        raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(formats)}") from exc
    renderer = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    return str(renderer(subject, color=color) if fmt == "text" else renderer(subject))


def render_findings(fmt: str, report: ValidationReport, *, color: bool = False) -> str:
    return _render(FINDING_FORMATS, "render_findings", fmt, report, color)


def render_diff(fmt: str, diff: RouteDiff, *, color: bool = False) -> str:
    return _render(DIFF_FORMATS, "render_diff", fmt, diff, color)


__all__ = ["DIFF_FORMATS", "FINDING_FORMATS", "ValidationReport", "render_diff", "render_findings"]
