"""Benchmark: cold mirror, then list and read every branch (the data flow's first steps, docs/dev/architecture.md).

    python -m tests.gitrepo.bench_mirror [--branches 1000] [--files 20] [--distinct]

Builds a bare remote with git fast-import: ``main`` with N files and B branches that each change
one file (``--distinct``: every branch has all-new content, the worst case for caching), then
times a cold fetch of everything, a cold ``list_tree`` + ``read_blob`` of every branch (new
Mirror, empty caches, new cat-file processes), the same again warm, and one push to one branch.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from gitops_ingress.gitrepo import Mirror
from tests.support.gitrepos import git, make_remote
from tests.support.manifests import ingress, to_yaml

LIMITS = {"max_file_bytes": 1024 * 1024, "max_files": 10_000}
STAMP = "committer Bench <bench@example.com> 1700000000 +0000\n"


def app_file(branch: int, index: int) -> bytes:
    """App ``index``'s Ingress as ``branch`` has it (each branch routes its own path)."""
    app = f"app-{index}"
    return to_yaml(ingress(app, f"{app}.example.com", app, namespace=f"team-{index % 4}", path=f"/v{branch}")).encode()


def fast_import_stream(branches: int, files: int, distinct: bool) -> bytes:
    out = bytearray(b"commit refs/heads/main\nmark :1\n" + STAMP.encode() + b"data 4\nmain\n")
    for index in range(files):
        data = app_file(0, index)
        out += f"M 100644 inline environments/production/app-{index:02d}.yaml\ndata {len(data)}\n".encode()
        out += data + b"\n"
    for number in range(1, branches + 1):
        out += f"commit refs/heads/feature/b{number:04d}\n{STAMP}data 2\nb\nfrom :1\n".encode()
        for index in range(files) if distinct else [number % files]:
            data = app_file(number, index)
            out += f"M 100644 inline environments/production/app-{index:02d}.yaml\ndata {len(data)}\n".encode()
            out += data + b"\n"
    return bytes(out)


def list_and_read(mirror: Mirror, heads: dict[str, str]) -> tuple[int, int]:
    files = size = 0
    for sha in heads.values():
        listing = mirror.list_tree(sha, "environments", **LIMITS)
        for entry in listing.entries.values():
            size += len(mirror.read_blob(entry.sha))
            files += 1
    return files, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--branches", type=int, default=1000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--distinct", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        remote = make_remote(root)
        started = time.perf_counter()
        git(remote.path, "fast-import", "--quiet", input=fast_import_stream(args.branches, args.files, args.distinct))
        print(f"build remote: {time.perf_counter() - started:.2f} s ({args.branches} branches x {args.files} files)")

        mirror = Mirror(remote.url, root / "mirror.git")
        started = time.perf_counter()
        result = mirror.fetch()
        print(f"cold fetch of all branches: {time.perf_counter() - started:.2f} s, {len(result.updated)} branches")
        mirror.close()

        cold = Mirror(remote.url, root / "mirror.git")
        started = time.perf_counter()
        heads = cold.branches()
        files, size = list_and_read(cold, heads)
        cold_s = time.perf_counter() - started
        print(
            f"cold list+read: {cold_s:.2f} s for {files} files ({size / 1e6:.1f} MB), "
            f"{cold_s / len(heads) * 1000:.2f} ms per branch"
        )
        started = time.perf_counter()
        list_and_read(cold, heads)
        warm_s = time.perf_counter() - started
        print(f"warm list+read (tree caches hot, blobs read again): {warm_s:.2f} s")
        cold.close()

        batched = Mirror(remote.url, root / "mirror.git")
        started = time.perf_counter()
        listings = [batched.list_tree(sha, "environments", **LIMITS) for sha in batched.branches().values()]
        listed = time.perf_counter() - started
        unique = {entry.sha for listing in listings for entry in listing.entries.values()}
        blobs = batched.read_blobs(unique)
        print(
            f"cold list of all branches {listed:.2f} s + read_blobs of the {len(blobs)} distinct blobs "
            f"{time.perf_counter() - started - listed:.2f} s"
        )
        batched.close()

        work = remote.clone(root / "work")
        work.switch("feature/b0001")
        work.write({"environments/production/app-03.yaml": app_file(9999, 3)})
        work.commit("one change")
        work.push("feature/b0001")
        started = time.perf_counter()
        update = cold.fetch("feature/b0001")
        fetched = time.perf_counter() - started
        (old, new) = update.updated["feature/b0001"]
        assert old is not None
        before = cold.list_tree(old, "environments", **LIMITS).entries
        after = cold.list_tree(new, "environments", **LIMITS).entries
        changed = [path for path, entry in after.items() if before.get(path) != entry]
        for path in changed:
            cold.read_blob(after[path].sha)
        rest = time.perf_counter() - started - fetched
        print(f"one push: fetch {fetched * 1000:.0f} ms, list+diff+read {rest * 1000:.1f} ms, changed: {len(changed)}")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        cold.close()


if __name__ == "__main__":
    main()
