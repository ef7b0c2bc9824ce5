"""The scale run of issue 12: a real ``gitops-ingress serve`` over 1,000 branches of 20 files.

    python bench/scale.py [--branches 1000] [--files 20] [--new 500]

A bare repository of BRANCHES branches (``bench/sync.py``'s ``make_scale_repo``) is served by a
real ``serve`` process; once every branch is live (followed on ``/api/v1/proxy/stream``) the run
prints: the process's resident memory, the time and size of ``GET /api/branches`` (median of a
few), and the size of one control-plane stream message. Then NEW branches arrive in one
``git push`` and one generic webhook per branch is sent, WEBHOOK_CONNECTIONS at a time (as forges
send one per ref, in parallel connections; by bench/deliveries.py's lean sender, whose docstring
says why not httpx), and the run prints how long after the first webhook all of them were live
(probing each preview host through the proxy) and the CPU time ``serve`` spent meanwhile (the
steadier figure on a shared machine), with a stream client following the burst as a proxy would,
and the sizes of the stream's messages meanwhile.

The measuring process shares the cores with serve, so its own work is kept lean: the webhooks and
the probes are written by hand on sockets (``send``, ``Probe``), and the follower freezes its heap
before the burst and keeps a ``DecodeMemo``, as a proxy following the stream does. The incoming
branches' changed files are their own (``make_scale_repo``'s rule per prefix), so the burst is 500
real builds, not look-ups of the feature branches' results.

Figures only, no targets asserted; the issue's figures for main before it are printed beside.

With ``--peer DIR`` (another checkout) each measurement runs in a process of its own, ``--rounds``
times, the order alternating (before, after; after, before; ...): run in one process one after the
other, the second serve of a run measured 2-3 s slower to all-live whichever code it ran (the
first run's client threads and heap stay in the measuring process), so an unalternated comparison
favoured the first. The medians of the burst figures per side are printed last.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.deliveries import send
from bench.sync import make_scale_repo
from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.stream import DecodeMemo, Followed, apply, decode_line, state_line
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
WEBHOOK_CONNECTIONS = 32  # parallel deliveries, as a forge sends one push event per ref at once
FIGURES = "scale figures as JSON: "  # how a measuring child hands its figures to the parent


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(the process's own CPU seconds, its finished children's: git): less noisy than wall time on
    a shared machine, where the wall time of a burst is its CPU time over the share it gets."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime) / ticks, (cutime + cstime) / ticks


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stream:
    """``/api/v1/proxy/stream``, followed line by line as a proxy follows it (``core/stream.py``'s
    applier): the size of each message and the state it leaves."""

    def __init__(self, client: httpx.Client, api: str) -> None:
        self._context = client.stream("GET", f"{api}/api/v1/proxy/stream", timeout=LIVE_WAIT)
        self._lines = self._context.__enter__().iter_lines()
        self._open = True
        self._followed: Followed | None = None
        self._memo = DecodeMemo()  # as the proxy's controller source keeps one
        self.sizes: dict[str, list[int]] = {}  # message type -> the size of each such line
        self._reader: threading.Thread | None = None
        self._moved = threading.Condition()  # notified on every message followed

    def wait_previews(self, count: int) -> int:
        """Until the followed state has ``count`` previews; the size of the whole state then."""
        deadline = time.monotonic() + LIVE_WAIT
        for line in self._lines:
            self._follow(line)
            if self._followed is not None and len(self._followed.state.previews) >= count:
                return len(state_line(self._followed.state, {}))
            if time.monotonic() > deadline:
                break
        raise SystemExit(f"the stream never showed {count} previews")

    def follow_in_background(self) -> None:
        """Keep reading (as a connected proxy does) until the stream is closed. The heap is frozen
        first, as a proxy worker freezes it after a swap (proxy/heap.py): unfrozen, the collector's
        full passes over the followed 1,000-branch state stalled the follower for 0.1-0.25 s in a
        burst, late news of branches long live."""
        gc.collect()
        gc.freeze()

        def read() -> None:
            try:
                for line in self._lines:
                    self._follow(line)
            except httpx.HTTPError:
                pass  # closed by ``close``

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def _follow(self, line: str) -> None:
        message = decode_line(line.encode(), self._memo)
        self.sizes.setdefault(message.kind, []).append(len(line))
        with self._moved:
            self._followed = apply(self._followed, message)
            self._moved.notify_all()

    def wait_for_more(self, than: int, timeout: float) -> None:
        """Until the followed state holds more previews than ``than``, or ``timeout``."""
        with self._moved:
            self._moved.wait_for(lambda: self.previews() > than, timeout)

    def previews(self) -> int:
        return 0 if self._followed is None else len(self._followed.state.previews)

    def has_preview(self, branch: str) -> bool:
        return self._followed is not None and branch in self._followed.state.previews

    def table_version(self, branch: str) -> str:
        """The fingerprint of ``branch``'s table in the followed state ("" when it has none)."""
        table = None if self._followed is None else self._followed.state.previews.get(branch)
        return "" if table is None else table.version

    def close(self) -> None:
        if self._open:
            self._open = False
            self._context.__exit__(None, None, None)


class Probe:
    """``GET /`` through serve's proxy with a Host header, on one kept-alive connection, by hand:
    the status only. Like bench/deliveries.py's sender, for the same reason: httpx spent about a
    millisecond of CPU per request in the measuring process, on the cores serve builds on, and a
    burst probes each of its 500 hosts at least once."""

    def __init__(self, proxy: str) -> None:
        host, _, port = proxy.removeprefix("http://").rpartition(":")
        self._address = (host, int(port))
        self._socket: socket.socket | None = None
        self._buffer = b""

    def status(self, host: str) -> int:
        for attempt in range(2):  # a kept-alive connection the proxy closed meanwhile: once more
            try:
                return self._ask(host)
            except (OSError, ValueError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _ask(self, host: str) -> int:
        if self._socket is None:
            self._socket = socket.create_connection(self._address, timeout=LIVE_WAIT)
            self._buffer = b""
        connection = self._socket
        connection.sendall(f"GET / HTTP/1.1\r\nhost: {host}\r\n\r\n".encode())
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += _received(connection)
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").lower().split("\r\n")
        fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        if "content-length" not in fields:  # not what the proxy answers: read to the end and start again
            while connection.recv(65536):
                pass
            self.close()
        else:
            length = int(fields["content-length"])
            while len(self._buffer) < length:
                self._buffer += _received(connection)
            self._buffer = self._buffer[length:]
            if fields.get("connection", "").strip() == "close":
                self.close()
        return int(lines[0].split(" ", 2)[1])

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _received(connection: socket.socket) -> bytes:
    data = connection.recv(65536)
    if not data:
        raise ConnectionError("the proxy closed the connection")
    return data


def wait_live(probe: Probe, stream: Stream, hosts: dict[str, str]) -> float:
    """Until the proxy routes every one of ``hosts`` (preview host -> branch; anything but 404:
    no backend is mapped). A host is probed once the stream shows its branch, so the probes do
    not keep the serve process busy answering 404s while it builds (the stream is published at
    the same moment as the embedded proxy's switch, so this waits no less). Returns when the
    stream first showed every branch (``time.perf_counter()``): the rest is the probes'."""
    pending = dict(hosts)
    deadline = time.monotonic() + LIVE_WAIT
    shown_all = 0.0
    while pending:
        shown = {host: branch for host, branch in pending.items() if stream.has_preview(branch)}
        if not shown_all and len(shown) == len(pending):
            shown_all = time.perf_counter()
        pending = {host: branch for host, branch in pending.items() if host not in shown}
        pending.update({host: branch for host, branch in shown.items() if probe.status(host) == 404})
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} preview hosts never went live")
        if pending and not any(stream.has_preview(branch) for branch in pending.values()):
            stream.wait_for_more(stream.previews(), 0.05)  # nothing to probe yet: the stream moves first
    return shown_all or time.perf_counter()


def one_branch_change(serve: ServeProcess, stream: Stream, repo: Path, incoming: Path) -> int:
    """Move ``feature/b0000`` to a commit that changes another file (``new/b0001``'s), announce
    it, and return the size of the stream message that carried the change."""
    before = stream.sizes.setdefault("delta", [])[:]
    state_before = stream.sizes.setdefault("state", [])[:]
    old = stream.table_version("feature/b0000")
    git(incoming, "push", "-q", "--no-verify", "--force", str(repo), "refs/heads/new/b0001:refs/heads/feature/b0000")
    serve.webhook("feature/b0000")
    deadline = time.monotonic() + LIVE_WAIT
    while stream.table_version("feature/b0000") == old:
        if time.monotonic() > deadline:
            raise SystemExit("the one-branch change never reached the stream")
        time.sleep(0.01)
    sizes = stream.sizes["delta"][len(before) :] or stream.sizes["state"][len(state_before) :]
    return sizes[-1]


def measure(args: argparse.Namespace, label: str, checkout: Path | None) -> dict[str, str]:
    """One whole run against ``serve`` from ``checkout`` (None: this one); its figures by name."""
    figures: dict[str, str] = {}

    def report(name: str, text: str) -> None:
        figures[name] = text
        print(f"  [{label}] {text}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-serve-"))
    started = time.perf_counter()
    (tmp / "repo").mkdir()
    (tmp / "incoming").mkdir()
    repo = make_scale_repo(tmp / "repo", args.branches, args.files)
    # the same main; each new branch's changed file differs from every feature branch's
    incoming = make_scale_repo(tmp / "incoming", args.new, args.files, prefix="new/b")
    print(
        f"scale [{label}]: {args.branches} branches x {args.files} files written in {time.perf_counter() - started:.1f} s"
    )

    started = time.perf_counter()
    serve = ServeProcess(tmp, str(repo), {}, cwd=checkout or ROOT)
    client = httpx.Client(timeout=LIVE_WAIT)
    stream = Stream(client, serve.api)
    try:
        size = stream.wait_previews(args.branches)
        report("start", f"all {args.branches} branches live {time.perf_counter() - started:.1f} s after the start")
        report("rss", f"serve resident memory: {rss_mib(serve.proc.pid):.0f} MiB")
        times, body = [], b""
        for _ in range(5):
            began = time.perf_counter()
            answer = client.get(f"{serve.api}/api/branches")
            times.append(time.perf_counter() - began)
            body = answer.content
        report(
            "branches",
            f"GET /api/branches: median {statistics.median(times) * 1000:.0f} ms for {len(body) / 1e6:.2f} MB",
        )
        page = client.get(f"{serve.api}/api/branches", params={"limit": 50})
        if "x-continue" in page.headers:  # a checkout that pages (the peer may not)
            times = []
            for _ in range(5):
                began = time.perf_counter()
                client.get(f"{serve.api}/api/branches", params={"limit": 50})
                times.append(time.perf_counter() - began)
            report("page", f"GET /api/branches?limit=50 (one page): median {statistics.median(times) * 1000:.1f} ms")
        report("whole", f"the whole state (a connecting proxy's first message): {size / 1e6:.2f} MB")
        stream.sizes.clear()
        stream.follow_in_background()  # a connected proxy follows the burst, as in production

        profiler = None
        if args.py_spy:  # sample serve during the burst only (py-spy must be installed)
            command = ["py-spy", "record", "--pid", str(serve.proc.pid), "--format", "raw", "--rate", "250"]
            profiler = subprocess.Popen([*command, "--output", str(args.py_spy)], stdout=subprocess.DEVNULL)
            time.sleep(1.0)  # py-spy attaches
        cpu_before = cpu_seconds(serve.proc.pid)
        git(incoming, "push", "-q", "--no-verify", str(repo), "refs/heads/new/*:refs/heads/new/*")
        names = [f"new/b{n:04d}" for n in range(args.new)]
        first_webhook = time.perf_counter()
        sent_at = [0.0]

        def deliver() -> None:
            # one push event per ref, delivered in parallel connections as a forge does
            if args.sender == "httpx":
                with ThreadPoolExecutor(WEBHOOK_CONNECTIONS) as senders:
                    list(senders.map(serve.webhook, names))
            else:
                send(serve.api, names, WEBHOOK_CONNECTIONS)
            sent_at[0] = time.perf_counter()

        sender = threading.Thread(target=deliver, daemon=True)
        sender.start()
        probe = Probe(serve.proxy)
        streamed = wait_live(
            probe,
            stream,
            {
                preview_host(name, f"app{n % args.files}.example.com", PREVIEW_DOMAIN): name
                for n, name in enumerate(names)
            },
        )
        live = time.perf_counter() - first_webhook
        cpu_after = cpu_seconds(serve.proc.pid)
        probe.close()
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait()
        sender.join(LIVE_WAIT)
        report(
            "burst",
            f"{args.new} new branches from one push: all live {live:.2f} s after the first webhook "
            f"({len(names)} webhooks, the last sent {(sent_at[0] - first_webhook):.2f} s after the first; "
            f"all on the stream after {streamed - first_webhook:.2f} s)",
        )
        figures["burst_s"] = f"{live:.3f}"
        figures["cpu_s"] = f"{cpu_after[0] - cpu_before[0]:.3f}"
        report(
            "burst cpu",
            f"serve's CPU time meanwhile: {cpu_after[0] - cpu_before[0]:.2f} s "
            f"(+ {cpu_after[1] - cpu_before[1]:.2f} s in its git processes)",
        )
        deltas = list(stream.sizes.get("delta", []))
        wholes = stream.sizes.get("state", [])
        report(
            "burst stream",
            f"stream during the burst: {len(deltas)} deltas"
            + (
                f" (median {statistics.median(deltas) / 1e3:.1f} kB, largest {max(deltas) / 1e3:.1f} kB)"
                if deltas
                else ""
            )
            + f", {len(wholes)} whole states"
            + (f" ({sum(wholes) / 1e6:.1f} MB in all)" if wholes else ""),
        )
        one = one_branch_change(serve, stream, repo, incoming)
        report("one", f"one branch's change on the stream: {one / 1e3:.1f} kB")
    finally:
        stream.close()
        client.close()
        serve.stop()
    return figures


def measure_apart(args: argparse.Namespace, label: str, checkout: Path | None) -> dict[str, str]:
    """``measure`` in a child process of its own (its lines pass through): no run inherits the
    previous one's threads, heap or warmed caches."""
    command = [sys.executable, __file__, "--measure", label, *(["--checkout", str(checkout)] if checkout else [])]
    command += ["--branches", str(args.branches), "--files", str(args.files), "--new", str(args.new)]
    command += ["--sender", args.sender]
    child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    figures: dict[str, str] = {}
    for line in child.stdout.splitlines():
        if line.startswith(FIGURES):
            figures = json.loads(line[len(FIGURES) :])
        else:
            print(line, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--branches", type=int, default=1000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--new", type=int, default=500)
    parser.add_argument(
        "--peer",
        type=Path,
        help="another checkout (e.g. `git archive 721af9a | tar -x -C DIR`) measured in the same run, "
        "each measurement in its own process, the order alternating per round",
    )
    parser.add_argument(
        "--sender",
        choices=("raw", "httpx"),
        default="raw",
        help="the webhooks' sender: raw asyncio streams (bench/deliveries.py), or the httpx client in "
        "WEBHOOK_CONNECTIONS threads it replaced, which spent 2 ms of CPU per delivery beside serve",
    )
    parser.add_argument("--rounds", type=int, default=1, help="with --peer: rounds of one measurement per side")
    parser.add_argument("--py-spy", type=Path, help="without --peer: py-spy's raw stacks of serve during the burst")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # a measuring child: its label
    parser.add_argument("--checkout", type=Path, help=argparse.SUPPRESS)  # a measuring child: its checkout
    args = parser.parse_args()
    if args.measure:
        print(FIGURES + json.dumps(measure(args, args.measure, args.checkout)), flush=True)
        return
    if args.peer is None:
        results = [("after", measure(args, "after", None))]
    else:
        sides: list[tuple[str, Path | None]] = [("before", args.peer.resolve()), ("after", None)]
        results = []
        for round_ in range(args.rounds):
            for label, checkout in sides if round_ % 2 == 0 else sides[::-1]:
                results.append((label, measure_apart(args, label, checkout)))
    print("\nscale figures" + (" (before: the peer checkout; after: this one)" if args.peer else ""))
    for name in ("start", "rss", "branches", "page", "whole", "burst", "burst cpu", "burst stream", "one"):
        for label, figures in results:
            if name in figures:
                print(f"  {label:>6}: {figures[name]}")
    if args.peer is not None:
        for label in ("before", "after"):
            lives = [float(f["burst_s"]) for side, f in results if side == label and "burst_s" in f]
            cpus = [float(f["cpu_s"]) for side, f in results if side == label and "cpu_s" in f]
            if lives:
                print(
                    f"  {label:>6}, medians of {len(lives)}: all live {statistics.median(lives):.2f} s, "
                    f"serve CPU {statistics.median(cpus):.2f} s"
                )
    print(f"  issue 12's figures for main before it: {ISSUE_FIGURES}")
    print(f"  load average: {' '.join(f'{load:.1f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
