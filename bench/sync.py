"""Benchmarks of the reconcile engine (issue 4): push-to-live latency and scale.

    python bench/sync.py [--pushes 50] [--branches 1000] [--files 20] [--only push|scale]

push-to-live: a real ``gitops-ingress serve`` process, a bare repository, a real echo upstream.
Each round adds a new rule (path ``/r<n>``) on the feature branch, runs ``git push``, sends the
generic webhook, then requests ``/r<n>`` on the branch's preview host through serve's proxy until
it answers 200 (before the push it is a 404). The time is from the start of ``git push`` to that
first 200; so it includes git, the webhook, fetch, parse, validation, apply and the proxy swap.

scale: BRANCHES branches of FILES files each (every branch changes one file of ``main``, as
feature branches do), written with ``git fast-import``; an in-process Engine with the local target
does the cold start (time and resident memory), then one push to one branch is reconciled (time
and files parsed -- the parse cache by blob SHA should leave only the changed file).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.settings import Settings
from gitops_ingress.gitrepo import Mirror
from gitops_ingress.sync import Engine, EngineOptions, LocalTarget, Store
from tests.e2e.test_serve import ServeProcess
from tests.support.gitrepos import git, git_env, make_remote
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import LoopThread, TestUpstream

MAX_WAIT = 10.0  # per round


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_push(pushes: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    loop = LoopThread()
    upstream = loop.run(TestUpstream().start())
    remote = make_remote(tmp)
    work = remote.clone()
    work.write(
        {"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web", paths=["/home"]))}
    )
    work.commit("main")
    work.push("main")
    branch = "feature/bench"
    work.branch(branch)
    work.push(branch)
    host = preview_host(branch, "shop.example.com", "preview.localhost")
    serve = ServeProcess(tmp, remote.url, {"web:80": upstream.url})
    client = httpx.Client(base_url=serve.proxy, headers={"Host": host}, timeout=5)
    timings: list[float] = []
    push_only: list[float] = []
    try:
        with serve.states() as wait:
            wait(lambda s: branch in s.previews)
        paths = ["/home"]
        for n in range(pushes):
            paths.append(f"/r{n}")
            work.write(
                {"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web", paths=paths))}
            )
            work.commit(f"rule {n}")
            if client.get(f"/r{n}").status_code == 200:
                raise SystemExit(f"/r{n} answered before the push: the measurement would be wrong")
            started = time.perf_counter()
            work.push(branch)
            push_only.append(time.perf_counter() - started)
            if serve.webhook(branch).status_code != 202:
                raise SystemExit("webhook refused")
            deadline = started + MAX_WAIT
            while client.get(f"/r{n}").status_code != 200:  # each try is one real round trip
                if time.perf_counter() > deadline:
                    raise SystemExit(f"push {n} not live after {MAX_WAIT}s")
            timings.append(time.perf_counter() - started)
    finally:
        client.close()
        serve.stop()
        loop.stop()
    ms = [t * 1000 for t in timings]
    print(f"push-to-live over {len(ms)} pushes (git push + webhook -> proxy routes the new rule):")
    print(
        f"  p50 {percentile(ms, 0.5):7.1f} ms   p95 {percentile(ms, 0.95):7.1f} ms   "
        f"min {min(ms):7.1f} ms   max {max(ms):7.1f} ms   mean {statistics.fmean(ms):7.1f} ms"
    )
    git_ms = [t * 1000 for t in push_only]
    print(
        f"  of which the git push alone: p50 {percentile(git_ms, 0.5):7.1f} ms   p95 {percentile(git_ms, 0.95):7.1f} ms"
    )


def make_scale_repo(tmp: Path, branches: int, files: int, prefix: str = "feature/b") -> Path:
    """A bare repository: ``main`` with FILES files, BRANCHES branches ``<prefix>NNNN`` changing
    one file each. Deterministic: the same ``main`` commit for every call with the same FILES.

    The changed file's new rule is named after the prefix's first segment (``/feature7`` on
    ``feature/b0007``, ``/new7`` on ``new/b0007``), so branches made under another prefix have
    content of their own: none shares a changed file (a blob, a parsed and built result) with a
    branch of the same number under another prefix, which would flatter a measured burst."""
    remote = make_remote(tmp)
    lines: list[str] = []
    mark = 0

    def blob(text: str) -> int:
        nonlocal mark
        mark += 1
        data = text.encode()
        lines.append(f"blob\nmark :{mark}\ndata {len(data)}\n{text}\n")
        return mark

    base = {
        f"environments/production/team{i % 5}/app{i}.yaml": blob(
            to_yaml(ingress(f"app{i}", f"app{i}.example.com", "web", paths=["/", f"/api{i}"]))
        )
        for i in range(files)
    }
    when = "1700000000 +0000"

    def commit(ref: str, changes: dict[str, int], parent: str | None) -> None:
        message = f"commit {ref}"
        body = [f"commit {ref}\ncommitter Bench <bench@example.com> {when}\ndata {len(message)}\n{message}\n"]
        if parent:
            body.append(f"from {parent}\n")
        body.extend(f"M 100644 :{m} {path}\n" for path, m in changes.items())
        lines.append("".join(body) + "\n")

    commit("refs/heads/main", base, None)
    rule = prefix.split("/", maxsplit=1)[0]
    for b in range(branches):
        path = f"environments/production/team{b % 5}/app{b % files}.yaml"
        changed = blob(
            to_yaml(ingress(f"app{b % files}", f"app{b % files}.example.com", "web", paths=["/", f"/{rule}{b}"]))
        )
        commit(f"refs/heads/{prefix}{b:04d}", {path: changed}, "refs/heads/main")
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=remote.path,
        input="".join(lines).encode(),
        env=git_env(),
        check=True,
        timeout=300,
    )
    return remote.path


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def bench_scale(branches: int, files: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    started = time.perf_counter()
    repo = make_scale_repo(tmp, branches, files)
    print(f"scale: {branches} branches x {files} files written in {time.perf_counter() - started:.1f} s")
    settings = Settings()
    mirror = Mirror(str(repo), tmp / "state" / "mirror.git", fetch_timeout=300)
    store = Store(tmp / "state" / "state.db")
    engine = Engine(
        mirror,
        LocalTarget(),
        settings,
        store,
        options=EngineOptions(poll_interval=3600, debounce=0.0),
    )
    rss_before = rss_mib()
    started = time.perf_counter()
    await engine.start()
    await engine.settle(600)
    cold = time.perf_counter() - started
    parsed = engine.metrics.files_parsed._value.get()
    states = {b.state.value for b in engine.branches()}
    print(
        f"  cold start: {len(engine.branches())} branches reconciled in {cold:.2f} s "
        f"({cold / max(1, branches) * 1000:.1f} ms/branch), files parsed {parsed:.0f} of "
        f"{(branches + 1) * files}, states {sorted(states)}, RSS +{rss_mib() - rss_before:.0f} MiB "
        f"(now {rss_mib():.0f} MiB), routing state has {len(engine.routing_state().previews)} previews"
    )
    pushed = f"feature/b{branches // 2:04d}"
    work_dir = tmp / "work"
    git(tmp, "clone", "-q", "--no-tags", "--branch", pushed, "--", str(repo), str(work_dir))
    target = work_dir / "environments/production/team0/app0.yaml"
    target.write_text(to_yaml(ingress("app0", "app0.example.com", "web", paths=["/", "/pushed"])))
    git(work_dir, "commit", "-q", "-am", "one push")
    git(work_dir, "push", "-q", "origin", f"HEAD:refs/heads/{pushed}")
    async with engine.subscribe() as events:
        started = time.perf_counter()
        await engine.push(pushed, False)
        async with asyncio.timeout(60):
            async for event in events:
                if event.type == "sync" and event.branch == pushed:
                    break
        wall = time.perf_counter() - started
    print(
        f"  one push to one branch: reconcile {event.data['duration_ms']:.1f} ms (webhook-to-applied "
        f"{wall * 1000:.1f} ms incl. fetch), files parsed {event.data['files_parsed']} of {event.data['files']}"
    )
    await engine.stop()
    store.close()
    mirror.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--branches", type=int, default=1000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--only", choices=("push", "scale"))
    args = parser.parse_args()
    if args.only in (None, "push"):
        bench_push(args.pushes)
    if args.only in (None, "scale"):
        asyncio.run(bench_scale(args.branches, args.files))


if __name__ == "__main__":
    main()
