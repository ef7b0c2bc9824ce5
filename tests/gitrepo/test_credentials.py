"""Issue 12, point 9: a password in ``--repo`` was redacted in logs but kept in plain text in the
mirror's git config. Against real git: the stored URL has no credentials, the fetch still sends
them (from its environment), and git's credential helper gives them to the remote's host only."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest

from gitops_ingress.gitrepo import Mirror
from gitops_ingress.gitrepo.credentials import split_credentials
from gitops_ingress.gitrepo.errors import AuthenticationFailed
from tests.gitrepo.servers import auth_server


def _stored_files(mirror_path: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in mirror_path.rglob("*") if p.is_file())


def test_the_mirror_stores_no_password_and_the_fetch_still_sends_it(tmp_path: Path) -> None:
    seen: list[str] = []
    with auth_server(seen) as port:
        mirror = Mirror(f"http://robot:s3%40cret@127.0.0.1:{port}/config.git", tmp_path / "mirror.git")
        with pytest.raises(AuthenticationFailed) as failure:
            mirror.fetch()
        mirror.close()
    expected = "Basic " + base64.b64encode(b"robot:s3@cret").decode()
    assert expected in seen, seen  # git asked our helper and sent what it answered
    assert "s3" not in str(failure.value)
    url = subprocess.run(
        ["git", "config", "--get", "remote.origin.url"], cwd=tmp_path / "mirror.git", capture_output=True, text=True
    ).stdout.strip()
    assert url == f"http://127.0.0.1:{port}/config.git"
    assert "s3" not in _stored_files(tmp_path / "mirror.git") and "cret" not in _stored_files(tmp_path / "mirror.git")


def test_an_older_mirror_with_a_password_in_its_config_is_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "mirror.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    subprocess.run(["git", "config", "remote.origin.url", "https://robot:hunter2@git.example.com/c.git"], cwd=path)
    mirror = Mirror("https://robot:hunter2@git.example.com/c.git", path)
    mirror.ensure()
    mirror.close()
    assert "hunter2" not in (path / "config").read_text()


def test_the_helper_answers_for_the_remote_host_only(tmp_path: Path) -> None:
    _, credentials = split_credentials("https://robot:tok@git.example.com:8443/c.git")
    assert credentials is not None
    environ = {**os.environ, **credentials.fetch_environment(), "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": ""}

    def fill(host: str) -> subprocess.CompletedProcess[str]:
        request = f"protocol=https\nhost={host}\n\n"
        return subprocess.run(["git", "credential", "fill"], input=request, env=environ, capture_output=True, text=True)

    answered = fill("git.example.com:8443")
    assert answered.returncode == 0 and "username=robot" in answered.stdout and "password=tok" in answered.stdout
    other = fill("evil.example.com")
    assert "tok" not in other.stdout


def test_urls_without_secrets_are_kept_as_they_are() -> None:
    for remote in ("https://git.example.com/c.git", "git@git.example.com:team/c.git", "/srv/git/c.git"):
        assert split_credentials(remote) == (remote, None)
    assert split_credentials("ssh://git@git.example.com/c.git")[1] is None
