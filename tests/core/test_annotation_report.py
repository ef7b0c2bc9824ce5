"""The annotation support table in validate's text, JSON and markdown reports."""

from __future__ import annotations

import json

from gitops_ingress.core.annotations import PREFIX
from gitops_ingress.core.annotations.usage import annotation_uses, merged_uses
from gitops_ingress.core.reports import ValidationReport, render_findings
from tests.core.test_validation_environment import A, B, env
from tests.support.manifests import ingress, line_of, to_yaml

P = PREFIX
FIRST = ingress(
    "a", annotations={P + "rewrite-target": "/", P + "proxy-next-upstream": "error", "example.com/owner": "x"}
)
SECOND = ingress("b", host="other.example.com", annotations={P + "proxy-next-upstream": "error", P + "app-root": "/x"})


def report() -> ValidationReport:
    built = env({A: FIRST, B: SECOND})
    return ValidationReport(findings=built.findings, annotations=annotation_uses(built.ingresses))


def test_each_key_once_with_status_count_and_first_place() -> None:
    uses = {use.key: use for use in report().annotations}
    assert sorted(uses) == [P + "app-root", P + "proxy-next-upstream", P + "rewrite-target"]  # not example.com/owner
    ignored = uses[P + "proxy-next-upstream"]
    assert (ignored.status.value, ignored.count, ignored.file) == ("ignored", 2, A)
    assert ignored.line == line_of(to_yaml(FIRST), P + "proxy-next-upstream")
    assert uses[P + "rewrite-target"].status.value == "honoured-with-difference"


def test_text_json_and_markdown_show_the_table() -> None:
    text = render_findings("text", report())
    assert f"{P}proxy-next-upstream" in text and "ignored: not honoured yet" in text and f"2x, first at {A}:" in text
    document = json.loads(render_findings("json", report()))
    assert [item["key"] for item in document["annotations"]] == [
        P + "app-root",
        P + "proxy-next-upstream",
        P + "rewrite-target",
    ]
    assert document["annotations"][1]["status"] == "ignored"
    markdown = render_findings("markdown", report())
    assert "| Annotation | Status | Difference or reason | Uses | First at |" in markdown
    assert f"| {P}rewrite-target | honoured, with a difference |" in markdown


def test_the_ignored_warning_names_file_and_line_in_every_report() -> None:
    text = render_findings("text", report())
    assert f"{B}:{line_of(to_yaml(SECOND), P + 'proxy-next-upstream')}:" in text
    assert "annotation/ignored" in text


def test_the_tables_of_several_environments_merge_as_one_table_of_all_their_ingresses() -> None:
    """serve's pull-request comment merges the tables of a branch's environments: it must say
    what validate says of the same Ingresses."""
    first, second = env({A: FIRST}), env({B: SECOND})
    together = annotation_uses((*first.ingresses, *second.ingresses))
    assert merged_uses([annotation_uses(first.ingresses), annotation_uses(second.ingresses)]) == together
    assert merged_uses([]) == ()
