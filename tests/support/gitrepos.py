"""Builders for real git repositories in tmp folders: a bare "remote" and working clones.

Tests drive the git CLI exactly as a user would (write, commit, push, force-push, delete a branch),
so the code under test sees real packs, real refs and real pushes, never a stub. Every command runs
with a fixed identity and without the user's global or system config, so a developer's hooks,
signing or aliases never change what a test does.

Branch names are passed only inside full refspecs (``HEAD:refs/heads/<name>``) or to
``update-ref``/``symbolic-ref``, so tests can create the hostile names the product must survive
(``--upload-pack=touch /tmp/x``, unicode, 250 characters) without the helper tripping over them.

    remote = make_remote(tmp_path)
    work = remote.clone()
    work.write({"environments/production/a.yaml": "..."})
    work.commit("add a")
    work.push("main")
    work.branch("feature/x"); work.write(...); work.commit("change"); work.push("feature/x")
    work.delete_remote_branch("feature/x")
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_ENVIRONMENTS = PROJECT_ROOT / "environments"
GIT_TIMEOUT = 60.0

_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
}


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(_IDENTITY)
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
        LANGUAGE="C",
    )
    return env


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    """Run git in ``cwd`` (no shell) and return stdout; a failure raises with git's stderr."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=git_env(),
        input=input,
        capture_output=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"git {' '.join(args)} failed in {cwd} ({proc.returncode}): {proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout.decode("utf-8", errors="surrogateescape").strip()


@dataclass(frozen=True)
class Remote:
    """A bare repository standing in for GitHub/GitLab/Gitea; ``url`` is what a Mirror fetches."""

    path: Path
    initial_branch: str = "main"

    @property
    def url(self) -> str:
        return str(self.path)

    @property
    def file_url(self) -> str:
        return self.path.as_uri()

    def clone(self, dest: Path | None = None) -> WorkTree:
        dest = dest or _free_name(self.path.parent, "work")
        git(self.path.parent, "clone", "-q", "--no-tags", "--", str(self.path), str(dest))
        work = WorkTree(dest, self)
        if not work.has_commits():
            # git before 2.41 points an empty clone's HEAD at its own default branch name
            git(dest, "symbolic-ref", "HEAD", f"refs/heads/{self.initial_branch}")
        return work

    def branches(self) -> dict[str, str]:
        """Branch name -> head commit, as the remote holds them now."""
        out = git(self.path, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/")
        heads: dict[str, str] = {}
        for line in out.splitlines():
            sha, ref = line.split(" ", 1)
            heads[ref.removeprefix("refs/heads/")] = sha
        return heads

    def head(self, branch: str) -> str:
        return git(self.path, "rev-parse", "--verify", "--end-of-options", f"refs/heads/{branch}^{{commit}}")

    def install_hook(self, name: str, source: Path) -> Path:
        """Copy a hook script (e.g. hooks/post-receive) into the bare repository, executable."""
        target = self.path / "hooks" / name
        shutil.copyfile(source, target)
        target.chmod(0o755)
        return target


@dataclass(frozen=True)
class WorkTree:
    """A working clone of a Remote; each method is one or two git commands."""

    path: Path
    remote: Remote

    def write(self, files: Mapping[str, str | bytes]) -> None:
        """Write files (repo-relative POSIX paths), creating folders; str is written as UTF-8."""
        for rel, content in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode() if isinstance(content, str) else content
            target.write_bytes(data)

    def remove(self, *paths: str) -> None:
        for rel in paths:
            target = self.path / rel
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()

    def symlink(self, path: str, target: str) -> None:
        link = self.path / path
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, link)

    def submodule(self, path: str) -> str:
        """Make ``path`` a nested repository with one commit; committing records it as a
        submodule entry (mode 160000). Returns the nested commit."""
        nested = self.path / path
        nested.mkdir(parents=True, exist_ok=True)
        git(nested, "init", "-q")
        (nested / "README").write_text("nested repository\n")
        git(nested, "add", "README")
        git(nested, "commit", "-q", "-m", "nested")
        return git(nested, "rev-parse", "HEAD")

    def copy_environments(self, src_dir: Path = SAMPLE_ENVIRONMENTS, dest: str = "environments") -> None:
        """Seed the work tree with a folder of Ingress files (the project's own by default)."""
        shutil.copytree(src_dir, self.path / dest, dirs_exist_ok=True)

    def commit(self, message: str = "change") -> str:
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")

    def has_commits(self) -> bool:
        return bool(git(self.path, "for-each-ref", "--count=1", "refs/heads/"))

    def branch(self, name: str, start: str = "HEAD") -> None:
        """Create branch ``name`` at ``start`` and make it current (any name git accepts as a ref)."""
        git(self.path, "update-ref", f"refs/heads/{name}", start)
        self.switch(name)

    def switch(self, name: str) -> None:
        """Make branch ``name`` current; a branch only the remote has starts from ``origin/<name>``."""
        ref = f"refs/heads/{name}"
        if git(self.path, "for-each-ref", "--format=%(refname)", ref) != ref:
            git(self.path, "update-ref", ref, f"refs/remotes/origin/{name}")
        git(self.path, "symbolic-ref", "HEAD", ref)
        git(self.path, "reset", "-q", "--hard")

    def fetch(self) -> None:
        """Bring ``origin/*`` up to date with the remote (after another clone pushed)."""
        git(self.path, "fetch", "-q", "--prune", "origin")

    def reset(self, rev: str) -> None:
        """Move the current branch to ``rev`` (e.g. "HEAD~1") to rewrite history before a force push."""
        git(self.path, "reset", "-q", "--hard", rev)

    def push(self, branch: str, *, force: bool = False, rev: str = "HEAD") -> str:
        """Push ``rev`` to ``refs/heads/<branch>`` on the remote; returns the pushed commit."""
        sha = git(self.path, "rev-parse", "--verify", rev)
        args = ["push", "-q", "--no-verify"] + (["--force"] if force else [])
        git(self.path, *args, "origin", f"{sha}:refs/heads/{branch}")
        return sha

    def force_push(self, branch: str, rev: str = "HEAD") -> str:
        return self.push(branch, force=True, rev=rev)

    def delete_remote_branch(self, branch: str) -> None:
        git(self.path, "push", "-q", "--no-verify", "origin", f":refs/heads/{branch}")


def make_remote(tmp_path: Path, name: str = "remote.git", initial_branch: str = "main") -> Remote:
    """An empty bare repository under ``tmp_path`` whose HEAD names ``initial_branch``."""
    path = tmp_path / name
    git(tmp_path, "init", "-q", "--bare", f"--initial-branch={initial_branch}", str(path))
    return Remote(path, initial_branch)


def make_sample_remote(tmp_path: Path, branch: str = "main") -> tuple[Remote, WorkTree]:
    """A remote whose ``branch`` holds the project's own environments/ folder."""
    remote = make_remote(tmp_path, initial_branch=branch)
    work = remote.clone()
    work.copy_environments()
    work.commit("sample environments")
    work.push(branch)
    return remote, work


def make_branching_remote(
    tmp_path: Path,
    stable: Mapping[str, str | bytes],
    branch: str,
    changes: Mapping[str, str | bytes],
) -> tuple[Remote, WorkTree]:
    """A remote whose ``main`` holds ``stable`` and whose ``branch`` adds ``changes`` on top of it,
    both pushed; the work tree is left on ``branch``."""
    remote = make_remote(tmp_path)
    work = remote.clone()
    work.write(stable)
    work.commit("stable")
    work.push("main")
    work.branch(branch)
    work.write(changes)
    work.commit(f"change on {branch}")
    work.push(branch)
    return remote, work


def _free_name(parent: Path, stem: str) -> Path:
    for index in range(1000):
        candidate = parent / (stem if index == 0 else f"{stem}-{index}")
        if not candidate.exists():
            return candidate
    raise RuntimeError(f"no free folder name for {stem} in {parent}")
