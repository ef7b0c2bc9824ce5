"""JUnit XML: one test case per finding, and one passing case per file without findings.

CI systems (GitLab, Jenkins, Azure) show JUnit natively and count test cases, so each finding is
its own case, named by its rule, with ``file`` and ``line`` attributes (the ones GitLab and Jenkins
link to): an error is a ``failure``, a warning or notice passes with its text in ``system-out``, so
it is visible without failing the build. A file with no findings is one passing case, so a clean
run still counts what it checked. Built with ElementTree so that every message is escaped.

The annotation support table is a second suite, ``annotations``, one case per key named by the
key at its first use: honoured passes (a difference in ``system-out``), ignored is ``skipped``
with the reason (a dashboard shows it as not run, which is what it is here), refused is a
``failure``. The refused key's findings are failures of the first suite as well: that suite counts
findings, this one keys, and the totals are the sum of both.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gitops_ingress.core.annotations import Status
from gitops_ingress.core.annotations.usage import AnnotationUse
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.reports import annotation_table
from gitops_ingress.core.reports.summary import ValidationReport

CLASS_PREFIX = "gitops-ingress.validate"
ANNOTATIONS_CLASS = "gitops-ingress.annotations"
VALID_CASE = "valid"


def _text(finding: Finding) -> str:
    text = f"{finding.position}: {finding.severity.value} {finding.rule}: {finding.message}"
    return text + (f"\nhint: {finding.hint}" if finding.hint else "")


def _case(suite: ET.Element, file: str, name: str, line: int = 0, classname: str = "") -> ET.Element:
    if not classname:
        classname = f"{CLASS_PREFIX}.{file}" if file else CLASS_PREFIX
    attributes = {"classname": classname, "name": name, "file": file}
    if line:
        attributes["line"] = str(line)
    return ET.SubElement(suite, "testcase", attributes)


def _annotation_suite(root: ET.Element, uses: tuple[AnnotationUse, ...]) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name="annotations")
    failures = skipped = 0
    for use in uses:
        case = _case(suite, use.file, use.key, use.line, ANNOTATIONS_CLASS)
        text = annotation_table.summary(use)
        if use.status is Status.REFUSED:
            failures += 1
            ET.SubElement(case, "failure", message=text, type="annotation/refused").text = text
        elif use.status is Status.IGNORED:
            skipped += 1
            ET.SubElement(case, "skipped", message=text)
        else:
            ET.SubElement(case, "system-out").text = text
    suite.attrib.update(tests=str(len(suite)), failures=str(failures), errors="0", skipped=str(skipped))
    return suite


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
    suite.attrib.update(tests=str(len(suite)), failures=str(report.errors), errors="0", skipped="0")
    suites = [suite]
    if report.annotations:
        suites.append(_annotation_suite(root, report.annotations))
    for total in ("tests", "failures", "skipped"):
        root.set(total, str(sum(int(item.get(total, "0")) for item in suites)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
