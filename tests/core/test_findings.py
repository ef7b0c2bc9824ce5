"""Finding: the one-line form used by logs and error messages."""

from __future__ import annotations

from gitops_ingress.core.findings import Finding, Severity


def test_one_line_names_place_severity_rule_and_optionally_the_hint():
    finding = Finding(
        rule="api/host-invalid",
        severity=Severity.ERROR,
        message="bad host",
        file="a.yaml",
        line=3,
        column=7,
        hint="use lowercase",
    )
    assert finding.one_line() == "a.yaml:3:7: error: bad host [api/host-invalid] (hint: use lowercase)"
    assert finding.one_line(hint=False) == "a.yaml:3:7: error: bad host [api/host-invalid]"
