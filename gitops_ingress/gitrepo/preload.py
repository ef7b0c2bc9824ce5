"""A burst's new objects read in a few ``git cat-file`` passes, before its builds ask for them.

A build reads a commit, the trees on the way down to its environments, each manifest's size and
the manifests it has not parsed before: about seven round trips on a ``cat-file`` pipe per new
commit, each queued behind the others' when 500 new branches arrive in one push (the sync engine
calls ``GitReader.preload`` for such a burst, docs/dev/architecture.md "Push to live"). Here the
same objects are read level by level for *all* the commits at once: one ``cat-file --batch`` run
with every commit id on its stdin, then one with every tree of the next level down, and so on to
the bottom of the environments folder, then one ``--batch-check`` for the manifests' sizes and one
``--batch`` for their bytes. So the burst costs a handful of processes instead of thousands of
round trips, and what it read goes into the reader's memos, where the builds find it.

Only what a build would read is read: below ``root`` every folder but the skipped ones
(``core.tree``'s filter) and the files with manifest names, each object once however many commits
share it (branches of one push share most of their trees and blobs). Bytes are read only for
blobs whose size no earlier read saw (those already seen were read and parsed before: the engine's
parse cache has them) and only up to ``max_file_bytes`` (a larger one is a finding, never read).
Whatever cannot be read here (an object missing, a tree git cannot parse) is simply left out: the
build reads it the ordinary way and reports it as it always did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from git.objects.fun import tree_entries_from_data

from gitops_ingress.core.status import CommitInfo
from gitops_ingress.core.tree import is_manifest_name, is_skipped_folder
from gitops_ingress.gitrepo.memo import Memo
from gitops_ingress.gitrepo.tree import MODE_FILE, MODE_KIND, MODE_TREE, RawEntry

# one cat-file run: its option (--batch or --batch-check) and the ids -> its whole output
CatFile = Callable[[str, Sequence[bytes]], bytes]
ParseCommit = Callable[[bytes, bytes], tuple[bytes, CommitInfo]]


@dataclass(frozen=True, slots=True)
class Memos:
    """The reader's memos that a preload fills (reader.py)."""

    commits: Memo[tuple[bytes, CommitInfo]]  # commit id -> (root tree id, description)
    trees: Memo[tuple[RawEntry, ...]]
    sizes: Memo[int]  # blob id -> size
    blobs: Memo[bytes]  # blob id -> bytes, bounded by bytes


def parse_batch(out: bytes) -> dict[bytes, tuple[bytes, bytes]]:
    """``cat-file --batch`` output -> object id -> (type, bytes); missing objects left out."""
    objects: dict[bytes, tuple[bytes, bytes]] = {}
    offset = 0
    while offset < len(out):
        end = out.index(b"\n", offset)
        header = out[offset:end].split()
        offset = end + 1
        if len(header) != 3:
            continue  # "<id> missing" (or ambiguous): the build's own read reports it
        size = int(header[2])
        objects[bytes.fromhex(header[0].decode())] = (header[1], out[offset : offset + size])
        offset += size + 1  # the newline after each object
    return objects


def _sizes(out: bytes) -> dict[bytes, int]:
    """``cat-file --batch-check`` output -> blob id -> size."""
    sizes: dict[bytes, int] = {}
    for line in out.splitlines():
        header = line.split()
        if len(header) == 3 and header[1] == b"blob":
            sizes[bytes.fromhex(header[0].decode())] = int(header[2])
    return sizes


def preload(
    cat_file: CatFile,
    parse_commit: ParseCommit,
    memos: Memos,
    commits: Iterable[bytes],
    root: str,
    *,
    max_file_bytes: int,
) -> int:
    """Read what building ``commits`` below ``root`` needs into ``memos``; the objects read."""
    read = 0
    wanted = [c for c in dict.fromkeys(commits) if c not in memos.commits]
    if wanted:
        for commit, (kind, data) in parse_batch(cat_file("--batch", wanted)).items():
            if kind == b"commit" and data.startswith(b"tree "):
                memos.commits.put(commit, parse_commit(commit, data))
                read += 1
    parts = [part for part in root.strip("/").split("/") if part]
    frontier: dict[bytes, int] = {}  # tree id -> how many parts of ``root`` lie above it
    for commit in dict.fromkeys(commits):
        found = memos.commits.peek(commit)
        if found is not None:
            frontier[found[0]] = 0
    seen: set[bytes] = set()
    blobs: dict[bytes, None] = {}
    while frontier:
        seen.update(frontier)
        unread = [tree for tree in frontier if tree not in memos.trees]
        if unread:
            for tree, (kind, data) in parse_batch(cat_file("--batch", unread)).items():
                try:
                    entries = tuple(tree_entries_from_data(data)) if kind == b"tree" else None
                except ValueError:
                    entries = None  # the build's walk reports the bad tree
                if entries is not None:
                    memos.trees.put(tree, entries)
                    read += 1
        below: dict[bytes, int] = {}
        for tree, depth in frontier.items():
            for sha, mode, name in memos.trees.peek(tree) or ():
                entry = mode & MODE_KIND
                if depth < len(parts):
                    if name != parts[depth]:
                        continue
                    if entry == MODE_FILE and depth + 1 == len(parts):
                        blobs[sha] = None  # the root is one file
                    elif entry == MODE_TREE and sha not in seen:
                        below[sha] = depth + 1
                elif entry == MODE_TREE:
                    if not is_skipped_folder(name) and sha not in seen:
                        below[sha] = depth
                elif entry == MODE_FILE and is_manifest_name(name):
                    blobs[sha] = None
        frontier = below
    new = [blob for blob in blobs if blob not in memos.sizes]
    if not new:
        return read
    sizes = _sizes(cat_file("--batch-check", new))
    for blob, size in sizes.items():
        memos.sizes.put(blob, size)
    small = [blob for blob in new if sizes.get(blob, max_file_bytes + 1) <= max_file_bytes]
    if small:
        for blob, (kind, data) in parse_batch(cat_file("--batch", small)).items():
            if kind == b"blob":
                memos.blobs.put(blob, data)
                read += 1
    return read
