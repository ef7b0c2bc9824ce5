"""Benchmark: what the proxy adds to a gRPC unary call (issue 15, "Speed").

Set-up, all on 127.0.0.1: a grpcio server (tests/support/grpc_servers.py, ``test.Echo/Unary``
over raw bytes, no protoc) in a process of its own; our proxy in another (1 worker, access log
off, h2c with prior knowledge on its plain listener, the server as a ``grpc://`` backend); and a
grpcio client in this process making one call at a time on one channel, first straight to the
server, then through the proxy, alternating, ``--rounds`` rounds of ``--calls`` calls each. Each
call's time is taken around the blocking stub call; per round the p50 and p99, then the medians
over the rounds, and the proxy's added latency (through minus direct) at both. The proxy
process's CPU time per call (user + system, /proc) is printed too, with the load average: on a
shared machine latency percentiles move with the neighbours, CPU time far less.

    python bench/grpc_unary.py [--calls 2000] [--rounds 3] [--size 100]

Which build of the request path ran (compiled or source, proxy/build.py) is printed beside the
figures: compile in place first (``python3 setup.py build_ext --inplace``) to measure the compiled
one.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOOPBACK = "127.0.0.1"
INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: api
  namespace: bench
spec:
  rules:
    - host: grpc.bench
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: api
                port:
                  number: 80
"""
SERVER = """
import signal, sys
sys.path.insert(0, sys.argv[1])
from tests.support.grpc_servers import EchoServer
server = EchoServer()
print(server.port, flush=True)
signal.sigwait({signal.SIGTERM})
server.stop()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.05)  # a benchmark's start-up, not a test: polling the port is fine here
    raise SystemExit(f"nothing listens on {port} after {timeout:g}s")


def round_of(target: str, calls: int, payload: bytes, authority: str | None) -> list[float]:
    options = [("grpc.default_authority", authority)] if authority else []
    with grpc.insecure_channel(target, options=options) as channel:
        unary = channel.unary_unary("/test.Echo/Unary")
        for _ in range(50):  # warm-up: the connection, the proxy's route cache
            unary(payload, timeout=10)
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            unary(payload, timeout=10)
            times.append(time.perf_counter() - start)
    return times


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc): steadier than latency on a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=100, help="request and response message bytes")
    opts = parser.parse_args()
    from gitops_ingress.proxy.build import choose

    build = choose(ROOT / "gitops_ingress" / "proxy", os.environ).kind
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(ROOT)], stdout=subprocess.PIPE, text=True)
    proxy: subprocess.Popen[bytes] | None = None
    try:
        assert server.stdout is not None
        server_port = int(server.stdout.readline())
        proxy_port = free_port()
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, "api.yaml").write_text(INGRESS)
            proxy = subprocess.Popen(
                [sys.executable, "-m", "gitops_ingress", "proxy", "--listen", f"{LOOPBACK}:{proxy_port}",
                 "--ingress-dir", folder, "--backend", f"bench/api:80=grpc://{LOOPBACK}:{server_port}",
                 "--no-access-log", "--h2c"],
                cwd=ROOT, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            wait_port(proxy_port)
            payload = os.urandom(opts.size)
            runs: dict[str, list[tuple[float, float]]] = {"direct": [], "proxy": []}
            proxy_cpu: list[float] = []  # the proxy's CPU time per call, microseconds, per round
            for number in range(opts.rounds):
                order = ["direct", "proxy"] if number % 2 == 0 else ["proxy", "direct"]
                for name in order:
                    target = f"{LOOPBACK}:{server_port if name == 'direct' else proxy_port}"
                    before = cpu_seconds(proxy.pid)
                    times = round_of(target, opts.calls, payload, "grpc.bench" if name == "proxy" else None)
                    if name == "proxy":
                        proxy_cpu.append((cpu_seconds(proxy.pid) - before) / (opts.calls + 50) * 1e6)
                    runs[name].append((percentile(times, 0.5), percentile(times, 0.99)))
                print(
                    f"round {number + 1}: "
                    + ", ".join(
                        f"{n} p50 {r[-1][0] * 1e6:.0f} us p99 {r[-1][1] * 1e6:.0f} us" for n, r in runs.items()
                    ),
                    file=sys.stderr,
                )
    finally:
        for process in (proxy, server):
            if process is not None:
                process.terminate()
                process.wait(10)
    p50 = {name: statistics.median(r[0] for r in rounds) * 1e6 for name, rounds in runs.items()}
    p99 = {name: statistics.median(r[1] for r in rounds) * 1e6 for name, rounds in runs.items()}
    print(
        f"\ngRPC unary, {opts.size}-byte messages, one call at a time, {opts.calls} calls x {opts.rounds} rounds, "
        f"medians ({os.cpu_count()} cores, request path: {build})"
    )
    print(f"{'':8} {'p50 us':>8} {'p99 us':>8}")
    for name in ("direct", "proxy"):
        print(f"{name:8} {p50[name]:8.0f} {p99[name]:8.0f}")
    print(f"{'added':8} {p50['proxy'] - p50['direct']:8.0f} {p99['proxy'] - p99['direct']:8.0f}")
    print(f"proxy CPU per call: {statistics.median(proxy_cpu):.0f} us; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
