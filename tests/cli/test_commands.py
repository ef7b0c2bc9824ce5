"""validate, diff and routes on real folders and real git repositories (read from git objects)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.support.gitrepos import PROJECT_ROOT, SAMPLE_ENVIRONMENTS, make_remote
from tests.support.manifests import column_of, ingress, line_of, to_yaml


def test_sample_environments_validate_clean_as_a_real_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gitops_ingress", "validate", "environments/"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 errors" in proc.stdout


def test_junit_output_to_a_file_parses(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(PROJECT_ROOT)
    target = tmp_path / "report.xml"
    assert cli("validate", "environments", "--format", "junit", "--output", str(target)).code == 0
    suite = ET.parse(target).getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests") or 0) >= 30 and suite.get("failures") == "0"


def _repo_with_feature(tmp_path: Path):  # type: ignore[no-untyped-def]
    remote = make_remote(tmp_path)
    work = remote.clone()
    work.write(
        {
            "environments/production/shop/web.yaml": to_yaml(ingress(name="web", path="/")),
            "environments/production/shop/api.yaml": to_yaml(ingress(name="api", path="/api", service="api")),
        }
    )
    work.commit("main routes")
    work.push("main")
    work.branch("feature/api-v2")
    work.write(
        {
            "environments/production/shop/api.yaml": to_yaml(ingress(name="api", path="/api", service="api-v2")),
            "environments/production/shop/search.yaml": to_yaml(
                ingress(name="search", path="/search", service="search")
            ),
        }
    )
    work.remove("environments/production/shop/web.yaml")
    work.write(
        {"environments/production/moved/web.yaml": to_yaml(ingress(name="web", path="/"))}
    )  # a move is no change
    work.commit("api v2 and search")
    return work


def test_diff_between_refs_lists_exactly_the_route_changes(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    work = _repo_with_feature(tmp_path)
    before = subprocess.run(["git", "status", "--porcelain"], cwd=work.path, capture_output=True, text=True).stdout
    result = cli("diff", "--repo", str(work.path), "--base", "main", "--head", "feature/api-v2", "--format", "json")
    assert result.code == 0, result.err
    changes = {(c["kind"], c["host"], c["path"], c["before"], c["after"]) for c in result.json()["changes"]}
    assert changes == {
        ("retargeted", "shop.example.com", "/api", "shop/api:80", "shop/api-v2:80"),
        ("added", "shop.example.com", "/search", "shop/web:80", "shop/search:80"),
    }
    text = cli("diff", "--repo", str(work.path), "--base", "main", "--head", "feature/api-v2")
    assert "GET shop.example.com/api now goes to shop/api-v2:80 instead of shop/api:80" in text.out
    markdown = cli(
        "diff", "--repo", str(work.path), "--base", "main", "--head", "feature/api-v2", "--format", "markdown"
    )
    assert "| production | Added | `shop.example.com/search (Prefix)` |" in markdown.out
    after = subprocess.run(["git", "status", "--porcelain"], cwd=work.path, capture_output=True, text=True).stdout
    assert before == after  # read from git objects: no checkout, no working-tree change
    assert cli("diff", "--repo", str(work.path), "--base", "main", "--head", "main").out == "no route changes\n"


def test_validate_ref_reads_git_objects_not_the_working_tree(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    work = _repo_with_feature(tmp_path)
    bad_text = to_yaml(ingress(name="api", host="BAD.example.com"))
    work.write({"environments/production/shop/api.yaml": bad_text})  # uncommitted
    good = cli("validate", "--repo", str(work.path), "--ref", "feature/api-v2", "--format", "json")
    assert good.code == 0, good.out
    work.commit("break it")
    bad = cli("validate", "--repo", str(work.path), "--ref", "HEAD", "--format", "github")
    assert bad.code == 1
    at = f"line={line_of(bad_text, 'host:')},col={column_of(bad_text, 'host:')}"
    assert f"::error file=environments/production/shop/api.yaml,{at},title=api/host-invalid::" in bad.out


def test_validate_unknown_ref_is_a_failure(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    work = _repo_with_feature(tmp_path)
    result = cli("validate", "--repo", str(work.path), "--ref", "no-such-branch")
    assert result.code == 2 and "no-such-branch" in result.err


def test_diff_of_two_folders(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    for side, service in (("a", "api"), ("b", "api-v2")):
        folder = tmp_path / side
        folder.mkdir()
        (folder / "api.yaml").write_text(to_yaml(ingress(name="api", path="/api", service=service)))
    result = cli("diff", str(tmp_path / "a"), str(tmp_path / "b"), "--format", "json")
    assert result.code == 0
    [change] = result.json()["changes"]
    assert (change["kind"], change["before"], change["after"]) == ("retargeted", "shop/api:80", "shop/api-v2:80")


def test_diff_usage_errors_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("diff", "--base", "main").code == 2
    assert cli("diff", "only-one-dir").code == 2


def test_routes_single_match_and_404(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(PROJECT_ROOT)
    hit = cli(
        "routes",
        str(SAMPLE_ENVIRONMENTS / "production"),
        "--host",
        "SHOP.example.com:443",
        "--path",
        "/checkout/pay?x=1",
        "--format",
        "json",
    )
    assert hit.code == 0 and hit.json()["backend"] == "payments/checkout:http"
    args = ["routes", str(SAMPLE_ENVIRONMENTS / "production"), "--host", "shop.example.com", "--format", "json"]
    climbed = cli(*args, "--path", "/static/../checkout/pay")  # as the proxy matches it
    assert climbed.code == 0 and climbed.json()["backend"] == "payments/checkout:http"
    unsafe = cli(*args, "--path", "/static/..%2fcheckout")
    assert unsafe.code == 2 and "400" in unsafe.err
    miss = cli(
        "routes", "environments/production", "--host", "api.example.com", "--path", "/nothing-here", "--format", "json"
    )
    answer = miss.json()
    assert answer["backend"] in (None, "platform/default-backend:80")
    table = cli("routes", "environments/production")
    assert "shop.example.com" in table.out and "(default)" in table.out
