"""A one-shot command (validate, diff, routes) ends its process as soon as its output is flushed.

The console script skips the interpreter's teardown for them (cli/__init__.py, ``_end_now``): these
tests hold, in real processes, that the whole report still arrives through a pipe (more than a
pipe's buffer, so its end is written only by the flush), that the exit code is the command's, and
that a reader who closes the pipe first gets what the usual exit gave: no traceback, exit 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.manifests import ingress, to_yaml

BROKEN = 400  # Ingresses with an invalid name: a finding each, a report far past 64 KiB


def tree(folder: Path) -> Path:
    team = folder / "environments" / "prod" / "team"
    team.mkdir(parents=True)
    for index in range(BROKEN):
        obj = ingress(f"Web_{index}", f"h{index}.example.com", "web")
        (team / f"i{index}.yaml").write_text(to_yaml(obj), encoding="utf-8")
    return folder


def command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "gitops_ingress", *argv]


def test_the_whole_report_arrives_through_a_pipe_with_the_commands_exit_code(tmp_path: Path) -> None:
    done = subprocess.run(
        command("validate", "environments", "--format", "json"),
        cwd=tree(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1 and done.stderr == ""
    assert len(done.stdout) > 64 * 1024
    report = json.loads(done.stdout)
    assert sum(finding["rule"] == "api/name-invalid" for finding in report["findings"]) == BROKEN


def test_routes_ends_with_its_answer_and_exit_code(tmp_path: Path) -> None:
    team = tmp_path / "environments" / "prod" / "team"
    team.mkdir(parents=True)
    (team / "web.yaml").write_text(to_yaml(ingress("web", "shop.example.com", "web")), encoding="utf-8")
    done = subprocess.run(
        command("routes", "environments", "--host", "shop.example.com"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "web" in done.stdout and done.stdout.endswith("\n")


def test_a_reader_that_closes_the_pipe_early_gets_the_usual_exit(tmp_path: Path) -> None:
    process = subprocess.Popen(
        command("validate", "environments"), cwd=tree(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the report is written: writing it meets a closed pipe
    error = process.stderr.read()
    assert process.wait(timeout=120) == 0
    assert b"Traceback" not in error and b"Exception ignored" not in error
