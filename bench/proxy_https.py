"""``bench/proxy.py --https``: HTTPS/1.1, our proxy beside nginx, in front of the same upstream.

Set-up (bench/proxy_h2.py's): the upstream nginx, a front nginx with ``listen ... ssl``,
``ssl_protocols TLSv1.2 TLSv1.3``, ``ssl_session_cache shared:SSL:10m`` and session tickets (its
default), and our proxy with ``--tls-dir``, both with the same ECDSA P-256 certificate. Each round,
alternating which front goes first:

* keep-alive: ``wrk -t1 -c50`` over HTTPS (wrk negotiates TLS 1.3, no ALPN), requests per second;
* new TLS connections per second, one request each: ``openssl s_time`` with ``-new`` (full
  handshakes) and ``-reuse`` (resumed: a session ticket, TLS 1.2 and 1.3 alike), each with
  ``-tls1_2`` and ``-tls1_3``, ``CLIENTS`` of them at once (one s_time waits for each handshake
  before the next, so one alone measures latency, not what the server can take). The request is
  ``GET / HTTP/1.0`` with a Host header, answered by the upstream through either front.

Every run also takes the CPU time the front spent per request or connection (its user + system
time from /proc, as bench/proxy.py does), which moves less with the neighbours' load than rates.

    python bench/proxy.py --https [--duration 10] [--rounds 3] [--pin]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.proxy import HOST, LOAD_CPU, LOOPBACK, cpu_seconds, median, on_cpu, stop_children, wrk
from bench.proxy_h2 import missing_tools, start_tls_fronts

FRONT_HTTPS_BODY = """upstream app {{ server {LOOPBACK}:{upstream}; keepalive 64; }}
server {{ listen {LOOPBACK}:{port} ssl; keepalive_requests 100000;
  ssl_certificate {cert}; ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m; ssl_session_tickets on;
  location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}"""
CLIENTS = 4  # s_time processes at once
# s_time sends "GET <www> HTTP/1.0\r\n\r\n": the Host header rides in the path argument
REQUEST = f"/ HTTP/1.0\r\nHost: {HOST}\r\nX-Bench:"
CONNECTIONS = re.compile(r"(\d+) connections in [\d.]+ real seconds")
HANDSHAKES = [(mode, version) for mode in ("-new", "-reuse") for version in ("-tls1_2", "-tls1_3")]


def s_time(port: int, duration: int, pid: int, mode: str, version: str, *, pin: bool) -> dict[str, float]:
    """``CLIENTS`` s_time runs at once: new connections per second, the CPU us per connection of ``pid``."""
    command = [*on_cpu(LOAD_CPU, pin), "openssl", "s_time", "-connect", f"{LOOPBACK}:{port}", mode, version]
    command += ["-time", str(duration), "-www", REQUEST]
    before, start = cpu_seconds(pid), time.monotonic()
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(CLIENTS)]
    outputs = [run.communicate(timeout=duration + 60)[0].decode(errors="replace") for run in runs]
    elapsed = time.monotonic() - start
    total = reused = 0
    for out in outputs:
        found = CONNECTIONS.search(out)
        if found is None or "ERROR" in out:
            raise RuntimeError(f"openssl s_time {mode} {version} failed:\n{out}")
        total += int(found.group(1))
        reused += out.split("starting", 1)[-1].split("connections in", 1)[0].count("r")  # "r" per resumption
    if mode == "-reuse" and reused < 0.9 * total:
        raise RuntimeError(f"only {reused} of {total} connections resumed their session ({mode} {version})")
    return {"cps": total / elapsed, "cpu_us": (cpu_seconds(pid) - before) / max(total, 1) * 1e6}


def check_answers(fronts: dict[str, tuple[int, int]]) -> None:
    """Both fronts answer the benchmark's request with the upstream's 200."""
    for name, (_, port) in fronts.items():
        response = httpx.get(f"https://{LOOPBACK}:{port}/", headers={"Host": HOST}, verify=False, timeout=60)
        if response.status_code != 200 or response.text != "ok":
            raise RuntimeError(f"{name} answers {response.status_code} {response.text[:80]!r}")


def run_https(opts: argparse.Namespace) -> int:
    if missing_tools("--https", {"nginx": "nginx-light", "wrk": "wrk", "openssl": "openssl"}):
        return 2
    folder = Path(tempfile.mkdtemp(prefix="bench-proxy-https-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        fronts = start_tls_fronts(opts, folder, FRONT_HTTPS_BODY, children, opts.baseline)
        check_answers(fronts)
        kinds = ["keep-alive", *(f"{mode[1:]} {version[1:].replace('_', '.')}" for mode, version in HANDSHAKES)]
        runs: dict[tuple[str, str], list[dict[str, float]]] = {(n, k): [] for n in fronts for k in kinds}
        for pid, port in fronts.values():  # warm-up: pools, caches, sessions
            wrk(port, 2, pid=pid, pin=opts.pin, scheme="https")
            s_time(port, 1, pid, "-new", "-tls1_3", pin=opts.pin)
        for round_no in range(opts.rounds):
            order = list(fronts) if round_no % 2 == 0 else list(fronts)[::-1]
            for name in order:
                pid, port = fronts[name]
                runs[name, "keep-alive"].append(wrk(port, opts.duration, pid=pid, pin=opts.pin, scheme="https"))
            for (mode, version), kind in zip(HANDSHAKES, kinds[1:], strict=True):
                for name in order:
                    pid, port = fronts[name]
                    runs[name, kind].append(s_time(port, opts.duration, pid, mode, version, pin=opts.pin))
            print(
                f"round {round_no + 1}: "
                + ", ".join(f"{n} {k} {r[-1].get('rps', r[-1].get('cps', 0)):.0f}" for (n, k), r in runs.items()),
                file=sys.stderr,
            )
        print(
            f"\nHTTPS/1.1, {opts.rounds} rounds of {opts.duration} s, medians ({os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f}); keep-alive: wrk -t1 -c50 (TLS 1.3); "
            f"new connections: {CLIENTS} x openssl s_time, one request each"
        )
        ours = [name for name in fronts if name != "nginx"]  # "ours", and "baseline" with --baseline
        print(f"{'':14} {'nginx /s':>9}" + "".join(f" {n + ' /s':>12} {'/nginx':>6} {'per round':>16}" for n in ours)
              + f" {'CPU us nginx':>13}" + "".join(f" {n:>9}" for n in ours))  # fmt: skip
        for kind in kinds:
            key = "rps" if kind == "keep-alive" else "cps"
            nginx = runs["nginx", kind]
            line = f"{kind:14} {median(nginx, key):>9.0f}"
            for name in ours:
                per_round = " ".join(f"{o[key] / n[key]:.2f}" for o, n in zip(runs[name, kind], nginx, strict=True))
                line += f" {median(runs[name, kind], key):>12.0f} {median(runs[name, kind], key) / median(nginx, key):>6.2f} {per_round:>16}"
            line += f" {median(nginx, 'cpu_us'):>13.1f}" + "".join(
                f" {median(runs[n, kind], 'cpu_us'):>9.1f}" for n in ours
            )
            print(line)
        for name in ours:
            ratios = [
                o["cps"] / n["cps"] for k in kinds[1:] for o, n in zip(runs[name, k], runs["nginx", k], strict=True)
            ]
            print(f"{name}/nginx: keep-alive {median(runs[name, 'keep-alive'], 'rps') / median(runs['nginx', 'keep-alive'], 'rps'):.2f} "
                  f"(target >= 1.0); new connections, median of every run's ratio {statistics.median(ratios):.2f} (target >= 0.9)")  # fmt: skip
        return 0
    finally:
        stop_children(children, folder)
