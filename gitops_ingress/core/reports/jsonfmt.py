"""JSON for machines: stable keys, every field of every finding or change."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from gitops_ingress.core.reports import annotation_table
from gitops_ingress.core.reports.summary import ValidationReport

if TYPE_CHECKING:
    from gitops_ingress.core.diff import RouteDiff


def render_findings(report: ValidationReport) -> str:
    document = {
        "ok": report.ok,
        "counts": report.counts,
        "files": list(report.files),
        "objects": report.objects,
        "environments": list(report.environments),
        "findings": [finding.to_dict() for finding in report.findings],
        "annotations": annotation_table.json_list(report.annotations),
    }
    return json.dumps(document, indent=2) + "\n"


def render_diff(diff: RouteDiff) -> str:
    return json.dumps(diff.to_dict(), indent=2) + "\n"
