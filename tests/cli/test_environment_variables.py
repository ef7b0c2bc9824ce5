"""Every ``GITOPS_INGRESS_*`` variable the documentation names, set at once, in real processes:
``validate`` and ``serve`` must start and work (they exited 2 with "Extra inputs are not
permitted" whenever ``GITOPS_INGRESS_WEB_TOKEN`` was set, so the documented Secret of
deploy/control-plane.yaml crash-looped the control plane)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.gitrepos import make_sample_remote
from tests.support.processes import Child, serve_args

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20.0
# A value for each documented variable; a variable the docs add without a value here fails the
# test, so the next one is checked too.
VALUES = {
    "GITOPS_INGRESS_POLICY__LIMITS__MAX_FILES": "20000",
    "GITOPS_INGRESS_BRANCHES__EXCLUDE": '["wip/*"]',
    "GITOPS_INGRESS_PREVIEW_KEY_SECRET": "s3cret-preview-key",
    "GITOPS_INGRESS_NO_COMPILE": "1",
    "GITOPS_INGRESS_PURE_PYTHON": "1",
    "GITOPS_INGRESS_DEBUG": "1",
    "GITOPS_INGRESS_URL": "http://127.0.0.1:9/",
    "GITOPS_INGRESS_TOKEN_FILE": "/nonexistent/token",
    "GITOPS_INGRESS_WEB_TOKEN": "s3cret-token",
    "GITOPS_INGRESS_WEB_BASIC_USER": "admin",
    "GITOPS_INGRESS_WEB_BASIC_PASSWORD": "s3cret-password",
    "GITOPS_INGRESS_WEB_ANONYMOUS_READ": "false",
    "GITOPS_INGRESS_WEB_REPO_URL": "https://git.example.com/team/config",
    "GITOPS_INGRESS_WEB_PUBLIC_URL": "https://gitops.example.com/",
    "GITOPS_INGRESS_WEB_ALLOWED_HOSTS": "dash.example.com,*.internal.example.com",
    "GITOPS_INGRESS_WEB_GITHUB_API_URL": "http://127.0.0.1:9",
    "GITOPS_INGRESS_WEB_GITHUB_REPOSITORY": "team/config",
    "GITOPS_INGRESS_WEB_GITHUB_TOKEN": "ghp_example",
    "GITOPS_INGRESS_WEB_FORGE": "github",
    "GITOPS_INGRESS_WEB_FORGE_API_URL": "http://127.0.0.1:9",  # nothing listens: logged, never fatal
    "GITOPS_INGRESS_WEB_FORGE_REPOSITORY": "team/config",
    "GITOPS_INGRESS_WEB_FORGE_TOKEN": "ghp_example",
    "GITOPS_INGRESS_WEB_FORGE_DEPLOYMENTS": "true",
    "GITOPS_INGRESS_PREVIEW_TTL": "86400",
    "GITOPS_INGRESS_PREVIEW_KEEP": '["release/*"]',
    "GITOPS_INGRESS_MAX_PREVIEWS": "50",
    "GITOPS_INGRESS_DELETED_PREVIEW_GRACE": "0",
}


def documented() -> set[str]:
    names: set[str] = set()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "deploy").glob("*.yaml"))]:
        names.update(
            re.findall(r"GITOPS_INGRESS_[A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_*])", path.read_text(encoding="utf-8"))
        )
    return names


def test_every_documented_variable_has_a_value_here() -> None:
    names = documented()
    assert "GITOPS_INGRESS_WEB_TOKEN" in names and "GITOPS_INGRESS_DEBUG" in names  # the scan reads the docs
    assert names <= set(VALUES), sorted(names - set(VALUES))


@pytest.mark.slow
def test_validate_and_serve_run_with_every_documented_variable_set(tmp_path: Path) -> None:
    environ = {**os.environ, **VALUES}
    validate = subprocess.run(
        [sys.executable, "-m", "gitops_ingress", "validate", "environments"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
    )
    assert validate.returncode == 0, validate.stderr
    remote, _ = make_sample_remote(tmp_path)
    args = serve_args(tmp_path, str(remote.path))
    serve = Child(args, r"gitops-ingress serve: api (\S+) ", wait=WAIT, env=environ)
    try:
        with httpx.Client(base_url=serve.address, timeout=WAIT) as client:
            assert client.get("/api/branches").status_code == 401  # the token is in force ...
            authorised = client.get("/api/branches", headers={"Authorization": "Bearer s3cret-token"})
            assert authorised.status_code == 200  # ... and so is every other setting
            assert client.get("/api/branches", headers={"Host": "dash.example.com"}).status_code == 401
            assert client.get("/api/branches", headers={"Host": "x.example.org"}).status_code == 421
    finally:
        assert serve.stop() == 0
