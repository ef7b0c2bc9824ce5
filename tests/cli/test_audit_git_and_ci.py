"""Audit of issue 2: ``--ref``/``--base``/``--head`` leave every bit of the repository's local state
alone (HEAD, its reflog, the index, the working files), and the users' CI step (the composite
action's own shell steps, the pre-commit hook, the CI wiring) works when run for real."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
from pathlib import Path

import yaml

from tests.cli.test_commands import _repo_with_feature
from tests.support.gitrepos import PROJECT_ROOT, git, git_env
from tests.support.manifests import ingress, line_of, set_at, to_yaml

BAD_API = ingress("api", "BAD.example.com", path="/api")
BAD = to_yaml(BAD_API)


def snapshot(path: Path) -> dict[str, object]:
    """Everything a checkout, reset or stash would change, as comparable values."""
    files = {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(path).parts
    }
    return {
        "head": git(path, "symbolic-ref", "HEAD"),
        "head_commit": git(path, "rev-parse", "HEAD"),
        "reflog": git(path, "reflog", "show", "--format=%H %gs", "HEAD"),
        "index": hashlib.sha256((path / ".git" / "index").read_bytes()).hexdigest(),
        "status": git(path, "status", "--porcelain=v2", "--untracked-files=all"),
        "refs": git(path, "for-each-ref", "--format=%(refname) %(objectname)"),
        "stash": git(path, "stash", "list"),
        "worktrees": sorted(os.listdir(path / ".git" / "worktrees")) if (path / ".git" / "worktrees").exists() else [],
        "files": files,
    }


def test_ref_base_and_head_never_touch_head_index_or_working_files(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    work = _repo_with_feature(tmp_path)  # HEAD is feature/api-v2
    # a dirty state of every kind: a broken tracked file, a staged broken file, an untracked one
    work.write({"environments/production/shop/api.yaml": BAD})
    work.write({"environments/production/shop/staged.yaml": to_yaml(set_at(BAD_API, "metadata.name", "staged"))})
    git(work.path, "add", "environments/production/shop/staged.yaml")
    work.write({"environments/production/shop/untracked.yaml": to_yaml(set_at(BAD_API, "metadata.name", "loose"))})
    before = snapshot(work.path)

    on_main = cli("validate", "--repo", str(work.path), "--ref", "main", "--format", "json")
    on_feature = cli("validate", "--repo", str(work.path), "--ref", "feature/api-v2", "--format", "json")
    diff = cli("diff", "--repo", str(work.path), "--base", "main", "--head", "feature/api-v2", "--format", "json")
    from_the_folder = cli("validate", str(work.path / "environments"), "--format", "json")

    assert snapshot(work.path) == before
    # the answers come from the commits, not from the dirty files
    assert on_main.code == 0 and on_feature.code == 0, on_main.out + on_feature.out
    assert {f["file"] for f in on_feature.json()["findings"]}.isdisjoint(
        {"environments/production/shop/staged.yaml", "environments/production/shop/untracked.yaml"}
    )
    assert diff.code == 0 and len(diff.json()["changes"]) == 2
    assert from_the_folder.code == 1  # the same dirty files, read from disk, are refused


def test_ref_reads_a_bare_repository_that_has_no_working_tree(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    work = _repo_with_feature(tmp_path)
    work.push("feature/api-v2")
    bare = work.remote.path
    refs = git(bare, "for-each-ref")
    result = cli("diff", "--repo", str(bare), "--base", "main", "--head", "feature/api-v2", "--format", "json")
    assert result.code == 0 and len(result.json()["changes"]) == 2, result.out + result.err
    assert cli("validate", "--repo", str(bare), "--ref", "feature/api-v2").code == 0
    assert git(bare, "for-each-ref") == refs and not (bare / "environments").exists()


# -- the users' CI step ---------------------------------------------------------------------------


def action_steps() -> dict[str, dict]:
    action = yaml.safe_load((PROJECT_ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    return {step.get("id") or step.get("name", ""): step for step in action["runs"]["steps"]}


def run_step(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env={**git_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_actions_validate_step_annotates_and_writes_the_summary(tmp_path: Path) -> None:
    work = _repo_with_feature(tmp_path)
    step = action_steps()["validate"]
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = {
        "PATHS": "environments",
        "ENVIRONMENT": "",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
    }
    good = run_step(step["run"], work.path, env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "valid=true" in output.read_text()

    work.write({"environments/production/shop/api.yaml": BAD})
    bad = run_step(step["run"], work.path, env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"::error file=environments/production/shop/api.yaml,line={line_of(BAD, 'host:')},col=" in bad.stdout
    assert "title=api/host-invalid::" in bad.stdout
    assert output.read_text().splitlines()[-1] == "valid=false"
    text = summary.read_text()
    assert "api/host-invalid" in text and "|" in text  # a markdown table for the job summary
    assert "Traceback" not in bad.stdout + bad.stderr


def test_the_actions_diff_step_writes_the_route_diff_to_the_summary(tmp_path: Path) -> None:
    work = _repo_with_feature(tmp_path)
    step = next(s for s in action_steps().values() if "diff" in s.get("run", ""))
    summary = tmp_path / "summary.md"
    result = run_step(step["run"], work.path, {"BASE": "main", "ENVIRONMENT": "", "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 0, result.stderr
    text = summary.read_text()
    assert "shop.example.com/search" in text and "Added" in text
    assert "shop/api-v2:80" in text


def test_the_action_installs_itself_from_its_own_checkout_at_the_pinned_versions(tmp_path: Path) -> None:
    """The install step runs for real, with ``python`` standing in as a recorder of its arguments:
    installing for real would change this test run's environment. There is no release on an index,
    so the project must come from the action's checkout, and every package at its pin."""
    (step,) = [s for s in action_steps().values() if "pip" in s.get("run", "")]
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    recorder = bin_dir / "python"
    recorder.write_text(f'#!/bin/sh\nprintf "%s\\n" "$GITOPS_INGRESS_NO_COMPILE $*" >> {shlex.quote(str(calls))}\n')
    recorder.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "GITHUB_ACTION_PATH": str(PROJECT_ROOT), **step.get("env", {})}
    result = run_step(step["run"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    pins = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (PROJECT_ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    installs = [shlex.split(line) for line in calls.read_text().splitlines()]
    assert installs and all(args[:4] == ["1", "-m", "pip", "install"] for args in installs)  # nothing compiled
    for args in installs:
        assert args[args.index("--constraint") + 1] == f"{PROJECT_ROOT}/constraints.txt"
    *build_requirements, project = installs
    assert project[-1] == str(PROJECT_ROOT) and "--no-build-isolation" in project
    named = {a for args in build_requirements for a in args[4:] if not a.startswith("-") and "/" not in a}
    assert named and named <= pins, named - pins
    assert "gitops-ingress" not in named | set(project)  # never by name from an index


def test_the_pre_commit_hook_runs_validate_and_fails_on_a_bad_file(tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((PROJECT_ROOT / ".pre-commit-hooks.yaml").read_text())
    work = _repo_with_feature(tmp_path)
    command = shlex.split(hook["entry"]) + list(hook.get("args", []))
    assert hook["pass_filenames"] is False
    assert re.search(hook["files"], "environments/production/shop/api.yaml")
    ok = subprocess.run(command, cwd=work.path, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    work.write({"environments/production/shop/api.yaml": BAD})
    bad = subprocess.run(command, cwd=work.path, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 1 and "environments/production/shop/api.yaml:9" in bad.stdout, bad.stdout


def test_ci_runs_the_readmes_test_command() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    install_run, test = block[0], block[1]
    assert "pip install" in install_run and "gitops-ingress" in install_run
    test_command = test.split("#", 1)[0].strip()
    ci_run = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert f"exec {test_command}" in ci_run
    assert os.access(PROJECT_ROOT / ".ci" / "run", os.X_OK) and os.access(PROJECT_ROOT / test_command, os.X_OK)
    workflow = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert "bash .ci/run" in runs
    example = yaml.safe_load((PROJECT_ROOT / "docs" / "examples" / "validate-pull-request.yml").read_text())
    assert "pull_request" in example[True]  # YAML 1.1 reads the key `on` as true
    uses = [step.get("uses", "") for job in example["jobs"].values() for step in job["steps"]]
    action = yaml.safe_load((PROJECT_ROOT / "action.yml").read_text())  # it must parse, or the step cannot run
    assert any(u.startswith("gitops-ingress/") for u in uses) and set(action["inputs"]) >= {"paths", "base-ref"}
