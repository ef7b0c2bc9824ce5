"""The GitHub workflows parse, and the release job keeps its promise: it builds the sdist and the
wheel with the pinned build requirements, installs the wheel into a fresh virtualenv, tests what
was installed (never the checkout), and keeps the files. A broken edit fails here, not on a tag."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_ingress.proxy.metrics import ProxyMetrics
from tests.support.gitrepos import PROJECT_ROOT

WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.y*ml"))


def load(path: Path) -> dict[Any, Any]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(workflow, dict), path
    return workflow


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    return on if isinstance(on, dict) else {name: None for name in ([on] if isinstance(on, str) else on)}


def index_of(steps: list[dict[str, Any]], what: str, found: Any) -> int:
    matches = [i for i, step in enumerate(steps) if found(step)]
    assert len(matches) == 1, f"expected one step that {what}, found {len(matches)}"
    return matches[0]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_parses_into_jobs_of_steps(path: Path) -> None:
    workflow = load(path)
    assert triggers(workflow) and workflow["jobs"]
    for name, job in workflow["jobs"].items():
        assert job["runs-on"] and job["steps"], name
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), f"{name}: {step}"


def test_the_release_job_builds_installs_the_wheel_and_tests_it() -> None:
    assert PROJECT_ROOT / ".github" / "workflows" / "release.yml" in WORKFLOWS
    workflow = load(PROJECT_ROOT / ".github" / "workflows" / "release.yml")
    tags = triggers(workflow)["push"]["tags"]
    assert any(fnmatch.fnmatchcase("v1.2.0", pattern) for pattern in tags)
    assert not any(fnmatch.fnmatchcase("nightly", pattern) for pattern in tags)
    steps = workflow["jobs"]["build"]["steps"]
    run = [step.get("run", "") for step in steps]

    build = index_of(steps, "runs python -m build", lambda s: "-m build" in s.get("run", ""))
    assert "--constraint constraints.txt build setuptools wheel mypy" in re.sub(r"\\\n\s*", "", run[build])
    assert "--no-isolation" in run[build] and "--outdir dist" in run[build]

    install = index_of(steps, "installs the wheel", lambda s: "dist/*.whl" in s.get("run", ""))
    venv = re.search(r'python -m venv "([^"]+)"', run[install])
    assert venv is not None, "the wheel goes into a virtualenv of its own"
    assert f'"{venv[1]}/bin/pip" install' in run[install] and "--constraint constraints.txt" in run[install]

    smoke = index_of(steps, "tests the installed wheel", lambda s: "gitops-ingress validate" in s.get("run", ""))
    assert f'PATH="{venv[1]}/bin:$PATH"' in run[smoke], "the smoke test runs what was installed"
    assert steps[smoke].get("working-directory") == "${{ runner.temp }}", "away from the checkout"
    assert 'validate "$sample/environments"' in run[smoke]
    # the line it looks for is the one a compiled proxy really exports
    (expected,) = re.findall(r"grep -F '(gitops_ingress_proxy_build_info[^']*)'", run[smoke])
    assert expected in ProxyMetrics(build="compiled").render().decode()
    assert expected not in ProxyMetrics(build="source").render().decode()

    upload = index_of(steps, "uploads the files", lambda s: s.get("uses", "").startswith("actions/upload-artifact"))
    assert steps[upload]["with"]["path"].rstrip("/") == "dist"
    assert build < install < smoke < upload


def test_publishing_waits_for_the_tested_build_and_is_switched_off_by_default() -> None:
    jobs = load(PROJECT_ROOT / ".github" / "workflows" / "release.yml")["jobs"]
    publishing = {name: job for name, job in jobs.items() if "pypi" in str(job.get("steps", "")).lower()}
    assert set(publishing) <= {"publish"}
    for job in publishing.values():
        assert job["needs"] == "build" and "vars." in job["if"]


def test_ci_keeps_the_screenshots_the_browser_tests_write_even_when_a_test_fails() -> None:
    from tests.e2e.test_browser import SCREENSHOTS

    steps = load(PROJECT_ROOT / ".github" / "workflows" / "ci.yml")["jobs"]["test"]["steps"]
    tests = index_of(steps, "runs .ci/run", lambda step: step.get("run") == "bash .ci/run")
    keep = index_of(
        steps, "uploads artifacts", lambda step: str(step.get("uses", "")).startswith("actions/upload-artifact@")
    )
    assert keep > tests and steps[keep]["if"] == "always()"
    assert PROJECT_ROOT / steps[keep]["with"]["path"] == SCREENSHOTS
