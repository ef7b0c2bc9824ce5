"""The scale run of issue 12: a real ``gitops-ingress serve`` over 1,000 branches of 20 files.

    python bench/scale.py [--branches 1000] [--files 20] [--new 500]

A bare repository of BRANCHES branches (``bench/sync.py``'s ``make_scale_repo``) is served by a
real ``serve`` process; once every branch is live (followed on ``/api/v1/proxy/stream``) the run
prints: the process's resident memory, the time and size of ``GET /api/branches`` (median of a
few), and the size of one control-plane stream message. Then NEW branches arrive in one
``git push`` and one generic webhook per branch is sent (as forges send one per ref), and the run
prints how long after the first webhook all of them were live (probing each preview host through
the proxy; the stream is closed first, since each subscriber costs a whole-state message per
change until the stream sends deltas).

Figures only, no targets asserted; the issue's figures for main before it are printed beside.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sync import make_scale_repo
from gitops_ingress.core.naming import preview_host
from tests.e2e.test_serve import ServeProcess
from tests.support.gitrepos import git

ISSUE_FIGURES = {  # issue 12, "Scale", measured on main before it
    "rss": "476 MB",
    "branches": "0.92 s for 4.5 MB",
    "stream": "about 8 MB",
    "burst": "26.5 s for 500 (one fetch each)",
}
LIVE_WAIT = 600.0
PREVIEW_DOMAIN = "preview.localhost"  # serve's default


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stream:
    """``/api/v1/proxy/stream``, read line by line: the size of each message and its state."""

    def __init__(self, client: httpx.Client, api: str) -> None:
        self._context = client.stream("GET", f"{api}/api/v1/proxy/stream", timeout=LIVE_WAIT)
        self._lines = self._context.__enter__().iter_lines()
        self._open = True

    def wait_previews(self, count: int) -> int:
        """Until a streamed state has ``count`` previews; the size of that message in bytes."""
        deadline = time.monotonic() + LIVE_WAIT
        for line in self._lines:
            message = json.loads(line)
            if message["type"] == "state" and len(message["state"].get("previews", {})) >= count:
                return len(line)
            if time.monotonic() > deadline:
                break
        raise SystemExit(f"the stream never showed {count} previews")

    def close(self) -> None:
        if self._open:
            self._open = False
            self._context.__exit__(None, None, None)


def wait_live(serve: ServeProcess, hosts: list[str]) -> None:
    """Until the proxy routes every one of ``hosts`` (anything but 404: no backend is mapped)."""
    pending = set(hosts)
    deadline = time.monotonic() + LIVE_WAIT
    while pending:
        pending = {host for host in pending if serve.get(host).status_code == 404}
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} preview hosts never went live")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--branches", type=int, default=1000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--new", type=int, default=500)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-serve-"))
    started = time.perf_counter()
    (tmp / "repo").mkdir()
    (tmp / "incoming").mkdir()
    repo = make_scale_repo(tmp / "repo", args.branches, args.files)
    incoming = make_scale_repo(tmp / "incoming", args.new, args.files, prefix="new/b")  # the same main
    print(f"scale: {args.branches} branches x {args.files} files written in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    serve = ServeProcess(tmp, str(repo), {})
    client = httpx.Client(timeout=LIVE_WAIT)
    stream = Stream(client, serve.api)
    try:
        size = stream.wait_previews(args.branches)
        print(f"  all {args.branches} branches live {time.perf_counter() - started:.1f} s after the start")
        print(f"  serve resident memory: {rss_mib(serve.proc.pid):.0f} MiB   (issue: {ISSUE_FIGURES['rss']})")
        times, body = [], b""
        for _ in range(5):
            began = time.perf_counter()
            answer = client.get(f"{serve.api}/api/branches")
            times.append(time.perf_counter() - began)
            body = answer.content
        print(
            f"  GET /api/branches: median {statistics.median(times) * 1000:.0f} ms for "
            f"{len(body) / 1e6:.2f} MB   (issue: {ISSUE_FIGURES['branches']})"
        )
        print(f"  one stream message (the whole state): {size / 1e6:.2f} MB   (issue: {ISSUE_FIGURES['stream']})")
        stream.close()  # a subscriber costs a whole-state message per change: the burst runs without one

        git(incoming, "push", "-q", "--no-verify", str(repo), "refs/heads/new/*:refs/heads/new/*")
        names = [f"new/b{n:04d}" for n in range(args.new)]
        first_webhook = time.perf_counter()
        sent_at = [0.0]

        def deliver() -> None:
            for name in names:
                serve.webhook(name)
            sent_at[0] = time.perf_counter()

        sender = threading.Thread(target=deliver, daemon=True)
        sender.start()
        wait_live(
            serve,
            [preview_host(name, f"app{n % args.files}.example.com", PREVIEW_DOMAIN) for n, name in enumerate(names)],
        )
        live = time.perf_counter() - first_webhook
        sender.join(LIVE_WAIT)
        print(
            f"  {args.new} new branches from one push: all live {live:.2f} s after the first webhook "
            f"({len(names)} webhooks, the last sent {(sent_at[0] - first_webhook):.2f} s after the first)   "
            f"(issue: {ISSUE_FIGURES['burst']})"
        )
    finally:
        stream.close()
        client.close()
        serve.stop()


if __name__ == "__main__":
    main()
