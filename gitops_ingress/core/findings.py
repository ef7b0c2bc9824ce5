"""Findings: what validation says about the input, each tied to a file, a line and a rule.

A finding is the unit every report format, the dashboard and the sync history share. Rule ids are
stable strings grouped by origin (``yaml/``, ``schema/``, ``api/``, ``cross/``, ``policy/``) so
users can grep for them and CI annotations can be titled with them.

Plain frozen dataclasses with slots rather than pydantic models: a large repository makes tens of
thousands of positions and findings, and ``validate`` should not import pydantic for them (issue
13). ``Finding.to_dict`` and ``Finding.from_dict`` are the one JSON shape of a finding, shared by
the JSON report, the state database and the web API.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """A place in a file; ``line`` and ``column`` count from 1 (0 means unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column or 1}"
        return self.file


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    file: str
    line: int = 0
    column: int = 0
    hint: str = ""
    object: str = ""  # "namespace/name" of the Ingress concerned, when there is one
    field: str = ""  # dotted field path, e.g. "spec.rules[0].host"

    @property
    def position(self) -> Position:
        return Position(file=self.file, line=self.line, column=self.column)

    def one_line(self, *, hint: bool = True) -> str:
        """``file:line:col: severity: message [rule]`` (and the hint), for logs and error messages."""
        text = f"{self.position}: {self.severity.value}: {self.message} [{self.rule}]"
        return f"{text} (hint: {self.hint})" if hint and self.hint else text

    def to_dict(self) -> dict[str, Any]:
        """Every field, in declaration order, the severity as its value: the JSON of a finding."""
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "hint": self.hint,
            "object": self.object,
            "field": self.field,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """``to_dict`` read back; keys it does not know are ignored, missing optional ones defaulted."""
        return cls(
            rule=str(data["rule"]),
            severity=Severity(data["severity"]),
            message=str(data["message"]),
            file=str(data["file"]),
            line=int(data.get("line", 0)),
            column=int(data.get("column", 0)),
            hint=str(data.get("hint", "")),
            object=str(data.get("object", "")),
            field=str(data.get("field", "")),
        )

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.rule)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=Finding.sort_key)


def first_error(findings: Iterable[Finding]) -> str:
    """The first error as ``file:line rule: message``, with how many more there are ("" when
    there is none): what a status line says about a refused commit."""
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if not errors:
        return ""
    first = errors[0]
    where = f"{first.file}:{first.line}" if first.line else first.file
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where} {first.rule}: {first.message}{more}"
