"""Every report format: parses as what it claims to be, and carries file, line and rule."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from gitops_ingress.core.diff import RouteDiff, diff_tables
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.reports import ValidationReport, render_diff, render_findings
from gitops_ingress.core.routing import Route, RouteTable, ServiceRef

SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"

FINDINGS = (
    Finding(
        rule="api/host-invalid",
        severity=Severity.ERROR,
        message='spec.rules[0].host: Invalid value: "Foo.com"',
        file="environments/production/a.yaml",
        line=12,
        column=13,
        hint="use lowercase letters",
    ),
    Finding(
        rule="schema/unknown-field",
        severity=Severity.WARNING,
        message="unknown field spec.foo",
        file="environments/production/b.yaml",
        line=4,
        column=3,
    ),
    Finding(
        rule="config/no-yaml",
        severity=Severity.ERROR,
        message="evil, message: with\nnewline %0A and ::error",
        file="weird,name:x.yaml",
    ),
)
REPORT = ValidationReport(
    FINDINGS, files=("environments/production/a.yaml", "environments/production/b.yaml", "ok.yaml"), objects=3
)
CLEAN = ValidationReport((), files=("ok.yaml",), objects=1)


def test_text_lists_each_finding_with_position_and_rule() -> None:
    text = render_findings("text", REPORT)
    assert "environments/production/a.yaml:12:13: error api/host-invalid:" in text
    assert "hint: use lowercase letters" in text
    assert text.rstrip().endswith("invalid: 3 files, 3 objects, 2 errors, 1 warnings")
    assert "\x1b[" not in text and "\x1b[" in render_findings("text", REPORT, color=True)


def test_json_carries_every_field() -> None:
    document = json.loads(render_findings("json", REPORT))
    assert document["ok"] is False and document["counts"] == {"error": 2, "warning": 1, "notice": 0}
    first = document["findings"][0]
    assert (first["file"], first["line"], first["column"], first["rule"]) == (
        "environments/production/a.yaml",
        12,
        13,
        "api/host-invalid",
    )


def test_github_workflow_commands_are_escaped() -> None:
    lines = render_findings("github", REPORT).splitlines()
    assert "::error file=environments/production/a.yaml,line=12,col=13,title=api/host-invalid::" in lines[0]
    evil = lines[2]
    assert evil.startswith("::error file=weird%2Cname%3Ax.yaml,title=config/no-yaml::")
    assert "\n" not in evil and "%0A" in evil and "%250A" in evil
    assert lines[1].startswith("::warning ")


def test_junit_has_one_case_per_finding_named_by_its_rule() -> None:
    root = ET.fromstring(render_findings("junit", REPORT))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "4" and suite.get("failures") == "2"
    cases = [(c.get("name"), c.get("file"), c.get("line"), c.find("failure") is not None) for c in suite]
    assert cases == [
        ("api/host-invalid", "environments/production/a.yaml", "12", True),
        ("schema/unknown-field", "environments/production/b.yaml", "4", False),
        ("config/no-yaml", "weird,name:x.yaml", None, True),
        ("valid", "ok.yaml", None, False),  # a clean file still counts as checked
    ]
    warning = suite[1].find("system-out")
    assert warning is not None and "warning schema/unknown-field: unknown field spec.foo" in (warning.text or "")


@pytest.mark.parametrize("report", [REPORT, CLEAN], ids=["findings", "clean"])
def test_sarif_is_valid_against_the_2_1_0_schema(report: ValidationReport) -> None:
    document = json.loads(render_findings("sarif", report))
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    results = document["runs"][0]["results"]
    assert len(results) == len(report.findings)
    if results:
        region = results[0]["locations"][0]["physicalLocation"]["region"]
        assert region == {"startLine": 12, "startColumn": 13}


def test_sarif_schema_check_would_catch_a_broken_document() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    document = json.loads(render_findings("sarif", REPORT))
    document["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_markdown_escapes_table_cells() -> None:
    report = ValidationReport(
        (
            Finding(
                rule="x/y", severity=Severity.ERROR, message="a | b <script>alert(1)</script>", file="f.yaml", line=1
            ),
        ),
        files=("f.yaml",),
    )
    text = render_findings("markdown", report)
    assert "<script>" not in text and "a \\| b &lt;script>alert(1)&lt;/script>" in text


def test_diff_formats() -> None:
    svc = lambda name: ServiceRef("shop", name, "80")  # noqa: E731
    base = RouteTable([Route("shop.example.com", "/api", "Prefix", svc("api"), "shop/api", "a.yaml", 5)])
    head = RouteTable([Route("shop.example.com", "/api", "Prefix", svc("api-v2"), "shop/api", "a.yaml", 5)])

    diff = RouteDiff(tuple(diff_tables(base, head, "production")), ("production",), {"retargeted": 1})
    text = render_diff("text", diff)
    assert "GET shop.example.com/api now goes to shop/api-v2:80 instead of shop/api:80" in text
    assert json.loads(render_diff("json", diff))["changes"][0]["kind"] == "retargeted"
    markdown = render_diff("markdown", diff)
    assert (
        "| production | Re-targeted | `shop.example.com/api (Prefix)` | `GET shop.example.com/api` "
        "| `shop/api:80` | `shop/api-v2:80` |  |" in markdown
    )
    assert render_diff("text", RouteDiff()) == "no route changes\n"


def test_an_annotation_entry_in_every_diff_format() -> None:
    """The same backend, a redirect added: text says what the request now gets, JSON carries both
    answers, markdown shows them in its Before and After columns."""
    from gitops_ingress.core.annotations.model import RouteEffects
    from gitops_ingress.core.diff import diff_environments

    web = ServiceRef("shop", "web", "80")
    base = RouteTable([Route("shop.example.com", "/", "Prefix", web, "shop/web", "a.yaml", 5)])
    secure = RouteEffects(force_ssl_redirect=True)
    head = RouteTable([Route("shop.example.com", "/", "Prefix", web, "shop/web", "a.yaml", 5, effects=secure)])
    diff = diff_environments({"production": base}, {"production": head})
    assert diff.counts == {"annotation": 1}
    text = render_diff("text", diff)
    assert "~ annotation      shop.example.com/ (Prefix)" in text
    assert "GET shop.example.com/ now redirects 308 to https://shop.example.com/ (was: shop/web:80)" in text
    (change,) = json.loads(render_diff("json", diff))["changes"]
    assert change["beforeAnswer"] == {
        "status": 200,
        "backend": "shop/web:80",
        "location": "",
        "path": "",
        "host": "",
        "prefix": "",
        "canary": None,
        "split": "",
        "text": "shop/web:80",
    }
    assert (change["afterAnswer"]["status"], change["afterAnswer"]["location"]) == (308, "https://shop.example.com/")
    assert (change["before"], change["after"]) == ("shop/web:80", "shop/web:80")
    markdown = render_diff("markdown", diff)
    assert (
        "| production | Answer changed | `shop.example.com/ (Prefix)` | `GET shop.example.com/` "
        "| `shop/web:80` | `redirects 308 to https://shop.example.com/` |  |" in markdown
    )
