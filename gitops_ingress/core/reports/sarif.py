"""SARIF 2.1.0, for GitHub code scanning and other static-analysis dashboards.

One run, our tool as the driver with every rule that fired listed once, one result per finding with
a physical location relative to the repository root (``%SRCROOT%``).
"""

from __future__ import annotations

import json
from typing import Any

from gitops_ingress.core.findings import Severity
from gitops_ingress.core.reports.summary import ValidationReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/gitops-ingress/gitops-ingress"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "note"}


def render_findings(report: ValidationReport) -> str:
    rule_ids = sorted({finding.rule for finding in report.findings})
    index = {rule: position for position, rule in enumerate(rule_ids)}
    results: list[dict[str, Any]] = []
    for finding in report.findings:
        location: dict[str, Any] = {"artifactLocation": {"uri": finding.file, "uriBaseId": "%SRCROOT%"}}
        if finding.line > 0:
            region = {"startLine": finding.line}
            if finding.column > 0:
                region["startColumn"] = finding.column
            location["region"] = region
        text = finding.message + (f" Hint: {finding.hint}" if finding.hint else "")
        results.append(
            {
                "ruleId": finding.rule,
                "ruleIndex": index[finding.rule],
                "level": _LEVELS[finding.severity],
                "message": {"text": text},
                "locations": [{"physicalLocation": location}],
            }
        )
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
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
        ],
    }
    return json.dumps(document, indent=2) + "\n"
