"""Turns API-server style field errors into findings placed at the field's line.

The API server formats an error as ``<field path>: <type>: <value>: <detail>`` (``field.Error``);
keeping that exact shape lets users paste our message into a search engine and land on the same
answers as for ``kubectl apply``. The position comes from the document's SourceMap; a missing field
falls back to its nearest parent that exists.
"""

from __future__ import annotations

import json
from typing import Any

from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import FieldPath, LocatedIngress, SourceMap


class GoValue:
    """A value that the API server prints verbatim (a Go ``%#v`` rendering)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def field_path(path: FieldPath) -> str:
    """``("spec", "rules", 0, "host")`` -> ``spec.rules[0].host``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def go_value(value: Any) -> str:
    if isinstance(value, GoValue):
        return value.text
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    return str(value)


class Reporter:
    """Collects the findings of one object."""

    __slots__ = ("findings", "obj", "source")

    def __init__(self, source: SourceMap, obj: str, findings: list[Finding] | None = None) -> None:
        self.source = source
        self.obj = obj
        # Environment-wide checks pass their own list and create a Reporter only to add a finding.
        self.findings: list[Finding] = findings if findings is not None else []

    @classmethod
    def on(cls, item: LocatedIngress, findings: list[Finding]) -> Reporter:
        return cls(item.source, item.key, findings)

    def add(
        self,
        rule: str,
        path: FieldPath,
        message: str,
        hint: str = "",
        severity: Severity = Severity.ERROR,
        name: str | None = None,
    ) -> None:
        position = self.source.position(*path)
        self.findings.append(
            Finding(
                rule=rule,
                severity=severity,
                message=message,
                file=position.file,
                line=position.line,
                column=position.column,
                hint=hint,
                object=self.obj,
                field=name if name is not None else field_path(path),
            )
        )

    def invalid(self, rule: str, path: FieldPath, value: Any, detail: str, hint: str, name: str | None = None) -> None:
        label = name if name is not None else field_path(path)
        self.add(rule, path, f"{label}: Invalid value: {go_value(value)}: {detail}", hint, name=label)

    def invalid_each(self, rule: str, path: FieldPath, value: Any, details: list[str], hint: str) -> None:
        for detail in details:
            self.invalid(rule, path, value, detail, hint)

    def required(self, rule: str, path: FieldPath, detail: str, hint: str) -> None:
        label = field_path(path)
        message = f"{label}: Required value" + (f": {detail}" if detail else "")
        self.add(rule, path, message, hint)

    def not_supported(self, rule: str, path: FieldPath, value: Any, supported: tuple[str, ...], hint: str) -> None:
        label = field_path(path)
        choices = ", ".join(json.dumps(choice) for choice in supported)
        self.add(rule, path, f"{label}: Unsupported value: {go_value(value)}: supported values: {choices}", hint)

    def forbidden(self, rule: str, path: FieldPath, detail: str, hint: str) -> None:
        label = field_path(path)
        self.add(rule, path, f"{label}: Forbidden: {detail}", hint)
