"""CI outputs that tools accept as they are (issue 13, point 9), from the real ``validate``.

SARIF and GitHub annotations name files relative to the repository root (``GITHUB_WORKSPACE``,
else the git top level, else the current folder) even when validate was given absolute paths:
code scanning drops a result whose path is not in the repository. JUnit has one case per finding.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from tests.support.gitrepos import make_remote
from tests.support.manifests import HOST, ingress, line_of, set_at, to_yaml

SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"
BAD = to_yaml(set_at(ingress(), HOST, "Bad_Host.example.com"))
FILE = "environments/production/web.yaml"


def _repository(tmp_path: Path) -> Path:
    work = make_remote(tmp_path).clone()
    work.write({FILE: BAD, "environments/production/ok.yaml": to_yaml(ingress(name="ok", host="ok.example.com"))})
    work.commit("a bad host")
    return work.path


def _sarif_uris(out: str) -> list[str]:
    document = json.loads(out)
    jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))
    return [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in document["runs"][0]["results"]]


def test_absolute_paths_become_relative_to_the_git_top_level(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    repo = _repository(tmp_path)
    monkeypatch.chdir(tmp_path)  # outside the repository: the git top level decides, not the cwd
    given = str(repo / "environments")
    sarif = cli("validate", given, "--format", "sarif")
    assert sarif.code == 1 and _sarif_uris(sarif.out) == [FILE]
    github = cli("validate", given, "--format", "github")
    assert f"::error file={FILE},line={line_of(BAD, 'host:')}," in github.out
    text = cli("validate", given)  # a person's terminal keeps the path as typed
    assert f"{repo}/{FILE}:" in text.out


def test_github_workspace_wins_over_the_git_top_level(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    repo = _repository(tmp_path)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(repo / "environments"))
    sarif = cli("validate", str(repo / "environments" / "production"), "--format", "sarif")
    assert _sarif_uris(sarif.out) == ["production/web.yaml"]


def test_outside_git_paths_are_relative_to_the_current_folder(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    folder = tmp_path / "plain" / "environments" / "production"
    folder.mkdir(parents=True)
    (folder / "web.yaml").write_text(BAD)
    monkeypatch.chdir(tmp_path / "plain")
    github = cli("validate", str(tmp_path / "plain" / "environments"), "--format", "github")
    assert "::error file=environments/production/web.yaml," in github.out


def test_junit_counts_findings_not_files(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    repo = _repository(tmp_path)
    result = cli("validate", "--repo", str(repo), "--ref", "HEAD", "--format", "junit")
    suite = ET.fromstring(result.out).find("testsuite")
    assert suite is not None
    cases = [(case.get("name"), case.get("file"), case.get("line")) for case in suite]
    assert ("api/host-invalid", FILE, str(line_of(BAD, "host:"))) in cases
    assert ("valid", "environments/production/ok.yaml", None) in cases
    assert suite.get("tests") == str(len(cases)) and suite.get("failures") == "1"
