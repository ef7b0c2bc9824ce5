"""GitHub Actions workflow commands: ``::error file=F,line=L,col=C,title=RULE::message``.

Property values and messages are escaped as the runner expects (``%``, CR, LF, and in properties
also ``:`` and ``,``), so a message can never inject a second command.

The annotation support table follows the findings: one ``notice`` per key at its first use,
titled by the key, saying its status, difference or reason and how often it is used (the runner
shows each on the pull request's *Files changed* tab, beside the annotation).
"""

from __future__ import annotations

from gitops_ingress.core.findings import Severity
from gitops_ingress.core.reports import annotation_table
from gitops_ingress.core.reports.summary import ValidationReport

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _command(name: str, file: str, line: int, column: int, title: str, message: str) -> str:
    props = [f"file={escape_property(file)}"]
    if line:
        props.append(f"line={line}")
        if column:
            props.append(f"col={column}")
    props.append(f"title={escape_property(title)}")
    return f"::{name} {','.join(props)}::{escape_data(message)}"


def render_findings(report: ValidationReport) -> str:
    lines = []
    for finding in report.findings:
        message = finding.message + (f" (hint: {finding.hint})" if finding.hint else "")
        lines.append(
            _command(_COMMANDS[finding.severity], finding.file, finding.line, finding.column, finding.rule, message)
        )
    for use in report.annotations:
        lines.append(_command("notice", use.file, use.line, 0, use.key, annotation_table.summary(use)))
    lines.append(report.headline())
    return "\n".join(lines) + "\n"
