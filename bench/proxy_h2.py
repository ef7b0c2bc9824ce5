"""``bench/proxy.py --h2``: HTTP/2 over TLS, our proxy beside nginx, in front of the same upstream.

Set-up, all on 127.0.0.1: the upstream nginx of bench/proxy.py (``return 200 "ok"``); a front
nginx (1 worker, ``listen ... ssl http2``, the upstream kept alive over HTTP/1.1) and our proxy
(1 worker, access log off, ``--tls-dir`` with the same certificate and key, the same upstream
through ``--backend``). ``h2load -c10 -m10 -D<duration>`` over TLS against each (ALPN h2),
alternating, ``--rounds`` rounds, medians; latency percentiles from h2load's per-request log
(its summary has none), and the CPU time per request of the front process as bench/proxy.py
takes it. Needs Debian's nginx and nghttp2-client (``apt-get install -y nginx-light nghttp2-client``).

    python bench/proxy.py --h2 [--duration 10] [--rounds 3] [--pin]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.proxy import (
    HOST,
    LOAD_CPU,
    LOOPBACK,
    NGINX_CONF,
    SERVER_CPU,
    UPSTREAM_BODY,
    WAIT,
    cpu_seconds,
    free_port,
    median,
    on_cpu,
    stop_children,
)
from tests.proxy.fixtures_ops import CertificateAuthority
from tests.support.manifests import ingress, to_yaml

FRONT_H2_BODY = """upstream app {{ server {LOOPBACK}:{upstream}; keepalive 64; }}
server {{ listen {LOOPBACK}:{port} ssl http2; keepalive_requests 100000;
  ssl_certificate {cert}; ssl_certificate_key {key};
  location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}"""
FINISHED = re.compile(r"finished in [\d.]+\w*, ([\d.]+) req/s")
REQUESTS = re.compile(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded")


def h2load(port: int, duration: int, pid: int, log: Path, *, pin: bool) -> dict[str, float]:
    """One h2load run: requests per second, p50 and p99 in ms, CPU us per request of ``pid``."""
    before = cpu_seconds(pid)
    out = subprocess.run(
        [*on_cpu(LOAD_CPU, pin), "h2load", "-c10", "-m10", f"-D{duration}", "--warm-up-time=1",
         f"--log-file={log}", "-H", f":authority: {HOST}", f"https://{LOOPBACK}:{port}/"],
        capture_output=True, text=True, timeout=duration + 60, check=True,
    ).stdout  # fmt: skip
    counts = REQUESTS.search(out)
    if counts is None or counts.group(3) != counts.group(1):
        raise RuntimeError(f"h2load reported failures:\n{out}")
    durations = sorted(int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines() if line)
    result = {
        "rps": float(FINISHED.search(out).group(1)),  # type: ignore[union-attr]
        "p50": durations[len(durations) // 2],
        "p99": durations[min(len(durations) - 1, int(len(durations) * 0.99))],
        "cpu_us": (cpu_seconds(pid) - before) / max(int(counts.group(3)), 1) * 1e6,
    }
    log.unlink()
    return result


def missing_tools(option: str, packages: dict[str, str]) -> bool:
    """Say which of the tools (name -> Debian package) is not installed; True when one is not."""
    missing = [tool for tool in packages if shutil.which(tool) is None]
    if missing:
        print(f"bench/proxy.py {option}: {', '.join(missing)} not found: "
              f"apt-get install -y {' '.join(packages[t] for t in missing)}", file=sys.stderr)  # fmt: skip
    return bool(missing)


def start_tls_fronts(
    opts: argparse.Namespace,
    folder: Path,
    front_body: str,
    children: list[subprocess.Popen[bytes]],
    baseline: Path | None = None,
    under: Callable[[str], list[str]] | None = None,
) -> dict[str, tuple[int, int]]:
    """The upstream nginx, a front nginx from ``front_body`` (a template with LOOPBACK, upstream,
    port, cert and key) and our proxy with ``--tls-dir`` holding the same ECDSA P-256 certificate
    (with ``baseline``, also the proxy of that source tree, as "baseline"); each started process
    is appended to ``children``. Returns name -> (pid, TLS port) once each serves. ``under``: the
    command each front ("nginx", "ours", "baseline") runs under (bench/proxy_connections.py's
    callgrind; the front nginx then runs without a master process, so its pid is the worker's)."""
    upstream_port, front_port = free_port(), free_port()
    CertificateAuthority(folder / "ca").secret(folder / "tls", "bench-tls", HOST)
    cert, key = folder / "tls" / "bench-tls" / "tls.crt", folder / "tls" / "bench-tls" / "tls.key"
    bodies = {
        "upstream": UPSTREAM_BODY.format(LOOPBACK=LOOPBACK, port=upstream_port),
        "front": front_body.format(LOOPBACK=LOOPBACK, upstream=upstream_port, port=front_port, cert=cert, key=key),
    }
    for name, body in bodies.items():
        conf = folder / f"{name}.conf"
        text = NGINX_CONF.format(folder=folder, name=name, body=body)
        prefix = on_cpu(SERVER_CPU, opts.pin)
        if under is not None and name == "front":
            text, prefix = text.replace("master_process on", "master_process off"), [*prefix, *under("nginx")]
        conf.write_text(text)
        children.append(subprocess.Popen([*prefix, "nginx", "-c", str(conf), "-p", str(folder)]))
    env = folder / "production"
    env.mkdir()
    (env / "bench.yaml").write_text(to_yaml(ingress("bench", HOST, "upstream")))
    fronts = {"nginx": (children[-1].pid, front_port)}
    checkouts = {"ours": None} | ({"baseline": baseline} if baseline is not None else {})
    for name, checkout in checkouts.items():
        port, err = free_port(), folder / f"{name}.err"
        proc = subprocess.Popen(
            [*on_cpu(SERVER_CPU, opts.pin), *(under(name) if under is not None else []), sys.executable, "-m", "gitops_ingress", "proxy",
             "--listen", f"{LOOPBACK}:{free_port()}", "--tls-listen", f"{LOOPBACK}:{port}",
             "--tls-dir", str(folder / "tls"), "--ingress-dir", str(env),
             "--backend", f"upstream:80=http://{LOOPBACK}:{upstream_port}", "--no-access-log"],
            stderr=err.open("wb"), cwd=checkout,
        )  # fmt: skip
        children.append(proc)
        deadline = time.monotonic() + (WAIT if under is None else 10 * WAIT)  # a start under callgrind: minutes
        while b" serving " not in err.read_bytes():  # its ready line (minutes under callgrind)
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{name} did not start: {err.read_text()}")
            time.sleep(0.1)
        fronts[name] = (proc.pid, port)
    return fronts


def run_h2(opts: argparse.Namespace) -> int:
    if missing_tools("--h2", {"nginx": "nginx-light", "h2load": "nghttp2-client"}):
        return 2
    folder = Path(tempfile.mkdtemp(prefix="bench-proxy-h2-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        fronts = start_tls_fronts(opts, folder, FRONT_H2_BODY, children, opts.baseline)
        log = folder / "h2load.log"
        for pid, port in fronts.values():
            h2load(port, 2, pid, log, pin=opts.pin)  # warm-up: TLS sessions, pools
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in fronts}
        for round_no in range(opts.rounds):
            order = list(fronts) if round_no % 2 == 0 else list(fronts)[::-1]
            for name in order:
                runs[name].append(h2load(fronts[name][1], opts.duration, fronts[name][0], log, pin=opts.pin))
            print(
                f"round {round_no + 1}: " + ", ".join(f"{n} {r[-1]['rps']:.0f}" for n, r in runs.items()),
                file=sys.stderr,
            )
        print(
            f"\nh2load -c10 -m10 -D{opts.duration} over TLS (ALPN h2), {opts.rounds} rounds, medians ({os.cpu_count()} cores)"
        )
        print(f"{'':10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11}")
        for name, result in runs.items():
            print(f"{name:10} {median(result, 'rps'):>10.0f} {median(result, 'p50'):>8.2f} {median(result, 'p99'):>8.2f} "
                  f"{median(result, 'cpu_us'):>11.1f}")  # fmt: skip
        ratio = statistics.median(o["rps"] / n["rps"] for o, n in zip(runs["ours"], runs["nginx"], strict=True))
        print(f"throughput ours/nginx: {median(runs['ours'], 'rps') / median(runs['nginx'], 'rps'):.2f} "
              f"(target >= 0.7; per round {ratio:.2f})")  # fmt: skip
        print(f"p99 ours/nginx: {median(runs['ours'], 'p99') / median(runs['nginx'], 'p99'):.2f} (target <= 1.5)")
        if "baseline" in runs:
            print(f"baseline/nginx: throughput {median(runs['baseline'], 'rps') / median(runs['nginx'], 'rps'):.2f}, "
                  f"p99 {median(runs['baseline'], 'p99') / median(runs['nginx'], 'p99'):.2f}")  # fmt: skip
        return 0
    finally:
        stop_children(children, folder)
