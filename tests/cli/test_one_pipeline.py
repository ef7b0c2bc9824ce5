"""Every command reads, names and validates files by the same rules, as real processes.

Each test here failed before the pipeline was one: ``validate`` named a folder "default" where
``proxy`` named it after the folder (so per-environment policy ran in one and not the other), and
``validate``/``routes``/``diff`` read only ``./gitops-ingress.yaml`` while ``proxy`` searched the
folders above its ``--ingress-dir``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gitops_ingress.core.findings import Finding
from tests.support.gitrepos import git
from tests.support.manifests import ingress, to_yaml
from tests.support.processes import run_once

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
WAIT = 60.0


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_once(list(args), cwd=cwd, wait=WAIT)


def proxy_findings(done: subprocess.CompletedProcess[str]) -> set[str]:
    """The finding lines ``proxy`` prints when it refuses to start."""
    return {line for line in done.stderr.splitlines() if "] (hint:" in line or line.endswith("]")}


def test_validate_and_proxy_name_a_folder_alike_and_find_the_same_errors(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "--quiet", str(repo))
    (repo / "gitops-ingress.yaml").write_text("policy:\n  allowed_host_suffixes:\n    routes: [example.com]\n")
    routes = repo / "routes"  # an environment folder of its own, not under environments/
    routes.mkdir()
    (routes / "shop.yaml").write_text(to_yaml(ingress("shop", "shop.example.org", "web")))  # not allowed in routes
    (routes / "api.yaml").write_text(to_yaml(ingress("api", "api.example.com", "api")))
    (routes / "again.yaml").write_text(to_yaml(ingress("again", "api.example.com", "other")))  # same host and path

    validated = run(repo, "validate", "routes", "--format", "json")
    report = json.loads(validated.stdout)
    served = run(repo, "proxy", "--listen", "127.0.0.1:0", "--ingress-dir", "routes")

    assert report["environments"] == ["routes"], validated.stdout
    errors = [Finding.from_dict(f) for f in report["findings"] if f["severity"] == "error"]
    assert {f.rule for f in errors} == {"policy/host-not-allowed", "cross/path-conflict"}
    assert validated.returncode == 1 and served.returncode == 1, served.stderr
    assert {f.one_line() for f in errors} == proxy_findings(served)


def test_every_command_finds_the_settings_by_the_same_rule(tmp_path: Path) -> None:
    """From a folder outside the repository, with the environment given by its absolute path:
    the settings of the repository apply (a host outside the allowed suffixes is an error), and a
    settings file above the git top level is never used."""
    (tmp_path / "gitops-ingress.yaml").write_text("environments_dir: not-here\n")  # above the top level
    repo = tmp_path / "repo"
    git(tmp_path, "init", "--quiet", str(repo))
    (repo / "gitops-ingress.yaml").write_text("policy:\n  allowed_host_suffixes:\n    production: [example.com]\n")
    production = repo / "environments" / "production"
    production.mkdir(parents=True)
    (production / "shop.yaml").write_text(to_yaml(ingress("shop", "shop.example.org", "web")))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = str(production)

    commands = {
        "validate": run(elsewhere, "validate", env, "--format", "json"),
        "routes": run(elsewhere, "routes", env),
        "diff": run(elsewhere, "diff", env, env),
        "proxy": run(elsewhere, "proxy", "--listen", "127.0.0.1:0", "--ingress-dir", env),
    }

    for name, done in commands.items():
        assert done.returncode == 1 and "host-not-allowed" in done.stdout + done.stderr, (name, done.stderr)
    report = json.loads(commands["validate"].stdout)
    assert report["environments"] == ["production"]
    assert [f["file"] for f in report["findings"]] == [f"{env}/shop.yaml"]
