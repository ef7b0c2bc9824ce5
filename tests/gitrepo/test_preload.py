"""``GitReader.preload``: a burst of new commits read in a few passes, then served from memory.

The proof that a preload really read everything a build needs: once it ran, the repository's
object files are moved away, and every preloaded commit still lists and reads exactly as a
reader that never preloaded saw it; a commit that was not preloaded cannot be read any more
(so the check can fail). Each object is read once however many commits share it: a second
preload of the same commits reads nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.gitrepo import GitReader, RepositoryError, RevisionNotFound
from tests.support.gitrepos import Remote, git, make_remote
from tests.support.manifests import ingress, to_yaml

LIMIT = 1 << 20
BRANCHES = 10


def burst_remote(tmp_path: Path) -> tuple[Remote, dict[str, str]]:
    """``main`` with two environments; BRANCHES branches pushed at once, each changing its own
    file and adding one shared new file (one blob on every branch)."""
    remote = make_remote(tmp_path)
    work = remote.clone()
    work.write(
        {
            "environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web")),
            "environments/staging/shop.yaml": to_yaml(ingress("shop", "shop.staging.example.com", "web")),
            "docs/readme.md": "not a manifest",
        }
    )
    work.commit("seed")
    work.push("main")
    shared = to_yaml(ingress("shared", "shared.example.com", "web"))
    for n in range(BRANCHES):
        work.branch(f"burst/b{n}", "main")
        work.switch(f"burst/b{n}")
        work.write(
            {
                f"environments/production/b{n}.yaml": to_yaml(ingress(f"b{n}", f"b{n}.example.com", "web")),
                "environments/production/shared.yaml": shared,
            }
        )
        work.commit(f"branch {n}")
    git(work.path, "push", "-q", "origin", "refs/heads/burst/*:refs/heads/burst/*")
    return remote, {name: sha for name, sha in remote.branches().items() if name.startswith("burst/")}


def snapshot(reader: GitReader, commit: str) -> dict[str, bytes]:
    """What a build reads of ``commit``: its commit, the listing of environments and the bytes."""
    reader.commit_info(commit)
    listing = reader.list_tree(commit, "environments", max_file_bytes=LIMIT, max_files=1000)
    blobs = reader.read_blobs(entry.sha for entry in listing.entries.values())
    return {path: blobs[entry.sha] for path, entry in listing.entries.items()}


def test_a_preloaded_burst_is_read_from_memory_and_each_object_once(tmp_path: Path) -> None:
    remote, heads = burst_remote(tmp_path)
    with GitReader(remote.path) as plain:
        expected = {commit: snapshot(plain, commit) for commit in heads.values()}
    main = remote.head("main")
    with GitReader(remote.path) as reader:
        assert reader.preload(heads.values(), "environments", max_file_bytes=LIMIT) > 0
        assert reader.preload(heads.values(), "environments", max_file_bytes=LIMIT) == 0  # all in memory
        objects = remote.path / "objects"
        objects.rename(remote.path / "objects.away")
        try:
            assert {commit: snapshot(reader, commit) for commit in heads.values()} == expected
            with pytest.raises((RevisionNotFound, RepositoryError)):
                snapshot(reader, main)  # not preloaded: it needs the object files
        finally:
            (remote.path / "objects.away").rename(objects)


def test_a_preload_reads_no_blob_over_the_limit_and_skips_what_is_missing(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    work = remote.clone()
    big = to_yaml(ingress("big", "big.example.com", "web")) + "#" * 4096 + "\n"
    work.write({"environments/production/big.yaml": big})
    head = work.commit("big")
    work.push("main")
    blob = git(remote.path, "rev-parse", f"{head}:environments/production/big.yaml")
    with GitReader(remote.path) as reader:
        reader.preload([head, "0" * 40], "environments", max_file_bytes=1024)  # a missing commit: no error
        objects = remote.path / "objects"
        objects.rename(remote.path / "objects.away")
        try:
            listing = reader.list_tree(head, "environments", max_file_bytes=1024, max_files=10)
            assert listing.entries == {} and [f.rule for f in listing.findings] == ["yaml/too-large"]
            with pytest.raises((RevisionNotFound, RepositoryError)):
                reader.read_blob(blob)  # its size was read, its bytes were not
        finally:
            (remote.path / "objects.away").rename(objects)
        assert reader.read_blob(blob) == big.encode()
