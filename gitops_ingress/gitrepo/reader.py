"""Reading commits, trees and blobs of a local repository without a work tree or checkout.

Everything goes through GitPython's object database, which keeps two long-lived ``git cat-file``
processes (``--batch`` and ``--batch-check``) per ``Repo`` handle: reading a blob is a round trip
on a pipe, not a process start. Those pipes are not thread-safe, so each object read borrows a
handle from a small pool (``_Handles``) for the length of the read: sync builds run in several
worker threads at once, and a build is mostly waiting on such round trips (eight per branch), so
one shared pipe made a burst of 500 new branches a queue of 4,000 round trips in a row. Git
objects are immutable, so tree entries, blob sizes and commit -> tree are kept by object id in
bounded memos (memo.py): after the first branch, listing another branch that shares folders costs
dictionary look-ups. For a burst of new commits ``preload`` reads all of their new objects in a
few ``cat-file`` passes first (preload.py), blobs' bytes included, so their builds make no round
trip at all. ``GitReader`` opens any existing
repository (bare or not, e.g. for ``validate --repo DIR --ref REF``); ``Mirror`` adds fetching.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Self

from git import Repo
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError
from git.objects import Commit
from git.objects.fun import tree_entries_from_data
from gitdb.exc import BadObject

from gitops_ingress.core.status import CommitInfo
from gitops_ingress.gitrepo.errors import (
    BlobTooLarge,
    RepositoryError,
    RevisionNotFound,
)
from gitops_ingress.gitrepo.memo import Memo
from gitops_ingress.gitrepo.preload import Memos, parse_batch, preload
from gitops_ingress.gitrepo.refs import HEADS
from gitops_ingress.gitrepo.source import CommitTree
from gitops_ingress.gitrepo.tree import (
    MODE_FILE,
    MODE_KIND,
    MODE_TREE,
    BadTree,
    GitTreeListing,
    RawEntry,
    walk_tree,
)

_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_BATCH_THRESHOLD = 32  # below this the long-lived cat-file pipe is quicker than a new process
PRELOAD_BYTES = 32 * 1024 * 1024  # blobs' bytes kept from a preload until a build reads them


class GitReader:
    def __init__(
        self, path: Path, *, cache_entries: int = 65_536, read_handles: int = 8, preload_bytes: int = PRELOAD_BYTES
    ) -> None:
        # read_handles: at least one per engine build worker (sync.EngineOptions.build_workers),
        # so none of them waits for a pipe or opens one per read
        self._path = Path(path)
        self._repo: Repo | None = None
        self._lock = threading.RLock()
        self._handles = _Handles(self._new_repo, read_handles)
        self._memos = Memos(
            commits=Memo(cache_entries),
            trees=Memo(cache_entries),
            sizes=Memo(cache_entries * 4),
            blobs=Memo(preload_bytes, len),
        )

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        """Stop the cat-file processes; the reader reopens the repository when used again."""
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None
        self._handles.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def branches(self) -> dict[str, str]:
        """Branch name -> head commit id.

        Names that are not UTF-8 (git allows any bytes) are left out: they could be neither
        stored, shown nor sent as JSON, and ``Mirror.fetch(name)`` refuses them the same way.
        """
        out = self._run("for-each-ref", "--format=%(objectname)%09%(refname)", HEADS)
        heads: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if _is_text(ref):
                heads[ref.removeprefix(HEADS)] = sha
        return heads

    def resolve(self, rev: str) -> str:
        """The commit id that a trusted revision (a CLI ``--ref``: branch, tag, sha, ``HEAD~1``) names."""
        try:
            return self._run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
        except (GitCommandError, ValueError) as exc:
            raise RevisionNotFound(f"{rev!r} names no commit in {self._path}") from exc

    def commit_info(self, sha: str) -> CommitInfo:
        return self._commit(self._binsha(sha))[1]

    def preload(self, commits: Iterable[str], root: str, *, max_file_bytes: int) -> int:
        """Read what building ``commits`` below ``root`` needs in a few ``cat-file`` runs for all
        of them (preload.py), so their builds find it in memory; returns the objects read."""
        ids = [self._binsha(sha) for sha in commits]
        return preload(self._cat_file, self._parse_commit, self._memos, ids, root, max_file_bytes=max_file_bytes)

    def tree_id(self, sha: str) -> str:
        """The id of commit ``sha``'s root tree (equal ids: equal files)."""
        return self._commit_tree(self._binsha(sha)).hex()

    def list_tree(self, sha: str, root: str, *, max_file_bytes: int, max_files: int) -> GitTreeListing:
        """The ``*.yaml``/``*.yml`` blobs below ``root`` (a folder, or one file) of commit ``sha``.

        An absent ``root`` is an empty listing, not an error: a repository may have no environments.
        """
        path = root.strip("/")
        entry = self._lookup(self._commit_tree(self._binsha(sha)), path)
        if entry is None:
            return GitTreeListing(entries={})
        return walk_tree(
            entry[0],
            entry[1],
            path,
            entries=self._tree_entries,
            size=self._blob_size,
            max_file_bytes=max_file_bytes,
            max_files=max_files,
        )

    def tree(self, sha: str) -> CommitTree:
        """Commit ``sha`` as the pipeline's tree source."""
        return CommitTree(self, sha)

    def read_blob(self, sha: str) -> bytes:
        preloaded = self._memos.blobs.peek(self._binsha(sha))
        if preloaded is not None:
            return preloaded
        kind, data = self._read_object(self._binsha(sha))
        if kind != b"blob":
            raise RevisionNotFound(f"{sha} is a {kind.decode()}, not a blob")
        return data

    def read_blobs(self, shas: Iterable[str]) -> dict[str, bytes]:
        """Many blobs at once (a cold start): one ``git cat-file --batch`` run with every id on
        its stdin streams them without a round trip per blob, about 10x faster than ``read_blob``
        in a loop once there are more than a few dozen."""
        blobs: dict[str, bytes] = {}
        wanted: list[str] = []
        for sha in dict.fromkeys(shas):
            preloaded = self._memos.blobs.peek(self._binsha(sha))
            if preloaded is not None:
                blobs[sha] = preloaded
            else:
                wanted.append(sha)
        if len(wanted) < _BATCH_THRESHOLD:
            return blobs | {sha: self.read_blob(sha) for sha in wanted}
        objects = parse_batch(self._cat_file("--batch", [self._binsha(sha) for sha in wanted]))
        for sha in wanted:
            kind, data = objects.get(bytes.fromhex(sha), (b"missing", b""))
            if kind != b"blob":
                raise RevisionNotFound(f"{sha} is not a blob in {self._path}")
            blobs[sha] = data
        return blobs

    def read_file(self, sha: str, path: str, *, max_bytes: int | None = None) -> bytes | None:
        """A regular file of commit ``sha`` (e.g. ``gitops-ingress.yaml``); None when there is none.

        Folders, symlinks and submodules are not files: None, never followed.
        """
        entry = self._lookup(self._commit_tree(self._binsha(sha)), path.strip("/"))
        if entry is None or entry[1] & MODE_KIND != MODE_FILE:
            return None
        binsha = entry[0]
        if max_bytes is not None and (size := self._blob_size(binsha)) > max_bytes:
            raise BlobTooLarge(f"{path} at {sha[:12]} is {size} bytes, more than the limit of {max_bytes}")
        return self._read_object(binsha)[1]

    # -- internals ---------------------------------------------------------------------------------

    def _open(self) -> Repo:
        """The handle for everything but object reads (config, one-off commands)."""
        with self._lock:
            if self._repo is None:
                self._repo = self._new_repo()
            return self._repo

    def _new_repo(self) -> Repo:
        try:
            return Repo(self._path)
        except (InvalidGitRepositoryError, NoSuchPathError) as exc:
            raise RepositoryError(f"{self._path} is not a git repository") from exc

    def _cat_file(self, option: str, ids: Sequence[bytes]) -> bytes:
        """One ``git cat-file`` run (``--batch`` or ``--batch-check``) over ``ids``: its output."""
        request = b"".join(binsha.hex().encode() + b"\n" for binsha in ids)
        try:
            # keep GitPython's handle alive: dropping it terminates the process
            handle = self._open().git.cat_file(option, as_process=True, istream=subprocess.PIPE)
            process = handle.proc
            out, err = process.communicate(request) if process else (b"", b"not started")
        except (OSError, GitCommandError) as exc:  # the repository's folder gone, git not started
            raise RepositoryError(f"git cat-file could not run in {self._path}: {exc}") from exc
        if not process or process.returncode != 0:
            raise RepositoryError(f"git cat-file failed in {self._path}: {err.decode(errors='replace')[-200:]}")
        return bytes(out)

    def _run(self, *args: str) -> str:
        """A one-off git command in the repository (no shell; arguments never start with '-')."""
        git = self._open().git
        return str(git.execute([git.GIT_PYTHON_GIT_EXECUTABLE, *args]))

    @staticmethod
    def _binsha(sha: str) -> bytes:
        if not _FULL_SHA.fullmatch(sha):
            raise RevisionNotFound(f"{sha!r} is not a full commit id (40 lowercase hex digits)")
        return bytes.fromhex(sha)

    def _read_object(self, binsha: bytes) -> tuple[bytes, bytes]:
        with self._handles.borrow() as repo:
            try:
                stream = repo.odb.stream(binsha)
                return stream.type, stream.read()
            except (ValueError, BadObject) as exc:
                raise RevisionNotFound(f"object {binsha.hex()} is not in {self._path}") from exc

    def _commit_tree(self, binsha: bytes) -> bytes:
        return self._commit(binsha)[0]

    def _commit(self, binsha: bytes) -> tuple[bytes, CommitInfo]:
        return self._memos.commits.get(binsha, self._read_commit)

    def _tree_entries(self, binsha: bytes) -> tuple[RawEntry, ...]:
        return self._memos.trees.get(binsha, self._read_tree_entries)

    def _blob_size(self, binsha: bytes) -> int:
        return self._memos.sizes.get(binsha, self._read_blob_size)

    def _read_commit(self, binsha: bytes) -> tuple[bytes, CommitInfo]:
        """A commit's tree id and description from ONE read of the object: a sync needs both,
        and under a burst of new branches every round trip on a pipe is queued behind others."""
        kind, data = self._read_object(binsha)
        if kind != b"commit" or not data.startswith(b"tree "):
            raise RevisionNotFound(f"{binsha.hex()} is a {kind.decode()}, not a commit")
        return self._parse_commit(binsha, data)

    def _parse_commit(self, binsha: bytes, data: bytes) -> tuple[bytes, CommitInfo]:
        commit = Commit(self._open(), binsha)
        commit._deserialize(BytesIO(data))  # parses the bytes in hand; reads nothing
        author = commit.author
        message = commit.message
        if isinstance(message, bytes):
            message = message.decode("utf-8", errors="replace")
        info = CommitInfo(
            sha=binsha.hex(),
            author=author.name or "",
            email=author.email or "",
            message=message,
            time=commit.authored_datetime.isoformat(),
        )
        return commit.tree.binsha, info

    def _read_tree_entries(self, binsha: bytes) -> tuple[RawEntry, ...]:
        kind, data = self._read_object(binsha)
        if kind != b"tree":
            raise BadTree(f"{binsha.hex()} is a {kind.decode()}, not a tree")
        try:
            return tuple(tree_entries_from_data(data))
        except ValueError as exc:
            raise BadTree(f"{binsha.hex()}: {exc}") from exc

    def _read_blob_size(self, binsha: bytes) -> int:
        with self._handles.borrow() as repo:
            try:
                return int(repo.odb.info(binsha).size)
            except (ValueError, BadObject) as exc:
                raise RevisionNotFound(f"object {binsha.hex()} is not in {self._path}") from exc

    def _lookup(self, tree: bytes, path: str) -> tuple[bytes, int] | None:
        """(object id, mode) of ``path`` below ``tree``, never through a symlink; None if absent."""
        binsha, mode = tree, MODE_TREE
        for part in filter(None, path.split("/")):
            if mode & MODE_KIND != MODE_TREE:
                return None
            try:
                children = self._tree_entries(binsha)
            except BadTree:
                return None
            match = next(((sha, m) for sha, m, name in children if name == part), None)
            if match is None:
                return None
            binsha, mode = match
        return binsha, mode


class _Handles:
    """``Repo`` handles for object reads, one per read at a time: a read borrows an idle handle
    (or opens one) and gives it back; at most ``keep`` idle handles are kept open. ``close`` stops
    the idle ones, and a handle borrowed before it is stopped when it comes back (its processes
    read a folder that may be gone)."""

    def __init__(self, open_repo: Callable[[], Repo], keep: int) -> None:
        self._open_repo = open_repo
        self._keep = keep
        self._idle: list[Repo] = []
        self._generation = 0
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[Repo]:
        with self._lock:
            repo = self._idle.pop() if self._idle else None
            generation = self._generation
        if repo is None:
            repo = self._open_repo()
        try:
            yield repo
        finally:
            with self._lock:
                kept = generation == self._generation and len(self._idle) < self._keep
                if kept:
                    self._idle.append(repo)
            if not kept:
                repo.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for repo in idle:
            repo.close()


def _is_text(name: str) -> bool:
    """False for names GitPython decoded with surrogate escapes (bytes that are not UTF-8)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
