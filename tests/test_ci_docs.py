"""docs/ci.md's pre-commit and code-scanning snippets work as written (issue 13, point 9).

The pre-commit snippet overrides the hook's ``files`` and ``args``: the hook must exist with
those keys, and its entry run with the documented ``args`` on a real folder exits as the docs
say. The SARIF step writes the file the upload step reads, and the upload runs after a failure.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.gitrepos import PROJECT_ROOT
from tests.support.manifests import HOST, ingress, set_at, to_yaml

CI_DOC = PROJECT_ROOT / "docs" / "ci.md"


def _snippets() -> list[Any]:
    text = CI_DOC.read_text(encoding="utf-8")
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def _hook() -> dict[str, Any]:
    hooks = yaml.safe_load((PROJECT_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    [hook] = [h for h in hooks if h["id"] == "gitops-ingress-validate"]
    return hook  # type: ignore[no-any-return]


def test_the_documented_pre_commit_config_overrides_files_and_args(tmp_path: Path) -> None:
    [config] = [s for s in _snippets() if isinstance(s, dict) and "repos" in s]
    [used] = config["repos"][0]["hooks"]
    hook = _hook()
    assert used["id"] == hook["id"] and {"files", "args"} <= hook.keys() and not hook["pass_filenames"]
    assert re.search(used["files"], "environments/production/web.yaml") and not re.search(used["files"], "README.md")
    folder = tmp_path / "environments" / "production"
    folder.mkdir(parents=True)
    (folder / "web.yaml").write_text(to_yaml(ingress()))
    entry = shlex.split(hook["entry"])
    assert entry[:2] == ["gitops-ingress", "validate"]
    run = [sys.executable, "-m", "gitops_ingress", *entry[1:]]
    env = {"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}
    clean = subprocess.run([*run, *used["args"]], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (folder / "web.yaml").write_text(to_yaml(set_at(ingress(), HOST, "Bad_Host")))
    bad = subprocess.run([*run, *used["args"]], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "api/host-invalid" in bad.stdout
    wrong = subprocess.run(
        [*run, *used["args"], "--env", "nope"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert wrong.returncode == 2 and "nope" in wrong.stderr


def test_the_hooks_default_files_trigger_on_every_manifest_layout() -> None:
    # pass_filenames is false: `files` only decides whether the hook runs. Any manifest a
    # validated environment can read (YAML, JSON, a kustomization and a base outside
    # environments/) must trigger it; the corpus (tests/data/corpus) has each of these layouts.
    pattern = _hook()["files"]
    corpus = PROJECT_ROOT / "tests" / "data" / "corpus"
    manifests = [p for p in corpus.rglob("*") if p.is_file() and not p.name.startswith(".")]
    missed = [str(p.relative_to(corpus)) for p in manifests if not re.search(pattern, str(p.relative_to(corpus)))]
    assert not missed and len(manifests) > 30
    for untouched in ("README.md", "docs/ci.md", "scripts/test"):
        assert not re.search(pattern, untouched)


def test_the_documented_sarif_upload_reads_what_validate_writes() -> None:
    [workflow] = [
        s for s in _snippets() if isinstance(s, dict) and "jobs" in s and "permissions" in s["jobs"]["validate"]
    ]
    job = workflow["jobs"]["validate"]
    assert job["permissions"]["security-events"] == "write"
    [run] = [step["run"] for step in job["steps"] if "run" in step]
    written = re.search(r"--format sarif --output (\S+)", run)
    [upload] = [
        step for step in job["steps"] if str(step.get("uses", "")).startswith("github/codeql-action/upload-sarif@")
    ]
    assert written is not None and upload["with"]["sarif_file"] == written.group(1)
    assert upload["if"] == "always()"
