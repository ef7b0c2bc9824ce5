"""A bare mirror of the config repository in the state folder, kept current by ``git fetch``.

Branches are fetched straight into ``refs/heads/*`` of a bare repository with a forced refspec, so
force pushes simply move the ref and ``--prune`` drops deleted branches; nothing is ever checked
out. ``fetch(branch)`` fetches one ``refs/heads/<name>`` for a webhook (the name checked by
``git check-ref-format`` first, see refs.py); a branch the remote no longer has is deleted locally.
The remote is always the configured one, never a URL from a payload.

Fetches run with no way to ask for credentials (``GIT_TERMINAL_PROMPT=0``, an empty askpass, ssh
in batch mode, a new session without a terminal) and are killed with their children at the
timeout; failures become ``RemoteUnreachable``/``AuthenticationFailed``/``FetchTimeout``. Fetches
are serialised by a lock; reads go on meanwhile (git updates refs atomically). Credentials in the
remote URL never reach a file: the stored URL has none, and each fetch gets them in its own
environment (credentials.py).

Housekeeping. A fetch of a few commits stores their objects loose (about 16 KB per push), and
git's own automatic maintenance would run detached, racing our next fetch. So the mirror has it
switched off (``maintenance.auto``, ``gc.auto``) and ``fetch`` does it in the open, under the fetch
lock: after each fetch ``git count-objects`` (one cheap process) and, once the loose objects grew
by ``loose_object_limit`` since the last collection or there are more than ``pack_limit`` packs,
one ``git gc``. Counting from the last collection throttles it: unreachable objects younger than
``PRUNE_EXPIRE`` (a build may still read a commit a force push just replaced) survive a collection
and are not collected again and again. So the loose objects stay below what the last collection
kept plus the limit.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from git import Repo
from git.exc import GitCommandError

from gitops_ingress.core.errors import ConfigError, GitopsIngressError
from gitops_ingress.gitrepo.credentials import split_credentials
from gitops_ingress.gitrepo.errors import (
    FetchTimeout,
    MirrorMissing,
    RepositoryError,
    classify_fetch_failure,
    git_message,
    redact,
)
from gitops_ingress.gitrepo.reader import GitReader
from gitops_ingress.gitrepo.refs import HEADS, branch_ref, normalize_remote

log = logging.getLogger(__name__)
REMOTE = "origin"
ALL_BRANCHES = f"+{HEADS}*:{HEADS}*"
_MISSING_REF = "couldn't find remote ref"
LOOSE_OBJECT_LIMIT = 1000  # loose objects gained since the last collection (git's own: 6700)
PACK_LIMIT = 50  # as git's gc.autoPackLimit
PRUNE_EXPIRE = "1.hour.ago"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a fetch changed: branch -> (old head or None when new, new head); deleted branches.
    ``heads``: every branch's head after a fetch of every branch (None after a one-ref fetch),
    read once for both this comparison and the caller (with 1,500 refs each read costs)."""

    updated: Mapping[str, tuple[str | None, str]] = field(default_factory=dict)
    deleted: tuple[str, ...] = ()
    heads: Mapping[str, str] | None = None

    @property
    def changed(self) -> bool:
        return bool(self.updated or self.deleted)

    @classmethod
    def between(cls, before: Mapping[str, str], after: Mapping[str, str], *, whole: bool = False) -> FetchResult:
        """``whole``: ``after`` holds every branch (a fetch of all of them): kept as ``heads``."""
        updated = {name: (before.get(name), sha) for name, sha in after.items() if before.get(name) != sha}
        deleted = tuple(sorted(name for name in before if name not in after))
        return cls(updated=dict(sorted(updated.items())), deleted=deleted, heads=dict(after) if whole else None)


class Mirror(GitReader):
    def __init__(
        self,
        remote: str,
        path: Path,
        *,
        fetch_timeout: float = 60.0,
        loose_object_limit: int = LOOSE_OBJECT_LIMIT,
        pack_limit: int = PACK_LIMIT,
    ) -> None:
        super().__init__(path)
        self._remote = normalize_remote(remote)
        self._stored_url, self._credentials = split_credentials(self._remote)
        self._fetch_timeout = fetch_timeout
        self._fetch_lock = threading.Lock()
        self._ensured = False
        self._loose_object_limit = loose_object_limit
        self._pack_limit = pack_limit
        self._loose_after_gc = 0  # loose objects the last collection left (kept: not yet expired)
        self._refill = False  # the mirror vanished: the next fetch must bring every branch back
        self._running: subprocess.Popen[bytes] | None = None  # the fetch under way

    def close(self) -> None:
        """Stop a fetch under way (a hanging remote must not hold up a shutdown for the fetch
        timeout) and the reader's processes."""
        process = self._running
        if process is not None:
            _kill_session(process)
        super().close()

    @property
    def remote(self) -> str:
        """The remote as configured, with any password in it blanked (safe to show)."""
        return redact(self._remote)

    def ensure(self) -> None:
        """Create the bare mirror if missing and point its ``origin`` at the configured remote."""
        if self._ensured:
            return
        path = self.path
        if not _holds_branches(path):
            # nothing stored to serve meanwhile: a path that is no repository will never become one
            _check_local_remote(self._remote)
        if not (path / "HEAD").is_file():
            if path.exists() and any(path.iterdir()):
                raise RepositoryError(f"{path} exists, is not empty and is not a git repository")
            try:
                Repo.init(path, bare=True, mkdir=True)
            except (OSError, GitCommandError) as exc:
                raise RepositoryError(f"cannot create the mirror in {path}: {exc}") from exc
        repo = self._open()
        # GitPython writes the config file itself: the URL is never a command-line argument. The
        # URL without its credentials (rewritten on every start, so an older mirror is cleaned).
        with repo.config_writer() as config:
            section = f'remote "{REMOTE}"'
            config.set_value(section, "url", self._stored_url)
            config.set_value(section, "fetch", ALL_BRANCHES)
            config.set_value("core", "logAllRefUpdates", "false")
            config.set_value("maintenance", "auto", "false")  # fetch collects in the open (see above)
            config.set_value("gc", "auto", "0")
        self._ensured = True

    def fetch(self, branch: str | None = None) -> FetchResult:
        """Fetch every branch (pruning deleted ones), or just ``branch``; report what moved.

        A mirror that vanished since it was made (deleted under a running service) is made
        again and fetched whole, whatever was asked; until such a fetch succeeds every fetch
        fails with ``MirrorMissing``, so the fault shows wherever fetch errors show."""
        with self._fetch_lock:
            if self._ensured and not (self.path / "HEAD").is_file():
                self.close()  # the cat-file processes read a folder that is gone
                self._ensured = False
                self._refill = True
            if self._refill:
                return self._refill_mirror()
            self.ensure()
            result = self._fetch_refs(branch)
            if result.changed:
                self._collect_garbage()
            return result

    def missing(self) -> str | None:
        """Why the mirror is not there, or None; one stat, cheap enough for every readiness
        probe. Before the first ``ensure`` nothing is missing yet."""
        if self._ensured and not (self.path / "HEAD").is_file():
            return f"the mirror {self.path} is gone (deleted while in use?); it is being made again from the remote"
        return None

    def loose_objects(self) -> tuple[int, int]:
        """(loose objects, packs) in the mirror, as ``git count-objects -v`` counts them."""
        counts = dict(line.split(": ", 1) for line in self._run("count-objects", "-v").splitlines())
        return int(counts["count"]), int(counts["packs"])

    # -- internals ---------------------------------------------------------------------------------

    def _fetch_refs(self, branch: str | None) -> FetchResult:
        if branch is None:
            before = self.branches()
            self._fetch(ALL_BRANCHES, prune=True)
            return FetchResult.between(before, self.branches(), whole=True)
        ref = branch_ref(branch, self._ref_format_ok)
        old = self._head_of(ref)
        if self._fetch(f"+{ref}:{ref}", prune=False):
            new = self._head_of(ref)
        else:
            new = None
            if old is not None:
                self._run("update-ref", "-d", ref, old)
        before = {branch: old} if old else {}
        return FetchResult.between(before, {branch: new} if new else {})

    def _collect_garbage(self) -> None:
        """``git gc`` once enough loose objects or packs piled up (see the module docstring)."""
        try:
            loose, packs = self.loose_objects()
            if loose - self._loose_after_gc < self._loose_object_limit and packs <= self._pack_limit:
                return
            self._run("gc", "--quiet", f"--prune={PRUNE_EXPIRE}")
            self._loose_after_gc = self.loose_objects()[0]
        except GitCommandError as exc:
            # housekeeping only: the fetch itself succeeded, and the next one tries again
            log.warning("git gc in %s failed: %s", self.path, git_message(str(exc.stderr)))

    def _run(self, *args: str) -> str:
        # GitPython runs git in the process's own folder when the mirror's is gone, and git then
        # finds whatever repository holds that folder: read (or fetch into) none but the mirror
        if not (self.path / "HEAD").is_file():
            raise MirrorMissing(f"the mirror {self.path} is gone (deleted while in use?)")
        return super()._run(*args)

    def _refill_mirror(self) -> FetchResult:
        try:
            self.ensure()
            self._fetch(ALL_BRANCHES, prune=True)
        except GitopsIngressError as exc:
            raise MirrorMissing(
                f"the mirror {self.path} was deleted; making it again from {self.remote} failed: {exc}"
            ) from exc
        self._refill = False
        return FetchResult.between({}, self.branches(), whole=True)

    def _fetch(self, refspec: str, *, prune: bool) -> bool:
        """Run one fetch; False when the remote has no such ref (a single deleted branch)."""
        if not (self.path / "HEAD").is_file():  # as in _run: never fetch into another repository
            raise MirrorMissing(f"the mirror {self.path} is gone (deleted while in use?)")
        git = self._open().git
        command = [git.GIT_PYTHON_GIT_EXECUTABLE, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head"]
        command += ["--prune"] if prune else []
        command += [REMOTE, refspec]
        handle = git.execute(command, env=self._fetch_env(), as_process=True, start_new_session=True)
        process = handle.proc
        if process is None:
            raise RepositoryError(f"git fetch could not be started in {self.path}")
        self._running = process
        try:
            _, stderr = process.communicate(timeout=self._fetch_timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_session(process)
            process.communicate()
            raise FetchTimeout(
                f"fetching {self.remote} did not finish within {self._fetch_timeout:g} s and was stopped"
            ) from exc
        finally:
            self._running = None
        if process.returncode == 0:
            return True
        text = stderr.decode("utf-8", errors="replace")
        if _MISSING_REF in text.lower():
            return False
        raise classify_fetch_failure(text)(f"fetching {self.remote} failed: {git_message(text)}")

    def _fetch_env(self) -> dict[str, str]:
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "", "GCM_INTERACTIVE": "never"}
        if "GIT_SSH_COMMAND" not in os.environ and "GIT_SSH" not in os.environ:
            env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
        if self._credentials is not None:
            env.update(self._credentials.fetch_environment())
        return env

    def _ref_format_ok(self, ref: str) -> bool:
        try:
            self._run("check-ref-format", ref)
        except GitCommandError:
            return False
        return True

    def _head_of(self, ref: str) -> str | None:
        try:
            return self._run("rev-parse", "--verify", "--quiet", "--end-of-options", ref)
        except GitCommandError:
            return None


def _kill_session(process: subprocess.Popen[bytes]) -> None:
    """git runs its transport (git-remote-http, ssh) as children: kill the whole session."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # it ended meanwhile
        pass


def _holds_branches(mirror: Path) -> bool:
    """Whether an earlier run fetched anything into the mirror (then a vanished remote is only
    unreachable: the stored state is served while fetches are retried)."""
    heads = mirror / "refs" / "heads"
    if heads.is_dir() and any(p.is_file() for p in heads.rglob("*")):
        return True
    packed = mirror / "packed-refs"
    return packed.is_file() and " refs/heads/" in packed.read_text(errors="replace")


def _check_local_remote(remote: str) -> None:
    """A remote that is a local path must be a repository now: retrying would never help."""
    if not remote.startswith("/"):
        return  # a URL (or scp-like address): reachable later, perhaps
    folder = Path(remote)
    if not folder.exists():
        raise ConfigError(f"--repo {remote}: no such folder")
    if not ((folder / "HEAD").is_file() and (folder / "objects").is_dir()) and not (folder / ".git").exists():
        raise ConfigError(f"--repo {remote}: not a git repository (neither bare nor a work tree)")
