"""The annotation support table in every ``validate --format`` (issue 16), from the real CLI.

One repository uses four ingress-nginx keys, one of each status: honoured (``app-root``), honoured
with a difference (``rewrite-target``), ignored (``proxy-next-upstream``) and refused
(``configuration-snippet``). Every format carries each key with its status at its first use; the
CI formats (SARIF, GitHub) name the file relative to the repository root, as they do findings.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from gitops_ingress.core.annotations import PREFIX, lookup
from tests.support.gitrepos import make_remote
from tests.support.manifests import ingress, line_of, to_yaml

SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"
FILE = "environments/production/shop.yaml"
HONOURED, DIFFERENT, IGNORED, REFUSED = (
    PREFIX + "app-root",
    PREFIX + "rewrite-target",
    PREFIX + "proxy-next-upstream",
    PREFIX + "configuration-snippet",
)
TEXT = to_yaml(
    ingress(
        annotations={HONOURED: "/app", DIFFERENT: "/", IGNORED: "error timeout", REFUSED: "more_set_headers 'x: y';"}
    )
)
STATUSES = {HONOURED: "honoured", DIFFERENT: "honoured-with-difference", IGNORED: "ignored", REFUSED: "refused"}


def _note(key: str) -> str:
    spec = lookup(key)
    assert spec is not None
    return spec.note


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    work = make_remote(tmp_path).clone()
    work.write({FILE: TEXT})
    work.commit("annotations of every status")
    monkeypatch.chdir(tmp_path)  # given as an absolute path from outside: the git top level decides
    return work.path


def test_the_statuses_are_the_registry_s() -> None:
    # the test's premise: one key of each status (a registry change must pick other keys here)
    for key, status in STATUSES.items():
        spec = lookup(key)
        assert spec is not None and spec.status.value == status


def test_json_and_text_carry_every_key(repository: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(repository / "environments"), "--format", "json")
    assert result.code == 1  # the refused snippet is an error
    table = {item["key"]: item for item in result.json()["annotations"]}
    assert {key: item["status"] for key, item in table.items()} == STATUSES
    assert table[DIFFERENT]["line"] == line_of(TEXT, DIFFERENT)
    text = cli("validate", str(repository / "environments")).out
    line = next(line for line in text.splitlines() if line.strip().startswith(DIFFERENT))
    assert line.endswith(f"honoured, with a difference: {_note(DIFFERENT)}; 1x, first at {repository}/{FILE}:8")


def test_sarif_has_the_table_as_a_run_property_and_differences_as_notes(repository: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(repository / "environments"), "--format", "sarif")
    document = json.loads(result.out)
    jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))
    run = document["runs"][0]
    table = {item["key"]: item for item in run["properties"]["annotations"]}
    assert {key: item["status"] for key, item in table.items()} == STATUSES
    assert {item["file"] for item in table.values()} == {FILE}  # relative, as the results' paths
    notes = [result for result in run["results"] if result["ruleId"] == "annotation/difference"]
    assert len(notes) == 1 and notes[0]["level"] == "note"
    assert DIFFERENT in notes[0]["message"]["text"] and _note(DIFFERENT) in notes[0]["message"]["text"]
    location = notes[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == FILE
    assert location["region"]["startLine"] == line_of(TEXT, DIFFERENT)
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert all(rules[item["ruleIndex"]] == item["ruleId"] for item in run["results"])
    # ignored and refused keys are results already, as their findings (the default policy's
    # denied-annotation error stands for annotation/refused on snippets)
    levels = {item["locations"][0]["physicalLocation"]["region"]["startLine"]: item["level"] for item in run["results"]}
    assert levels[line_of(TEXT, IGNORED)] == "warning" and levels[line_of(TEXT, REFUSED)] == "error"


def test_junit_has_an_annotations_suite_with_a_case_per_key(repository: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(repository / "environments"), "--format", "junit")
    root = ET.fromstring(result.out)
    suite = next(item for item in root.iter("testsuite") if item.get("name") == "annotations")
    cases = {case.get("name"): case for case in suite}
    assert set(cases) == set(STATUSES)
    assert {case.get("file") for case in cases.values()} == {f"{repository}/{FILE}"}  # as the findings' cases
    assert cases[DIFFERENT].get("line") == str(line_of(TEXT, DIFFERENT))
    assert cases[HONOURED].find("failure") is None and cases[HONOURED].find("skipped") is None
    assert _note(DIFFERENT) in (cases[DIFFERENT].findtext("system-out") or "")
    skipped = cases[IGNORED].find("skipped")
    assert skipped is not None and _note(IGNORED) in skipped.get("message", "")
    failure = cases[REFUSED].find("failure")
    assert failure is not None and failure.get("type") == "annotation/refused"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    suites = list(root.iter("testsuite"))
    for total in ("tests", "failures", "skipped"):
        assert root.get(total) == str(sum(int(item.get(total, "0")) for item in suites))


def test_github_has_a_notice_per_key_at_its_first_use(repository: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(repository / "environments"), "--format", "github")
    notices = [line for line in result.out.splitlines() if line.startswith("::notice ")]
    assert len(notices) == len(STATUSES)
    for key in STATUSES:
        title = key.replace(":", "%3A").replace(",", "%2C")
        start = f"::notice file={FILE},line={line_of(TEXT, key)},title={title}::"
        assert any(line.startswith(start) for line in notices), (key, notices)
    assert any(line.endswith(f"::ignored: {_note(IGNORED)}; 1x") for line in notices)
    assert any(line.endswith(f"::honoured, with a difference: {_note(DIFFERENT)}; 1x") for line in notices)
