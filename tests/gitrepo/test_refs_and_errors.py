"""Branch-name and remote checks, and the mapping of git's messages onto our errors (no git run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.gitrepo.errors import (
    AuthenticationFailed,
    FetchError,
    InvalidBranchName,
    RemoteUnreachable,
    classify_fetch_failure,
    git_message,
    redact,
)
from gitops_ingress.gitrepo.refs import MAX_BRANCH_BYTES, branch_ref, normalize_remote


def test_branch_ref_asks_git_and_builds_the_full_name() -> None:
    asked: list[str] = []

    def check(ref: str) -> bool:
        asked.append(ref)
        return True

    assert branch_ref("--upload-pack=x", check) == "refs/heads/--upload-pack=x"
    assert asked == ["refs/heads/--upload-pack=x"]


@pytest.mark.parametrize("name", ["", "a\0b", "x\udc80", "a" * (MAX_BRANCH_BYTES + 1), "ä" * 600])
def test_branch_ref_refuses_names_that_cannot_reach_git(name: str) -> None:
    def check(ref: str) -> bool:
        raise AssertionError("git must not be asked")

    with pytest.raises(InvalidBranchName):
        branch_ref(name, check)


def test_branch_ref_follows_gits_verdict() -> None:
    with pytest.raises(InvalidBranchName, match="check-ref-format"):
        branch_ref("fine-looking", lambda ref: False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://git.example.com/team/config.git", "https://git.example.com/team/config.git"),
        ("git@git.example.com:team/config.git", "git@git.example.com:team/config.git"),
        ("ssh://git@host:2222/config.git", "ssh://git@host:2222/config.git"),
        ("file:///srv/git/config.git", "file:///srv/git/config.git"),
        (" /srv/git/config.git ", "/srv/git/config.git"),
    ],
)
def test_normalize_remote(text: str, expected: str) -> None:
    assert normalize_remote(text) == expected


def test_relative_path_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert normalize_remote("repos/config.git") == str(tmp_path / "repos" / "config.git")


@pytest.mark.parametrize("text", ["", "-u", "--upload-pack=touch /tmp/x", "ext::sh -c id", "fd::0", "transport::x"])
def test_normalize_remote_refuses(text: str) -> None:
    with pytest.raises(ConfigError):
        normalize_remote(text)


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        ("fatal: could not read Username for 'https://h': terminal prompts disabled", AuthenticationFailed),
        ("remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://h/'", AuthenticationFailed),
        ("git@h: Permission denied (publickey).\nfatal: Could not read from remote repository.", AuthenticationFailed),
        ("fatal: unable to access 'https://h/': Could not resolve host: h", RemoteUnreachable),
        ("fatal: unable to access 'http://127.0.0.1:9/': Failed to connect to 127.0.0.1 port 9", RemoteUnreachable),
        ("fatal: '/nowhere' does not appear to be a git repository", RemoteUnreachable),
        ("remote: Repository not found.\nfatal: repository 'https://h/x/' not found", RemoteUnreachable),
        ("fatal: bad object 1234", FetchError),
    ],
)
def test_classify_fetch_failure(stderr: str, kind: type[FetchError]) -> None:
    assert classify_fetch_failure(stderr) is kind


def test_messages_hide_credentials() -> None:
    text = "fatal: Authentication failed for 'https://robot:tok3n@git.example.com/x.git/'"
    assert redact(text) == "fatal: Authentication failed for 'https://***@git.example.com/x.git/'"
    assert "tok3n" not in git_message("warning: x\n" + text + "\n\n")
    assert git_message("") == "no message from git"
    assert git_message("fatal: cause\nfatal: could not read\n") == "fatal: cause | fatal: could not read"
