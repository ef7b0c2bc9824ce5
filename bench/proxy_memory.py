"""``bench/proxy.py --memory``: resident memory at start and per idle keep-alive connection,
our proxy beside nginx, in front of the same upstream.

Set-up as bench/proxy.py's (the upstream nginx, the front nginx with 1 worker, our proxy with 1
worker fed the 1-host table by the stand-in control plane), without its wrk warm-up. Then, for
each front:

* at start: resident memory (VmRSS) once it serves its routes and has answered one request (ours:
  the one worker process; nginx: master and worker together, as a pod's memory counts them);
* per idle connection: ``--connections`` client connections are opened one after the other, each
  sends one keep-alive request and reads its whole answer, and all of them stay open; the growth
  of the front's resident memory from before the first to after the last, divided by their
  number (nginx: its worker's). Twice: every connection sending the same request (a client
  that repeats its head, which ours answers without a parser, proxy/repeats.py), then each a
  request of its own (a query and a header that differ: the parser's, or in the compiled build
  the head scanner's, proxy/native/headscan.c, which leaves no parser behind). ``--rounds``
  rounds, ours in a fresh process for each of the two counts, nginx's worker kept, a fresh set of
  connections for both; medians.

    python bench/proxy.py --memory [--rounds 3] [--connections 2000]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.proxy import (
    FRONT_BODY,
    HOST,
    LOOPBACK,
    NGINX_CONF,
    UPSTREAM_BODY,
    WAIT,
    ControlPlane,
    free_port,
    start_ours,
    stop_children,
    table,
    wait_version,
)
from gitops_ingress.core.routing import RoutingState

REQUEST = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
DISTINCT = "GET /?n={n} HTTP/1.1\r\nHost: " + HOST + "\r\nX-Trace: {n}\r\n\r\n"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for process {pid}")


def nginx_workers(master: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def one_answer(sock: socket.socket, request: bytes = REQUEST) -> None:
    """Send the request and read its whole answer (both fronts answer ``ok`` with a length)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"ok"):
        piece = sock.recv(65536)
        if not piece:
            raise SystemExit("the front closed a connection")
        data += piece


def idle_connections(port: int, count: int, pid: int, distinct: bool) -> float:
    """KiB of resident memory of ``pid`` per idle keep-alive connection (all closed after)."""
    before = rss_kib(pid)
    socks = []
    for number in range(count):
        sock = socket.create_connection((LOOPBACK, port), timeout=WAIT)
        one_answer(sock, DISTINCT.format(n=number).encode() if distinct else REQUEST)
        socks.append(sock)
    time.sleep(0.5)  # let the front finish its after-answer work (timers, pooled buffers)
    grown = (rss_kib(pid) - before) / count
    for sock in socks:
        sock.close()
    time.sleep(0.5)  # closed on the front's side too before the next measurement
    return grown


def run_memory(opts: argparse.Namespace) -> int:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="bench-proxy-memory-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        upstream_port, front_port, logged_port, rewrite_port = (free_port() for _ in range(4))
        for name, body in (
            ("upstream", UPSTREAM_BODY.format(LOOPBACK=LOOPBACK, port=upstream_port)),
            ("front", FRONT_BODY.format(LOOPBACK=LOOPBACK, upstream=upstream_port, port=front_port,
                                        logged_port=logged_port, folder=folder, rewrite_port=rewrite_port)),
        ):  # fmt: skip
            conf = folder / f"{name}.conf"
            conf.write_text(NGINX_CONF.format(folder=folder, name=name, body=body))
            children.append(subprocess.Popen(["nginx", "-c", str(conf), "-p", str(folder)]))
        front = children[1]
        plane = ControlPlane()
        plane.push(ControlPlane.message(RoutingState(table(0), version=1), f"http://{LOOPBACK}:{upstream_port}"))
        time.sleep(1.0)  # nginx's workers are up within a second; they log nothing to wait on
        nginx_start: list[float] = []
        ours_start: list[float] = []
        per_conn: dict[tuple[str, bool], list[float]] = {(f, d): [] for f in ("nginx", "ours") for d in (False, True)}
        for _ in range(opts.rounds):
            worker = nginx_workers(front.pid)[0]
            with socket.create_connection((LOOPBACK, front_port), timeout=WAIT) as sock:
                one_answer(sock)
            nginx_start.append(rss_kib(front.pid) + rss_kib(worker))
            for distinct in (False, True):
                per_conn["nginx", distinct].append(idle_connections(front_port, opts.connections, worker, distinct))

            # ours: a fresh process for each of the two: a closed connection is freed at once
            # (no reference cycle, docs/proxy.md), so a second count in the same process would
            # reuse the first one's freed memory and show next to no growth
            for distinct in (False, True):
                port, admin = free_port(), free_port()
                ours = start_ours(port, plane.port, admin)
                children.append(ours)
                wait_version(f"http://{LOOPBACK}:{admin}", 1)
                with socket.create_connection((LOOPBACK, port), timeout=WAIT) as sock:
                    one_answer(sock)
                time.sleep(0.5)
                if not distinct:
                    ours_start.append(rss_kib(ours.pid))
                per_conn["ours", distinct].append(idle_connections(port, opts.connections, ours.pid, distinct))
                stop_children([ours], folder / "none")
                children.remove(ours)
            print(f"round: nginx {nginx_start[-1] / 1024:.1f} MiB, ours {ours_start[-1] / 1024:.1f} MiB; KiB/conn "
                  + ", ".join(f"{f} {'distinct' if d else 'same'} {v[-1]:.2f}" for (f, d), v in per_conn.items()),
                  file=sys.stderr)  # fmt: skip
        n_start, o_start = statistics.median(nginx_start) / 1024, statistics.median(ours_start) / 1024
        conn = {key: statistics.median(values) for key, values in per_conn.items()}
        print(f"\nmemory, {opts.rounds} rounds, medians, {opts.connections} idle keep-alive connections "
              f"({os.cpu_count()} cores)")  # fmt: skip
        print(f"{'':10} {'at start MiB':>13} {'KiB/idle conn, same request':>28} {'distinct requests':>18}")
        print(f"{'nginx':10} {n_start:>13.1f} {conn['nginx', False]:>28.2f} {conn['nginx', True]:>18.2f}"
              "   (master + 1 worker; per connection: the worker)")  # fmt: skip
        print(f"{'ours':10} {o_start:>13.1f} {conn['ours', False]:>28.2f} {conn['ours', True]:>18.2f}   (1 worker)")
        print(f"targets: ours at start < 60 MiB ({o_start:.1f}), per idle connection < 2.5 KiB "
              f"({conn['ours', False]:.2f} same, {conn['ours', True]:.2f} distinct)")  # fmt: skip
        return 0
    finally:
        stop_children(children, folder)
