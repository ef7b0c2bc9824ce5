"""Fixtures for the git adapter's tests: isolated git config, a remote with a clone, a mirror."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_ingress.gitrepo import Mirror
from tests.support.gitrepos import Remote, WorkTree, make_remote

LIMITS = {"max_file_bytes": 1024 * 1024, "max_files": 10_000}


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The mirror runs git with the process environment; keep a developer's config out of it.
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path)


@pytest.fixture
def work(remote: Remote) -> WorkTree:
    return remote.clone()


@pytest.fixture
def mirror(remote: Remote, tmp_path: Path) -> Iterator[Mirror]:
    mirror = Mirror(remote.url, tmp_path / "state" / "mirror.git", fetch_timeout=30.0)
    mirror.ensure()
    yield mirror
    mirror.close()
