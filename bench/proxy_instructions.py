"""Benchmark: instructions per request of our proxy and of nginx, counted by callgrind.

Throughput on a two-core machine moves by 10 % between runs of the same code (the other core's
load, the CPU's clock), so "within 2 %" (issue 16's plain host beside annotated hosts) and "HTTP/1.1
unchanged within noise" (issue 15) cannot be read from req/s. An instruction count can: callgrind
counts the instructions a process executes in user space, the same figure for the same code and
requests whatever else the machine does. It leaves out the kernel (the socket calls, which are the
same for both builds of ours) and says nothing of cache misses, so it is a measure of the work our
code does per request, not a latency; the wrk runs of bench/proxy.py stay the figures for speed.

Set-up, all on 127.0.0.1: an upstream nginx (``return 200 "ok"``, not under callgrind), the route
stream of bench/proxy.py, our proxy under ``valgrind --tool=callgrind``, and with ``--baseline DIR``
the proxy of that checkout (compiled in place, as bench/proxy.py's ``--baseline``) beside it; nginx
as the front of bench/proxy.py (one process, ``master_process off``) under callgrind as the peer.
A client sends ``--requests`` requests one after another on one keep-alive connection after a
warm-up; ``callgrind_control --zero`` before and ``--dump`` after bound the count to them.
Each figure is counted ``--rounds`` times, the proxies in turn, and reported as the median with
the range: a timer or the idle loop that falls inside a counted window adds instructions (about
1 % between single counts of one tree), and the range shows it.

Per front: ``plain`` (one repeated request to the bench host, routes of one host), ``varied`` (the
browser-like requests of bench/proxy_varied.py, its paths, hosts and header lines with a Cookie
that differs per request, routed by its ``varied_table``), ``unique`` (the same requests, each
path made one of a kind by the request's number as a last segment, as an API's ids or a shop's
product pages are: every request misses the route cache, proxy/decide.py), and for ours ``beside`` (the plain
request with the annotated hosts of ``--annotations`` loaded beside the bench host). Every answer
must be a 200: a request that missed its route would count the cost of a 404 instead.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.proxy import (
    FRONT_BODY,
    HOST,
    LOOPBACK,
    NGINX_CONF,
    UPSTREAM_BODY,
    ControlPlane,
    annotated_table,
    table,
    wait_version,
    write_bench_secret,
)
from bench.proxy_varied import varied_cookie, varied_heads, varied_table
from gitops_ingress.core.routing import RoutingState
from tests.proxy.rawclient import connect, read_responses
from tests.support.upstreams import refused_port as free_port

WARM_UP = 300  # requests before counting: connections, pools and caches filled
ROUND_SPAN = 1_000_000  # request numbers per warm-up or count: more than --requests ever is
CALLGRIND = ["valgrind", "--tool=callgrind", "--dump-line=no"]
WAIT = 600.0  # a Python start under callgrind takes tens of seconds
PLAIN = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: bench\r\n\r\n".encode()
HEADS = varied_heads()


def request(number: int, kind: str) -> bytes:
    if kind == "plain" or kind == "beside":
        return PLAIN
    head = HEADS[number % len(HEADS)]
    if kind == "unique":  # /products/42?x=1 -> /products/42/<number>?x=1
        line, rest = head.split("\r\n", 1)
        method, target, version = line.split(" ")
        path, mark, query = target.partition("?")
        head = f"{method} {path.rstrip('/')}/{number}{mark}{query} {version}\r\n{rest}"
    return (head + varied_cookie(number) + "\r\n").encode()


def exchange(port: int, first: int, count: int, kind: str) -> None:
    """``count`` requests on one connection, each answer read whole before the next is sent."""
    with connect(port, timeout=WAIT) as sock:
        for number in range(first, first + count):
            sock.sendall(request(number, kind))
            answers = read_responses(sock)
            if not answers or answers[0].status != 200:
                status = answers[0].status if answers else "no answer"
                raise SystemExit(f"port {port}: {status} to {request(number, kind)[:60]!r}")


def counted(pid: int, port: int, out: Path, count: int, kind: str, round_number: int) -> float:
    """Instructions per request of process ``pid`` over ``count`` requests to ``port``. Each
    round sends varied requests it never sent before: a head seen again would be answered from
    the proxy's caches (proxy/repeats.py) and the round would count less than the first."""
    first = 2 * ROUND_SPAN * round_number
    exchange(port, first + ROUND_SPAN, WARM_UP, kind)
    return instructions_of(pid, out, lambda: exchange(port, first, count, kind)) / count


def instructions_of(pid: int, out: Path, work: Callable[[], object]) -> int:
    """The instructions process ``pid`` (under callgrind, writing ``out``) executes while ``work``
    runs: counters zeroed before, dumped after (bench/proxy_connections.py counts this way too)."""
    subprocess.run(["callgrind_control", "--zero", str(pid)], check=True, capture_output=True)
    before = set(out.parent.glob(out.name + "*"))
    work()
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True)
    dumps = sorted(set(out.parent.glob(out.name + "*")) - before, key=lambda path: path.stat().st_mtime)
    for line in dumps[-1].read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {dumps[-1]}")


def start_proxy(folder: Path, name: str, plane: ControlPlane, checkout: Path | None) -> tuple[subprocess.Popen[bytes], int, str]:  # fmt: skip
    port, admin = free_port(), free_port()
    command = [*CALLGRIND, f"--callgrind-out-file={folder / name}.out", sys.executable, "-m", "gitops_ingress"]
    command += ["proxy", "--listen", f"{LOOPBACK}:{port}", "--controller", f"http://{LOOPBACK}:{plane.port}"]
    command += ["--admin-listen", f"{LOOPBACK}:{admin}", "--no-access-log", "--secret-dir", str(folder / "secrets")]
    # str hashes seeded alike in every run: dict and set layouts, and so their probe counts, repeat
    env = os.environ | {"PYTHONHASHSEED": "0"}
    child = subprocess.Popen(command, cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return child, port, f"http://{LOOPBACK}:{admin}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests counted per figure (default 3000)")
    parser.add_argument("--baseline", type=Path, help="a checkout compiled in place: its proxy counted beside ours")
    parser.add_argument("--no-nginx", action="store_true", help="leave nginx out")
    parser.add_argument("--rounds", type=int, default=3, help="counts per figure, the median reported (default 3)")
    opts = parser.parse_args()
    if not 0 < opts.requests < ROUND_SPAN or opts.rounds < 1:
        parser.error(f"--requests between 1 and {ROUND_SPAN - 1}, --rounds at least 1")
    folder = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    write_bench_secret(folder)
    upstream_port, front_port = free_port(), free_port()
    children: list[subprocess.Popen[bytes]] = []
    try:
        conf = folder / "upstream.conf"
        conf.write_text(NGINX_CONF.format(folder=folder, name="upstream", body=UPSTREAM_BODY.format(LOOPBACK=LOOPBACK, port=upstream_port)))  # fmt: skip
        children.append(subprocess.Popen(["nginx", "-c", str(conf), "-p", str(folder)]))
        plane = ControlPlane()
        upstream = f"http://{LOOPBACK}:{upstream_port}"
        plain, varied, annotated = (
            ControlPlane.message(RoutingState(routes, version=version), upstream)
            for version, routes in enumerate((table(0), varied_table(), annotated_table()), start=1)
        )
        plane.push(plain)
        proxies = {"ours": start_proxy(folder, "ours", plane, None)}
        if opts.baseline is not None:
            proxies["baseline"] = start_proxy(folder, "baseline", plane, opts.baseline)
        children += [child for child, _, _ in proxies.values()]
        figures: dict[str, dict[str, list[float]]] = {name: {} for name in proxies}
        version = 1  # the table of "plain" is pushed already; "unique" routes by varied's
        for kind, message in (("plain", None), ("varied", varied), ("unique", None), ("beside", annotated)):
            if message is not None:
                plane.push(message)
                version += 1
            for _, _, admin in proxies.values():
                wait_version(admin, version, timeout=WAIT)
            for round_number in range(opts.rounds):  # proxies in turn: a disturbance shows as spread
                for name, (child, port, _) in proxies.items():
                    out = folder / f"{name}.out"
                    count = counted(child.pid, port, out, opts.requests, kind, round_number)
                    figures[name].setdefault(kind, []).append(count)
        if not opts.no_nginx:
            body = FRONT_BODY.format(LOOPBACK=LOOPBACK, upstream=upstream_port, port=front_port, logged_port=free_port(), folder=folder, rewrite_port=free_port())  # fmt: skip
            conf = folder / "front.conf"
            conf.write_text(NGINX_CONF.format(folder=folder, name="front", body=body).replace("master_process on", "master_process off"))  # fmt: skip
            out = folder / "nginx.out"
            front = subprocess.Popen([*CALLGRIND, f"--callgrind-out-file={out}", "nginx", "-c", str(conf), "-p", str(folder)])  # fmt: skip
            children.append(front)
            exchange_when_up(front_port)
            figures["nginx"] = {kind: [counted(front.pid, front_port, out, opts.requests, kind, number) for number in range(opts.rounds)] for kind in ("plain", "varied", "unique")}  # fmt: skip
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(60)
    report(figures, opts.requests)
    return 0


def exchange_when_up(port: int) -> None:
    """Wait for a front under callgrind to listen: one request, retried while it refuses."""
    for _ in range(600):
        try:
            exchange(port, 0, 1, "plain")
            return
        except ConnectionRefusedError:
            time.sleep(0.1)  # nginx starting under callgrind
    raise SystemExit(f"nothing listens on {port}")


def report(counts: dict[str, dict[str, list[float]]], count: int) -> None:
    """Medians of each figure's rounds, with their range: a range wider than the differences
    compared says the run was disturbed (a timer or the idle loop inside the counted window)."""
    rounds = len(counts["ours"]["plain"])
    print(f"\ninstructions per request (callgrind, user space, {count} requests per count after {WARM_UP}, median of {rounds})")  # fmt: skip
    for name, row in counts.items():
        print(f"{name:>9}: " + ", ".join(f"{kind} {median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})" for kind, values in row.items()))  # fmt: skip
    figures = {name: {kind: median(values) for kind, values in row.items()} for name, row in counts.items()}
    ours = figures["ours"]
    print(f"plain host beside the annotated hosts vs alone: {100 * (ours['beside'] / ours['plain'] - 1):+.2f} % (target <= 2 %)")  # fmt: skip
    for peer in ("baseline", "nginx"):
        if peer in figures:
            print(f"ours / {peer}: " + ", ".join(f"{kind} {ours[kind] / figures[peer][kind]:.3f}" for kind in figures[peer]))  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
