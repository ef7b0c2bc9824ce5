"""SARIF 2.1.0, for GitHub code scanning and other static-analysis dashboards.

One run, our tool as the driver with every rule that fired listed once, one result per finding with
a physical location relative to the repository root (``%SRCROOT%``).

The annotation support table travels in the run's property bag (``properties.annotations``, the
same objects as the ``annotations`` list of ``--format json``), which every SARIF consumer keeps
and none has to understand. Ignored and refused keys already are results (their findings, at
every use); a key honoured with a difference is no finding, so it becomes one result of level
``note`` (rule ``annotation/difference``) at its first use: a dashboard shows the difference where
the annotation is written without it failing anything.
"""

from __future__ import annotations

import json
from typing import Any

from gitops_ingress.core.annotations import Status
from gitops_ingress.core.annotations.usage import AnnotationUse
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.reports import annotation_table
from gitops_ingress.core.reports.summary import ValidationReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/gitops-ingress/gitops-ingress"
DIFFERENCE_RULE = "annotation/difference"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "note"}


def _result(rule: str, level: str, text: str, file: str, line: int, column: int = 0) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": file, "uriBaseId": "%SRCROOT%"}}
    if line > 0:
        region = {"startLine": line}
        if column > 0:
            region["startColumn"] = column
        location["region"] = region
    return {"ruleId": rule, "level": level, "message": {"text": text}, "locations": [{"physicalLocation": location}]}


def _difference(use: AnnotationUse) -> dict[str, Any]:
    text = f'annotation "{use.key}" is {annotation_table.summary(use)}.'
    return _result(DIFFERENCE_RULE, "note", text, use.file, use.line)


def render_findings(report: ValidationReport) -> str:
    results = [
        _result(
            finding.rule,
            _LEVELS[finding.severity],
            finding.message + (f" Hint: {finding.hint}" if finding.hint else ""),
            finding.file,
            finding.line,
            finding.column,
        )
        for finding in report.findings
    ]
    results += [_difference(use) for use in report.annotations if use.status is Status.DIFFERENT]
    rule_ids = sorted({result["ruleId"] for result in results})
    index = {rule: position for position, rule in enumerate(rule_ids)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "gitops-ingress",
                "version": report.tool_version or "0",
                "informationUri": INFORMATION_URI,
                "rules": [
                    {"id": rule, "name": rule.replace("/", "-"), "shortDescription": {"text": rule}}
                    for rule in rule_ids
                ],
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "repository root"}}},
        "results": results,
    }
    if report.annotations:
        run["properties"] = {"annotations": annotation_table.json_list(report.annotations)}
    document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2) + "\n"
