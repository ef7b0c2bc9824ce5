"""Reading a commit's environments/ straight from git objects: listing, limits, findings, blobs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from gitops_ingress.core.findings import Severity
from gitops_ingress.gitrepo import BlobTooLarge, GitReader, Mirror, RepositoryError, RevisionNotFound
from tests.gitrepo.conftest import LIMITS
from tests.support.gitrepos import SAMPLE_ENVIRONMENTS, WorkTree, git

A = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a}\n"


def publish(work: WorkTree, mirror: Mirror, files: Mapping[str, str | bytes], branch: str = "main") -> str:
    work.write(files)
    head = work.commit("files")
    work.push(branch)
    mirror.fetch(branch)
    return head


def test_lists_only_yaml_files_with_blob_ids_and_sizes(work: WorkTree, mirror: Mirror) -> None:
    head = publish(
        work,
        mirror,
        {
            "environments/production/shop/a.yaml": A,
            "environments/production/b.yml": "b: 1\n",
            "environments/production/README.md": "not config",
            "environments/staging/deep/er/c.yaml": "c: 1\n",
            "docs/d.yaml": "outside the root",
            "gitops-ingress.yaml": "branches: {stable: main}\n",
        },
    )
    listing = mirror.list_tree(head, "environments", **LIMITS)
    assert list(listing.entries) == [
        "environments/production/b.yml",
        "environments/production/shop/a.yaml",
        "environments/staging/deep/er/c.yaml",
    ]
    entry = listing.entries["environments/production/shop/a.yaml"]
    assert entry.size == len(A) and entry.mode == 0o100644
    assert entry.sha == git(work.path, "rev-parse", "HEAD:environments/production/shop/a.yaml")
    assert mirror.read_blob(entry.sha) == A.encode()
    assert listing.findings == ()
    assert listing.tree == git(work.path, "rev-parse", "HEAD:environments")
    assert mirror.list_tree(head, "environments/staging", **LIMITS).entries.keys() == {
        "environments/staging/deep/er/c.yaml"
    }


def test_the_projects_own_environments(work: WorkTree, mirror: Mirror) -> None:
    work.copy_environments()
    head = work.commit("sample")
    work.push("main")
    mirror.fetch()
    listing = mirror.list_tree(head, "environments", **LIMITS)
    on_disk = sorted(
        p.relative_to(SAMPLE_ENVIRONMENTS.parent).as_posix()
        for p in SAMPLE_ENVIRONMENTS.rglob("*")
        if p.suffix in (".yaml", ".yml")
    )
    assert list(listing.entries) == on_disk and len(on_disk) >= 30
    for path, entry in listing.entries.items():
        assert mirror.read_blob(entry.sha) == (SAMPLE_ENVIRONMENTS.parent / path).read_bytes()


def test_repository_without_environments(work: WorkTree, mirror: Mirror) -> None:
    head = publish(work, mirror, {"README.md": "nothing here"})
    listing = mirror.list_tree(head, "environments", **LIMITS)
    assert (dict(listing.entries), listing.findings, listing.tree) == ({}, (), None)
    assert mirror.read_file(head, "gitops-ingress.yaml") is None


def test_root_that_is_a_file(work: WorkTree, mirror: Mirror) -> None:
    head = publish(work, mirror, {"environments": "oops", "single/a.yaml": A})
    assert mirror.list_tree(head, "environments", **LIMITS) == mirror.list_tree(head, "missing", **LIMITS)
    listing = mirror.list_tree(head, "single/a.yaml", **LIMITS)
    assert list(listing.entries) == ["single/a.yaml"] and listing.findings == ()
    too_large = mirror.list_tree(head, "single/a.yaml", max_file_bytes=10, max_files=10)
    assert (too_large.entries, [f.rule for f in too_large.findings]) == ({}, ["yaml/too-large"])


def test_symlinks_are_reported_and_never_followed(work: WorkTree, mirror: Mirror) -> None:
    work.write({"environments/production/a.yaml": A, "secret.yaml": "password: hunter2\n"})
    work.symlink("environments/production/escape.yaml", "/etc/passwd")
    work.symlink("environments/production/up.yaml", "../../secret.yaml")
    work.symlink("environments/staging", "production")
    head = work.commit("links")
    work.push("main")
    mirror.fetch()
    listing = mirror.list_tree(head, "environments", **LIMITS)
    assert list(listing.entries) == ["environments/production/a.yaml"]
    assert [(f.rule, f.file, f.severity) for f in listing.findings] == [
        ("fs/symlink", "environments/production/escape.yaml", Severity.ERROR),
        ("fs/symlink", "environments/production/up.yaml", Severity.ERROR),
        ("fs/symlink", "environments/staging", Severity.ERROR),
    ]
    assert mirror.read_file(head, "environments/production/up.yaml") is None
    assert mirror.read_file(head, "environments/staging/a.yaml") is None


def test_symlinked_root_is_not_followed(work: WorkTree, mirror: Mirror) -> None:
    work.write({"real/a.yaml": A})
    work.symlink("environments", "real")
    head = work.commit("link root")
    work.push("main")
    mirror.fetch()
    listing = mirror.list_tree(head, "environments", **LIMITS)
    assert listing.entries == {}
    assert [(f.rule, f.file) for f in listing.findings] == [("fs/symlink", "environments")]


def test_submodules_are_reported(work: WorkTree, mirror: Mirror) -> None:
    work.write({"environments/production/a.yaml": A})
    nested = work.submodule("environments/production/vendored")
    head = work.commit("with a submodule")
    work.push("main")
    mirror.fetch()
    listing = mirror.list_tree(head, "environments", **LIMITS)
    assert list(listing.entries) == ["environments/production/a.yaml"]
    (finding,) = listing.findings
    assert (finding.rule, finding.file, finding.severity) == (
        "fs/submodule",
        "environments/production/vendored",
        Severity.WARNING,
    )
    assert nested[:12] in finding.message


def test_binary_files_are_listed_for_the_loader_to_judge(work: WorkTree, mirror: Mirror) -> None:
    blob = bytes(range(256)) * 4
    head = publish(work, mirror, {"environments/production/blob.yaml": blob})
    listing = mirror.list_tree(head, "environments", **LIMITS)
    assert mirror.read_blob(listing.entries["environments/production/blob.yaml"].sha) == blob


def test_file_over_the_limit_is_reported_by_its_size(work: WorkTree, mirror: Mirror) -> None:
    head = publish(work, mirror, {"environments/production/big.yaml": "x" * 5000, "environments/a.yaml": A})
    listing = mirror.list_tree(head, "environments", max_file_bytes=4096, max_files=100)
    assert list(listing.entries) == ["environments/a.yaml"]
    (finding,) = listing.findings
    assert finding.rule == "yaml/too-large" and "5000 bytes" in finding.message
    with pytest.raises(BlobTooLarge):
        mirror.read_file(head, "environments/production/big.yaml", max_bytes=4096)


@pytest.mark.slow
def test_a_50_megabyte_file(work: WorkTree, mirror: Mirror) -> None:
    size = 50 * 1024 * 1024
    head = publish(work, mirror, {"environments/production/huge.yaml": b"#" * size, "environments/a.yaml": A})
    listing = mirror.list_tree(head, "environments", max_file_bytes=1024 * 1024, max_files=100)
    assert list(listing.entries) == ["environments/a.yaml"]
    assert [f.rule for f in listing.findings] == ["yaml/too-large"]
    assert str(size) in listing.findings[0].message


def make_wide_commit(work: WorkTree, count: int) -> str:
    """A commit whose environments/production holds ``count`` files (one shared blob), via mktree."""
    blob = git(work.path, "hash-object", "-w", "--stdin", input=A.encode())
    lines = "".join(f"100644 blob {blob}\tf{index:06d}.yaml\n" for index in range(count))
    production = git(work.path, "mktree", input=lines.encode())
    environments = git(work.path, "mktree", input=f"040000 tree {production}\tproduction\n".encode())
    root = git(work.path, "mktree", input=f"040000 tree {environments}\tenvironments\n".encode())
    commit = git(work.path, "commit-tree", root, "-m", "wide")
    git(work.path, "update-ref", "refs/heads/main", commit)
    return commit


@pytest.mark.slow
def test_a_hundred_thousand_files_stop_at_the_limit(work: WorkTree, mirror: Mirror) -> None:
    head = make_wide_commit(work, 100_000)
    work.push("main", rev=head)
    mirror.fetch()
    listing = mirror.list_tree(head, "environments", max_file_bytes=4096, max_files=10_000)
    assert len(listing.entries) <= 10_001
    assert [f.rule for f in listing.findings] == ["fs/too-many-files"]
    assert "10000" in listing.findings[0].message


def test_max_files_limit_is_exact(work: WorkTree, mirror: Mirror) -> None:
    head = make_wide_commit(work, 20)
    work.push("main", rev=head)
    mirror.fetch()
    assert mirror.list_tree(head, "environments", max_file_bytes=4096, max_files=20).findings == ()
    assert mirror.list_tree(head, "environments", max_file_bytes=4096, max_files=19).findings[0].rule == (
        "fs/too-many-files"
    )


def test_commit_info(work: WorkTree, mirror: Mirror) -> None:
    work.write({"environments/a.yaml": A})
    git(work.path, "add", "-A")
    message = "Route /api to api-v2\n\nLonger text ünïcode"
    git(work.path, "commit", "-q", "-m", message, "--date=2026-01-02T03:04:05+01:00")
    head = work.head()
    work.push("main")
    mirror.fetch()
    info = mirror.commit_info(head)
    assert (info.sha, info.author, info.email) == (head, "Test Author", "author@example.com")
    assert info.message == "Route /api to api-v2\n\nLonger text ünïcode\n"
    assert info.time == "2026-01-02T03:04:05+01:00"


def test_read_file(work: WorkTree, mirror: Mirror) -> None:
    head = publish(work, mirror, {"gitops-ingress.yaml": "branches: {stable: trunk}\n", "environments/a.yaml": A})
    assert mirror.read_file(head, "gitops-ingress.yaml") == b"branches: {stable: trunk}\n"
    assert mirror.read_file(head, "environments") is None
    assert mirror.read_file(head, "environments/a.yaml/x") is None
    assert mirror.read_file(head, "missing.yaml") is None


def test_unknown_or_malformed_ids(work: WorkTree, mirror: Mirror) -> None:
    publish(work, mirror, {"environments/a.yaml": A})
    calls = (
        lambda sha: mirror.commit_info(sha),
        lambda sha: mirror.list_tree(sha, "environments", **LIMITS),
        mirror.read_blob,
        lambda sha: mirror.read_blobs([sha]),
        lambda sha: mirror.read_file(sha, "gitops-ingress.yaml"),
    )
    for sha in ["", "HEAD", "main", "abc", "A" * 40, "0" * 40, "--all", "1" * 64]:
        for call in calls:
            with pytest.raises(RevisionNotFound):
                call(sha)


def test_ids_of_the_wrong_kind(work: WorkTree, mirror: Mirror) -> None:
    head = publish(work, mirror, {"environments/a.yaml": A})
    blob = mirror.list_tree(head, "environments", **LIMITS).entries["environments/a.yaml"].sha
    with pytest.raises(RevisionNotFound, match="not a commit"):
        mirror.list_tree(blob, "environments", **LIMITS)
    with pytest.raises(RevisionNotFound, match="not a blob"):
        mirror.read_blob(head)
    # the cat-file pipe is still in step after the errors
    assert mirror.read_blob(blob) == A.encode()


def test_reader_on_a_working_clone(work: WorkTree) -> None:
    work.write({"environments/a.yaml": A})
    head = work.commit("a")
    with GitReader(work.path) as reader:
        assert reader.resolve("HEAD") == head == reader.resolve("main")
        assert reader.branches() == {"main": head}
        assert list(reader.list_tree(head, "environments", **LIMITS).entries) == ["environments/a.yaml"]
        with pytest.raises(RevisionNotFound):
            reader.resolve("--output=/tmp/x")
        with pytest.raises(RevisionNotFound):
            reader.resolve("no-such-branch")


def test_reader_on_a_folder_that_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError):
        GitReader(tmp_path).branches()


def test_reads_after_close_reopen(work: WorkTree, mirror: Mirror) -> None:
    head = publish(work, mirror, {"environments/a.yaml": A})
    mirror.close()
    assert mirror.read_file(head, "environments/a.yaml") == A.encode()


@pytest.mark.parametrize("count", [3, 80])
def test_read_blobs_in_one_go(count: int, work: WorkTree, mirror: Mirror) -> None:
    files = {f"environments/production/f{i:03d}.yaml": f"i: {i}\n" + "x" * i for i in range(count)}
    files["environments/production/empty.yaml"] = ""
    head = publish(work, mirror, files)
    entries = mirror.list_tree(head, "environments", **LIMITS).entries
    shas = [entry.sha for entry in entries.values()]
    blobs = mirror.read_blobs(shas + shas[:2])
    assert blobs == {entry.sha: files[path].encode() for path, entry in entries.items()}
    with pytest.raises(RevisionNotFound):
        mirror.read_blobs([*shas, head])


def test_cat_file_processes_are_long_lived(work: WorkTree, mirror: Mirror) -> None:
    head = publish(work, mirror, {f"environments/production/f{i}.yaml": f"i: {i}\n" for i in range(20)})
    listing = mirror.list_tree(head, "environments", **LIMITS)
    before = _children()
    for entry in listing.entries.values():
        mirror.read_blob(entry.sha)
    mirror.list_tree(head, "environments", **LIMITS)
    assert _children() == before


def _children() -> set[int]:
    """Our child processes, from /proc (field 4 of /proc/PID/stat is the parent's pid)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            children.add(int(stat.parent.name))
    return children


def test_objects_fetched_after_the_first_read_are_found(work: WorkTree, mirror: Mirror) -> None:
    first = publish(work, mirror, {"environments/a.yaml": A})
    assert mirror.read_file(first, "environments/a.yaml") == A.encode()  # cat-file is running now
    # over git's unpack limit of 100 objects, the fetch keeps a new pack rather than loose objects
    many = {f"environments/bulk/f{i:03d}.yaml": f"i: {i}\n" for i in range(150)}
    second = publish(work, mirror, many)
    assert list((mirror.path / "objects" / "pack").glob("*.pack"))
    listing = mirror.list_tree(second, "environments/bulk", **LIMITS)
    assert len(listing.entries) == 150
    assert mirror.read_blob(listing.entries["environments/bulk/f149.yaml"].sha) == b"i: 149\n"


def _batch_processes(mirror: Mirror) -> list[int]:
    """This process's ``git cat-file --batch`` children reading ``mirror`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                not entry.name.isdigit()
                or int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != os.getpid()
            ):
                continue
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if b"cat-file" in command and b"--batch" in command and os.readlink(entry / "cwd") == str(mirror.path):
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
    return found


def test_a_read_stuck_on_one_cat_file_pipe_does_not_hold_up_another_thread(work: WorkTree, mirror: Mirror) -> None:
    """Builds read from several threads at once: each read has a pipe of its own. The one pipe in
    use is frozen for real (SIGSTOP): one of two reads waits on it, the other opens a pipe of its
    own and is answered; once the pipe runs again the first is answered too, with the right bytes."""
    import signal
    import threading

    head = publish(work, mirror, {"environments/production/a.yaml": A, "environments/production/b.yaml": "b: 1\n"})
    listing = mirror.list_tree(head, "environments", **LIMITS)
    shas = {path: entry.sha for path, entry in listing.entries.items()}
    mirror.read_blob(shas["environments/production/a.yaml"])  # the first pipe is open and idle now
    (frozen,) = _batch_processes(mirror)
    results: dict[str, bytes] = {}
    done = threading.Condition()

    def read(path: str) -> None:
        data = mirror.read_blob(shas[path])
        with done:
            results[path] = data
            done.notify_all()

    os.kill(frozen, signal.SIGSTOP)
    try:
        readers = [threading.Thread(target=read, args=(path,), daemon=True) for path in sorted(shas)]
        for reader in readers:
            reader.start()
        with done:
            assert done.wait_for(lambda: len(results) == 1, timeout=20), "both reads waited on the frozen pipe"
    finally:
        os.kill(frozen, signal.SIGCONT)
    for reader in readers:
        reader.join(20)
    assert results == {"environments/production/a.yaml": A.encode(), "environments/production/b.yaml": b"b: 1\n"}
