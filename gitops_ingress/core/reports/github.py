"""GitHub Actions workflow commands: ``::error file=F,line=L,col=C,title=RULE::message``.

Property values and messages are escaped as the runner expects (``%``, CR, LF, and in properties
also ``:`` and ``,``), so a message can never inject a second command.
"""

from __future__ import annotations

from gitops_ingress.core.findings import Severity
from gitops_ingress.core.reports.summary import ValidationReport

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render_findings(report: ValidationReport) -> str:
    lines = []
    for finding in report.findings:
        props = [f"file={escape_property(finding.file)}"]
        if finding.line:
            props.append(f"line={finding.line}")
            if finding.column:
                props.append(f"col={finding.column}")
        props.append(f"title={escape_property(finding.rule)}")
        message = finding.message + (f" (hint: {finding.hint})" if finding.hint else "")
        lines.append(f"::{_COMMANDS[finding.severity]} {','.join(props)}::{escape_data(message)}")
    lines.append(report.headline())
    return "\n".join(lines) + "\n"
