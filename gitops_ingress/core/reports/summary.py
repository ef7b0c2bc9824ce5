"""What a validation run found, with the counts every format prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitops_ingress.core.annotations.usage import AnnotationUse
from gitops_ingress.core.findings import Finding, Severity, sorted_findings


@dataclass(frozen=True, slots=True)
class ValidationReport:
    findings: tuple[Finding, ...]
    files: tuple[str, ...] = ()  # every file that was checked, findings or not
    objects: int = 0
    environments: tuple[str, ...] = ()
    tool_version: str = ""
    annotations: tuple[AnnotationUse, ...] = ()  # the support table (core/reports/annotation_table.py)
    counts: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(sorted_findings(self.findings)))
        counts = {severity.value: 0 for severity in Severity}
        for finding in self.findings:
            counts[finding.severity.value] += 1
        object.__setattr__(self, "counts", counts)

    @property
    def errors(self) -> int:
        return self.counts[Severity.ERROR.value]

    @property
    def warnings(self) -> int:
        return self.counts[Severity.WARNING.value]

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def headline(self) -> str:
        verdict = "valid" if self.ok else "invalid"
        return (
            f"{verdict}: {len(self.files)} files, {self.objects} objects, "
            f"{self.errors} errors, {self.warnings} warnings"
        )
