"""Fetch failures map onto our own errors, with clear messages, and never prompt or hang."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitops_ingress.core.errors import ConfigError, SourceError
from gitops_ingress.gitrepo import AuthenticationFailed, FetchTimeout, Mirror, RemoteUnreachable
from tests.gitrepo.servers import auth_server, closed_port, silent_server
from tests.support.gitrepos import Remote, WorkTree


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry))
    return found


def test_unreachable_port(tmp_path: Path) -> None:
    port = closed_port()
    mirror = Mirror(f"http://127.0.0.1:{port}/repo.git", tmp_path / "m.git", fetch_timeout=20)
    with pytest.raises(RemoteUnreachable) as caught:
        mirror.fetch()
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert isinstance(caught.value, SourceError)


def test_missing_local_path(tmp_path: Path) -> None:
    """A local path cannot become reachable by retrying: a configuration error, naming it."""
    mirror = Mirror(str(tmp_path / "nowhere.git"), tmp_path / "m.git", fetch_timeout=20)
    with pytest.raises(ConfigError, match=r"nowhere\.git: no such folder"):
        mirror.fetch()


def test_authentication_failure_does_not_prompt(tmp_path: Path) -> None:
    with auth_server() as port:
        mirror = Mirror(f"http://127.0.0.1:{port}/repo.git", tmp_path / "m.git", fetch_timeout=20)
        with pytest.raises(AuthenticationFailed):
            mirror.fetch()


def test_authentication_failure_hides_the_password(tmp_path: Path) -> None:
    with auth_server() as port:
        mirror = Mirror(f"http://robot:s3cr3t@127.0.0.1:{port}/repo.git", tmp_path / "m.git", fetch_timeout=20)
        with pytest.raises(AuthenticationFailed) as caught:
            mirror.fetch("main")
    assert "s3cr3t" not in str(caught.value)
    assert "s3cr3t" not in mirror.remote


@pytest.mark.slow
def test_hanging_fetch_is_killed_at_the_timeout(tmp_path: Path) -> None:
    with silent_server() as (port, connected):
        url = f"http://127.0.0.1:{port}/repo.git"
        mirror = Mirror(url, tmp_path / "m.git", fetch_timeout=1.5)
        started = time.monotonic()
        with pytest.raises(FetchTimeout) as caught:
            mirror.fetch()
        elapsed = time.monotonic() - started
        assert connected.is_set()
    assert 1.5 <= elapsed < 10
    assert "1.5 s" in str(caught.value)
    assert processes_mentioning(f"127.0.0.1:{port}") == []


def test_last_fetched_state_survives_a_failing_remote(remote: Remote, work: WorkTree, tmp_path: Path) -> None:
    work.write({"environments/production/a.yaml": "a: 1\n"})
    head = work.commit("a")
    work.push("main")
    mirror = Mirror(remote.url, tmp_path / "m.git")
    mirror.fetch()
    remote.path.rename(tmp_path / "moved.git")
    with pytest.raises(RemoteUnreachable):
        mirror.fetch()
    assert mirror.branches() == {"main": head}
    assert mirror.read_file(head, "environments/production/a.yaml") == b"a: 1\n"
