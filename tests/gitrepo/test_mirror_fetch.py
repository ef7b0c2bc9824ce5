"""Mirroring: every branch, one branch, force pushes, deletions, empty remotes, hostile names."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.gitrepo import InvalidBranchName, Mirror, MirrorMissing, RepositoryError
from tests.support.gitrepos import Remote, WorkTree, make_remote

HOSTILE_BUT_VALID = ["--upload-pack=touch", "ünïcode/ß-ветка", "a" * 250, "a/b/c/d/e/f/g/h", "-x", "HEAD-ish"]
INVALID = ["--upload-pack=touch /tmp/x", "x..y", "a b", "x~1", "x^", "x:y", "x\0y", "end.lock", "/abs", "", "x\udc80"]


def commit_file(work: WorkTree, path: str, text: str) -> str:
    work.write({path: text})
    return work.commit(f"write {path}")


def test_ensure_creates_a_bare_mirror_once(remote: Remote, tmp_path: Path) -> None:
    path = tmp_path / "state" / "mirror.git"
    mirror = Mirror(remote.url, path)
    mirror.ensure()
    mirror.ensure()
    assert (path / "HEAD").is_file() and not (path / ".git").exists()
    assert not list(path.glob("**/index"))


def test_ensure_refuses_a_folder_that_is_not_a_repository(remote: Remote, tmp_path: Path) -> None:
    path = tmp_path / "occupied"
    path.mkdir()
    (path / "notes.txt").write_text("mine")
    with pytest.raises(RepositoryError, match="not a git repository"):
        Mirror(remote.url, path).ensure()


def test_empty_remote(mirror: Mirror) -> None:
    result = mirror.fetch()
    assert not result.changed
    assert mirror.branches() == {}


def test_fetch_all_reports_new_updated_and_deleted_branches(remote: Remote, work: WorkTree, mirror: Mirror) -> None:
    first = commit_file(work, "environments/production/a.yaml", "a: 1\n")
    work.push("main")
    work.branch("feature/x")
    feature = commit_file(work, "environments/production/a.yaml", "a: 2\n")
    work.push("feature/x")

    result = mirror.fetch()
    assert result.updated == {"main": (None, first), "feature/x": (None, feature)}
    assert mirror.branches() == remote.branches()

    work.switch("main")
    second = commit_file(work, "environments/production/b.yaml", "b: 1\n")
    work.push("main")
    work.delete_remote_branch("feature/x")
    result = mirror.fetch()
    assert result.updated == {"main": (first, second)}
    assert result.deleted == ("feature/x",)
    assert mirror.branches() == {"main": second}

    assert not mirror.fetch().changed


def test_force_push_moves_the_branch(work: WorkTree, mirror: Mirror) -> None:
    commit_file(work, "environments/a.yaml", "a: 1\n")
    old = commit_file(work, "environments/a.yaml", "a: 2\n")
    work.push("main")
    mirror.fetch()
    work.reset("HEAD~1")
    rewritten = commit_file(work, "environments/a.yaml", "a: 3\n")
    work.force_push("main")

    assert mirror.fetch("main").updated == {"main": (old, rewritten)}
    assert mirror.read_file(rewritten, "environments/a.yaml") == b"a: 3\n"
    # the old commit's objects stay readable until git collects them; nothing depends on that


def test_fetch_one_branch_leaves_the_others_alone(work: WorkTree, mirror: Mirror) -> None:
    main = commit_file(work, "environments/a.yaml", "a: 1\n")
    work.push("main")
    work.branch("feature")
    feature = commit_file(work, "environments/a.yaml", "a: 2\n")
    work.push("feature")

    assert mirror.fetch("feature").updated == {"feature": (None, feature)}
    assert mirror.branches() == {"feature": feature}
    assert mirror.fetch("main").updated == {"main": (None, main)}
    one = mirror.fetch("main")
    assert one.updated == {} and one.heads is None  # a one-ref fetch: the engine reads the heads
    everything = mirror.fetch()  # a fetch of every branch hands them over, read once
    assert everything.heads == mirror.branches() == {"main": main, "feature": feature}


def test_fetch_one_deleted_branch(work: WorkTree, mirror: Mirror) -> None:
    commit_file(work, "environments/a.yaml", "a: 1\n")
    work.push("main")
    work.branch("feature/gone")
    gone = commit_file(work, "environments/a.yaml", "a: 2\n")
    work.push("feature/gone")
    mirror.fetch()
    work.delete_remote_branch("feature/gone")

    result = mirror.fetch("feature/gone")
    assert result.deleted == ("feature/gone",) and result.updated == {}
    assert "feature/gone" not in mirror.branches()
    assert mirror.commit_info(gone).sha == gone  # objects outlive the ref
    assert not mirror.fetch("feature/gone").changed  # unknown on both sides: nothing to do


def test_branch_names_that_differ_by_a_prefix(work: WorkTree, mirror: Mirror) -> None:
    commit_file(work, "environments/a.yaml", "a: 1\n")
    work.push("feature")
    work.push("feature-2")
    mirror.fetch()
    work.delete_remote_branch("feature")
    assert mirror.fetch("feature").deleted == ("feature",)
    assert set(mirror.branches()) == {"feature-2"}


@pytest.mark.parametrize("name", HOSTILE_BUT_VALID)
def test_odd_but_valid_branch_names(name: str, work: WorkTree, mirror: Mirror) -> None:
    head = commit_file(work, "environments/a.yaml", "a: 1\n")
    work.push(name)
    assert mirror.fetch(name).updated == {name: (None, head)}
    assert mirror.fetch().updated == {}
    assert mirror.branches() == {name: head}
    work.delete_remote_branch(name)
    assert mirror.fetch(name).deleted == (name,)


@pytest.mark.parametrize("name", INVALID)
def test_invalid_branch_names_are_refused_before_git_sees_them(name: str, mirror: Mirror) -> None:
    with pytest.raises(InvalidBranchName):
        mirror.fetch(name)


def test_option_like_name_never_runs_a_command(work: WorkTree, mirror: Mirror, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    commit_file(work, "environments/a.yaml", "a: 1\n")
    work.push("main")
    for name in (f"--upload-pack=touch {marker}", f"--upload-pack=touch${{IFS}}{marker}", f"$(touch {marker})"):
        with contextlib.suppress(InvalidBranchName):
            mirror.fetch(name)
    assert not marker.exists()


def test_local_path_and_file_url_remotes(
    remote: Remote, work: WorkTree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = commit_file(work, "environments/a.yaml", "a: 1\n")
    work.push("main")
    monkeypatch.chdir(remote.path.parent)
    relative = Mirror(remote.path.name, tmp_path / "relative.git")
    assert relative.remote == str(remote.path)
    url = Mirror(remote.file_url, tmp_path / "url.git")
    assert relative.fetch().updated == url.fetch().updated == {"main": (None, head)}


def test_changing_the_remote_follows_the_new_one(tmp_path: Path, mirror: Mirror, work: WorkTree) -> None:
    commit_file(work, "environments/a.yaml", "a: 1\n")
    work.push("main")
    mirror.fetch()
    other = make_remote(tmp_path, "other.git")
    other_work = other.clone(tmp_path / "other-work")
    head = commit_file(other_work, "environments/b.yaml", "b: 1\n")
    other_work.push("trunk")
    moved = Mirror(other.url, mirror.path)
    result = moved.fetch()
    assert result.deleted == ("main",)
    assert moved.branches() == {"trunk": head}


@pytest.mark.parametrize("remote_text", ["", "  ", "--upload-pack=x", "ext::sh -c touch% /tmp/pwned", "fd::17"])
def test_unusable_remote_settings(remote_text: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        Mirror(remote_text, tmp_path / "m.git")


def test_branch_names_that_are_not_utf8_are_left_out(remote: Remote, work: WorkTree, mirror: Mirror) -> None:
    head = commit_file(work, "environments/a.yaml", "a: 1\n")
    work.push("main")
    subprocess.run([b"git", b"update-ref", b"refs/heads/latin-\xe9t\xe9", head.encode()], cwd=remote.path, check=True)
    assert mirror.fetch().updated == {"main": (None, head)}
    assert mirror.branches() == {"main": head}
    assert len(remote.branches()) == 2


def test_a_deleted_mirror_never_reads_the_repository_around_the_process(
    mirror: Mirror, work: WorkTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit_file(work, "a.yaml", "a: 1\n")
    work.push("main")
    work.branch("only-in-the-work-tree")
    mirror.fetch()
    shutil.rmtree(mirror.path)
    monkeypatch.chdir(work.path)  # git run from here would find the work tree's repository
    with pytest.raises(MirrorMissing, match=str(mirror.path)):
        mirror.branches()


def test_a_deleted_mirror_is_made_again_and_fetched_whole(mirror: Mirror, work: WorkTree) -> None:
    main = commit_file(work, "a.yaml", "a: 1\n")
    work.push("main")
    work.branch("feature/x")
    feature = work.push("feature/x")
    mirror.fetch()
    shutil.rmtree(mirror.path)
    mirror.fetch("feature/x")  # one branch asked for: every branch comes back
    assert mirror.branches() == {"main": main, "feature/x": feature}
    assert mirror.read_file(main, "a.yaml") == b"a: 1\n"
