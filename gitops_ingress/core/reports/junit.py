"""JUnit XML: one test case per checked file, a failure per error finding.

CI systems (GitLab, Jenkins, Azure) show JUnit natively. Built with ElementTree so that every
message is escaped; warnings go into ``system-out`` of their file's case, so they are visible
without failing the build.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.reports.summary import ValidationReport


def _line(finding: Finding) -> str:
    return f"{finding.position}: {finding.rule}: {finding.message}"


def render_findings(report: ValidationReport) -> str:
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_file[finding.file].append(finding)
    files = sorted(set(report.files) | set(by_file))
    errors_total = 0
    root = ET.Element("testsuites", name="gitops-ingress")
    suite = ET.SubElement(root, "testsuite", name="gitops-ingress validate")
    for path in files:
        case = ET.SubElement(suite, "testcase", classname="gitops-ingress.validate", name=path, file=path)
        findings = by_file.get(path, [])
        errors = [f for f in findings if f.severity is Severity.ERROR]
        others = [f for f in findings if f.severity is not Severity.ERROR]
        if errors:
            errors_total += 1
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{len(errors)} error(s): {errors[0].rule}",
                type=errors[0].rule,
            )
            failure.text = "\n".join(_line(f) for f in errors)
        if others:
            ET.SubElement(case, "system-out").text = "\n".join(f"{f.severity.value}: {_line(f)}" for f in others)
    suite.set("tests", str(len(files)))
    suite.set("failures", str(errors_total))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    root.set("tests", str(len(files)))
    root.set("failures", str(errors_total))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
