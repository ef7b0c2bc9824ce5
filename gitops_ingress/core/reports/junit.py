"""JUnit XML: one test case per finding, and one passing case per file without findings.

CI systems (GitLab, Jenkins, Azure) show JUnit natively and count test cases, so each finding is
its own case, named by its rule, with ``file`` and ``line`` attributes (the ones GitLab and Jenkins
link to): an error is a ``failure``, a warning or notice passes with its text in ``system-out``, so
it is visible without failing the build. A file with no findings is one passing case, so a clean
run still counts what it checked. Built with ElementTree so that every message is escaped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.reports.summary import ValidationReport

CLASS_PREFIX = "gitops-ingress.validate"
VALID_CASE = "valid"


def _text(finding: Finding) -> str:
    text = f"{finding.position}: {finding.severity.value} {finding.rule}: {finding.message}"
    return text + (f"\nhint: {finding.hint}" if finding.hint else "")


def _case(suite: ET.Element, file: str, name: str, line: int = 0) -> ET.Element:
    attributes = {"classname": f"{CLASS_PREFIX}.{file}" if file else CLASS_PREFIX, "name": name, "file": file}
    if line:
        attributes["line"] = str(line)
    return ET.SubElement(suite, "testcase", attributes)


def render_findings(report: ValidationReport) -> str:
    root = ET.Element("testsuites", name="gitops-ingress")
    suite = ET.SubElement(root, "testsuite", name="gitops-ingress validate")
    for finding in report.findings:
        case = _case(suite, finding.file, finding.rule, finding.line)
        if finding.severity is Severity.ERROR:
            failure = ET.SubElement(case, "failure", message=finding.message, type=finding.rule)
            failure.text = _text(finding)
        else:
            ET.SubElement(case, "system-out").text = _text(finding)
    with_findings = {finding.file for finding in report.findings}
    for file in sorted(set(report.files) - with_findings):
        _case(suite, file, VALID_CASE)
    tests, failures = str(len(suite)), str(report.errors)
    suite.attrib.update(tests=tests, failures=failures, errors="0", skipped="0")
    root.attrib.update(tests=tests, failures=failures)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
