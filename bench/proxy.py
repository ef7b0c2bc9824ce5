"""Benchmark: our proxy beside nginx, in front of the same upstream (issue 3, "Speed").

Set-up, all on 127.0.0.1: an upstream nginx answering ``return 200 "ok"``; a front nginx (1 worker,
``upstream { keepalive 64; }``, ``proxy_http_version 1.1``, ``proxy_set_header Connection ""``);
our proxy (1 worker, access log off, metrics on) fed by a small stand-in control plane so that
route tables can be pushed while it runs. ``wrk -t1 -c50 -d10s --latency`` against each,
alternating, 3 rounds, medians. Then, with the same process:

* a route table of 10,000 hosts (alternating with the 1-host table each round, then in
  ``--pairs`` alternating pairs of short runs, whose median ratio is the figure compared),
* failed requests while a 10,000-host table is swapped in every 100 ms under that load,
* resident memory with 100,000 routes (10,000 hosts x 10 paths).

Every run also records the CPU time per request of the front process (nginx's master and worker,
or ours; user + system from /proc): on a shared 2-core machine it moves far less with what the
neighbours do than requests per second, so it backs the ratios up. Which build of our request
path ran (compiled or source, proxy/build.py) is printed with the figures: our proxy runs from
this checkout, and an editable install runs the source, so compile it in place first
(``python3 setup.py build_ext --inplace``) to measure the compiled build.

``--pin`` puts wrk on CPU 0 and the system under test (the upstream and the front being measured)
on CPU 1, the usual separation of load generator and server. Unpinned, which is the set-up the
figures are specified for, three busy processes share two cores as the scheduler likes, and our
proxy's rate moves between about 0.85 and 1.08 times nginx's from one run to the next (five runs;
nginx's own rate moved between 43k and 61k requests/s in them); pinned, the spread is smaller
(one pinned run, with an older build: 0.90, 0.89 and 0.74 in its three rounds).

Needs Debian's nginx and wrk (``apt-get install -y nginx-light wrk``).

    python bench/proxy.py [--duration 10] [--rounds 3] [--pairs 6] [--pin] [--access-log-on]
    python bench/proxy.py --duration 3 --rounds 3 --pairs 2     # a short run, about 90 s
    python bench/proxy.py --annotations [--pairs 6]             # ingress-nginx annotations only

``--annotations`` runs only the ingress-nginx annotation comparison (``annotations_comparison``).
With ``--baseline DIR`` the proxy of that checkout (compiled in place there, as this one) also
serves the rewrite host, in the same rounds as nginx and ours, in alternating order.
Its first figures (compiled build, 2 cores at a load average of 10 from other work, so requests per
second moved by a factor of 2 between runs; CPU per request is the steadier figure): the plain
host beside annotated hosts -1.0 % slower in req/s and -1.2 % in CPU per request (medians of 10
pairs, target within 2 %); the rewrite host at 0.82 of nginx's req/s (target >= 0.8), with
45.0 us of CPU per request against nginx's 32.5 us.

With a basic-auth host and an auth-url host added to the annotated set (issue 16, 2 December; a
load average of 11 to 21 from other work, so single pairs moved between 0.45 and 2.4): the plain
host beside the set against alone, CPU per request -9.5 % (6 pairs) and -5.9 % (14 pairs), that
is no cost above the noise. Against main's proxy (both compiled, the same annotated table, 12 and
16 alternating pairs of 4 s on the plain host): req/s 1.033 and 1.049 of main's, CPU per request
1.036 and 0.992 of main's.

With the rewrite-target worked out once per route cache entry, and only the annotation steps a
route uses called per request (issue 16, 2 December; compiled, ``--baseline`` main's proxy, 3
rounds of 3-4 s per run, load average 5 to 10, so req/s per run moved between 0.54 and 1.07 of
nginx): CPU per request on the rewrite host, three runs against main's commit 24156bf, ours
29.3, 24.3 and 19.7 us, main's 29.7, 28.2 and 21.9, nginx's 23.5, 19.8 and 17.0 (nginx/ours 0.80,
0.81, 0.86); five runs against the older e7c060a (two with the cache alone), ours 21.1 to 23.8
us (once 32.9 when every front's rose), e7c060a's 24.8 to 28.2 (34.3), nginx's 18.6 to 20.4 (21.9).

``--h2`` runs only the HTTP/2 comparison over TLS with h2load (bench/proxy_h2.py).

``--https`` runs only the HTTPS/1.1 comparison (bench/proxy_https.py): keep-alive throughput and
new TLS connections per second, full and resumed handshakes, TLS 1.2 and 1.3.

``--varied`` runs only wrk's one repeated request and varied browser-like requests (500 paths over
5 hosts, 11 header lines, no two requests alike) against nginx and ours (bench/proxy_varied.py).

``--memory`` runs only the memory comparison (bench/proxy_memory.py): resident memory at start and
per idle keep-alive connection, ours beside nginx.

``--access-log-on`` runs only the access log comparison: nginx writing its default combined log
to a file and ours its JSON log to a file, each beside itself with the log off, and prints the
ratio with logs on (docs/proxy.md, "Access log"). With ``--baseline DIR``, the proxy of another
checkout (a copy of the tree before a change) runs beside them, logs off and on, in the same
rounds: on a shared machine the only fair before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benches share the tests' helpers, as bench/sync.py does

from gitops_ingress.core.annotations import RouteEffects
from gitops_ingress.core.annotations.affinity import Affinity
from gitops_ingress.core.annotations.authn import BasicAuth, ForwardAuth
from gitops_ingress.core.annotations.model import Canary, Cors
from gitops_ingress.core.annotations.rates import RequestLimits
from gitops_ingress.core.routing import Route, RouteTable, RoutingState, ServiceRef
from tests.support.upstreams import refused_port as free_port

LOOPBACK = "127.0.0.1"
HOST = "bench.example.com"
SERVICE = ServiceRef("bench", "upstream", "80")
WAIT = 60.0

NGINX_CONF = """
worker_processes 1;
daemon off;
master_process on;
pid {folder}/{name}.pid;
error_log {folder}/{name}.error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {folder}/{name}-body;
  proxy_temp_path {folder}/{name}-proxy;
  fastcgi_temp_path {folder}/{name}-fcgi;
  uwsgi_temp_path {folder}/{name}-uwsgi;
  scgi_temp_path {folder}/{name}-scgi;
  {body}
}}
"""
UPSTREAM_BODY = """server {{ listen {LOOPBACK}:{port} reuseport; keepalive_requests 100000;
  location / {{ return 200 "ok"; }} }}"""
FRONT_BODY = """upstream app {{ server {LOOPBACK}:{upstream}; keepalive 64; }}
server {{ listen {LOOPBACK}:{port}; keepalive_requests 100000;
  location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}
server {{ listen {LOOPBACK}:{logged_port}; keepalive_requests 100000; access_log {folder}/front.access.log;
  location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}
server {{ listen {LOOPBACK}:{rewrite_port}; keepalive_requests 100000;
  location ~* "^/something(/|$)(.*)" {{ rewrite "(?i)/something(/|$)(.*)" /$2 break;
    proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}"""
# ingress-nginx's rendering of rewrite-target /$2 on path /something(/|$)(.*) (--annotations)
REWRITE_HOST, REWRITE_PATH, REWRITE_REQUEST = "rewrite.example.com", "/something(/|$)(.*)", "/something/a/b"


def table(hosts: int, paths: int = 1) -> RouteTable:
    routes = [Route(HOST, "/", "Prefix", SERVICE, "bench/main")]
    for index in range(hosts):
        for path in range(paths):
            routes.append(
                Route(f"h{index}.example.com", f"/p{path}" if paths > 1 else "/", "Prefix", SERVICE, f"bench/h{index}")
            )
    return RouteTable(routes)


STATE_VERSION = re.compile(rb'"version":\d+')  # the state's, first in its line (the tables' are strings)


class ControlPlane:
    """Serves the NDJSON route stream on a loop in a thread; ``push`` sends a state to every proxy."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = free_port()
        self.writers: list[asyncio.StreamWriter] = []
        self.connected = threading.Event()
        self.last: bytes | None = None
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(asyncio.start_server(self._handle, LOOPBACK, self.port), self.loop).result(
            WAIT
        )

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n")
        if self.last is not None:
            writer.write(self.last)
        self.writers.append(writer)
        self.connected.set()

    @staticmethod
    def with_version(message: bytes, version: int) -> bytes:
        """``message`` as route table ``version``: a 10,000-host table is not serialized again."""
        return STATE_VERSION.sub(b'"version":%d' % version, message, count=1)

    @staticmethod
    def message(state: RoutingState, upstream: str) -> bytes:
        body = {"type": "state", "state": state.to_dict(), "backends": {str(SERVICE): [upstream]}}
        return json.dumps(body, separators=(",", ":")).encode() + b"\n"

    def push(self, line: bytes) -> None:
        def send() -> None:
            self.last = line
            for writer in self.writers:
                writer.write(line)

        self.loop.call_soon_threadsafe(send)


def wait_version(admin: str, version: int, timeout: float = WAIT) -> None:
    """Until the proxy at ``admin`` has loaded route table ``version``, at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = httpx.get(admin + "/readyz", timeout=timeout).text
        except httpx.ConnectError:  # still starting
            text = ""
        if f"version {version} " in text:
            return
        time.sleep(0.05)
    raise SystemExit(f"proxy did not load route table version {version}")


WRK_LINE = re.compile(r"Requests/sec:\s+([\d.]+)")
LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


# No two requests alike (a counter in the query and in a header), as real clients send: the
# proxy's cache of byte-identical request heads (proxy/repeats.py) never hits, so this figure is
# the one to quote for varied traffic; wrk's default identical requests hit it on every request.
VARIED = """counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/?n=" .. counter, {["Host"] = "%s", ["X-Trace"] = tostring(counter)})
end
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children (nginx's workers are its master's children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for each in (pid, *map(int, children)):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


# --pin: the load generator on one core, the system under test (front and upstream) on the other
LOAD_CPU, SERVER_CPU = "0", "1"


def on_cpu(cpu: str, pin: bool) -> list[str]:
    return ["taskset", "-c", cpu] if pin else []


def wrk(
    port: int,
    duration: int,
    host: str = HOST,
    varied: bool = False,
    pid: int | None = None,
    *,
    pin: bool = False,
    path: str = "/",
    headers: tuple[str, ...] = (),
    scheme: str = "http",
    script: Path | None = None,
) -> dict[str, float]:
    """One wrk run; with ``pid``, also the CPU microseconds that process spent per request;
    ``script``: a wrk Lua script of one's own (bench/proxy_varied.py)."""
    if varied:
        script = Path(tempfile.gettempdir()) / f"gitops-ingress-bench-{os.getpid()}.lua"
        script.write_text(VARIED % host)
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    out = subprocess.run(
        [
            *on_cpu(LOAD_CPU, pin),
            "wrk",
            "-t1",
            "-c50",
            f"-d{duration}s",
            "--latency",
            *(["-s", str(script)] if script is not None else []),
            "-H",
            f"Host: {host}",
            *(arg for header in headers for arg in ("-H", header)),
            f"{scheme}://{LOOPBACK}:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    result = {"rps": float(WRK_LINE.search(out).group(1))}  # type: ignore[union-attr]
    if pid is not None:
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        result["cpu_us"] = (cpu_seconds(pid) - cpu_before) / max(requests, 1) * 1e6
    for pct, value, unit in LATENCY.findall(out):
        result[f"p{pct}"] = float(value) * UNITS[unit]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["failed"] = float(
        (sum(int(x) for x in errors.groups()) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0)
    )
    return result


def start_ours(
    port: int,
    plane_port: int,
    admin_port: int,
    pin: bool = False,
    access_log: Path | None = None,
    checkout: Path | None = None,
    secret_dir: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Our proxy; with ``access_log``, its JSON access log (stdout) goes to that file; with
    ``checkout``, the proxy of that source tree instead of this one; ``secret_dir``: its
    ``--secret-dir`` (the basic-auth host of ``--annotations``)."""
    return subprocess.Popen(
        [
            *on_cpu(SERVER_CPU, pin),
            sys.executable,
            "-m",
            "gitops_ingress",
            "proxy",
            "--listen",
            f"{LOOPBACK}:{port}",
            "--controller",
            f"http://{LOOPBACK}:{plane_port}",
            "--admin-listen",
            f"{LOOPBACK}:{admin_port}",
            "--access-log" if access_log is not None else "--no-access-log",
            *(["--secret-dir", str(secret_dir)] if secret_dir is not None else []),
        ],
        stdout=access_log.open("wb") if access_log is not None else None,
        stderr=subprocess.DEVNULL,
        cwd=checkout,
    )


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def stop_children(children: list[subprocess.Popen[bytes]], folder: Path) -> None:
    """Stop every process a run started (nginx gracefully, by SIGQUIT) and remove its folder."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if child.args[0] != "nginx" else signal.SIGQUIT)
    for child in children:
        try:
            child.wait(WAIT)
        except subprocess.TimeoutExpired:
            child.kill()
    shutil.rmtree(folder, ignore_errors=True)


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def annotated_table() -> RouteTable:
    """The bench host without annotations beside a regex host with rewrite-target, a host
    with a canary by header and weight, one with CORS, a body limit and a read timeout, one with
    a rate limit, a sticky cookie, buffering and a send timeout, one with basic auth (its htpasswd
    in ``--secret-dir``, ``write_bench_secret``), one with auth-url and one with custom-http-errors:
    what ``--annotations`` compares against ``table(0)``."""
    rewrite = RouteEffects(rewrite_target="/$2", regex=True).with_rewrite_path(REWRITE_PATH)
    canary = RouteEffects(canary=Canary(SERVICE, "bench/canary", header="x-canary", weight=20))
    cors = RouteEffects(cors=Cors(origins=("https://*.example.com",)), body_limit=8 << 20, read_timeout=30)
    limits = RouteEffects(rate_limit=RequestLimits(rps=1_000_000), affinity=Affinity(), buffering=True, send_timeout=30)
    basic = RouteEffects(basic_auth=BasicAuth(BENCH_SECRET[0], BENCH_SECRET[1], realm="bench"))
    forward = RouteEffects(forward_auth=ForwardAuth(f"http://{LOOPBACK}:9/auth", response_headers=("X-User",)))
    errors = RouteEffects(custom_errors=(404, 503), default_backend="bench-errors")
    return RouteTable(
        [
            Route(HOST, "/", "Prefix", SERVICE, "bench/main"),
            Route(REWRITE_HOST, REWRITE_PATH, "ImplementationSpecific", SERVICE, "bench/rewrite", effects=rewrite),
            Route("canary.example.com", "/", "Prefix", SERVICE, "bench/canary", effects=canary),
            Route("cors.example.com", "/", "Prefix", SERVICE, "bench/cors", effects=cors),
            Route("limits.example.com", "/", "Prefix", SERVICE, "bench/limits", effects=limits),
            Route("auth.example.com", "/", "Prefix", SERVICE, "bench/auth", effects=basic),
            Route("sso.example.com", "/", "Prefix", SERVICE, "bench/sso", effects=forward),
            Route("errors.example.com", "/", "Prefix", SERVICE, "bench/errors", effects=errors),
        ]
    )


BENCH_SECRET = ("bench", "bench-auth")


def write_bench_secret(folder: Path) -> Path:
    """The ``--secret-dir`` of the bench proxy: one apr1 user (foo, password bar)."""
    secret = folder / "secrets" / BENCH_SECRET[0] / BENCH_SECRET[1]
    secret.mkdir(parents=True)
    (secret / "auth").write_text("foo:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\n")
    return folder / "secrets"


def annotations_comparison(opts: argparse.Namespace, load: Callable[[bytes, int], None], ports: dict[str, int],
                           pids: dict[str, int], messages: dict[str, bytes]) -> int:  # fmt: skip
    """``--annotations``: (1) the plain host with and without annotated hosts beside it, in
    alternating pairs of runs (target: within 2 %); (2) the regex host with rewrite, ours against
    nginx's ``location ~*`` + ``rewrite`` (target >= 0.8)."""
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    for pair_no in range(opts.pairs):
        runs: dict[str, dict[str, float]] = {}
        order = ("plain", "annotated") if pair_no % 2 == 0 else ("annotated", "plain")
        for step, which in enumerate(order):
            load(messages[which], 200 + 2 * pair_no + step)
            runs[which] = wrk(ports["ours"], max(opts.duration // 2, 1), pid=pids["ours"], pin=opts.pin)
        ratios.append(runs["annotated"]["rps"] / runs["plain"]["rps"])
        cpu_ratios.append(runs["annotated"]["cpu_us"] / runs["plain"]["cpu_us"])
    load(messages["annotated"], 300)
    # nginx, ours and with --baseline the proxy of that checkout, in alternating order per round
    fronts = {"nginx": ports["rewrite"], "ours": ports["ours"]} | (
        {"baseline": ports["baseline"]} if "baseline" in ports else {}
    )
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in fronts}
    for round_no in range(opts.rounds):
        options = {"host": REWRITE_HOST, "path": REWRITE_REQUEST, "pin": opts.pin}
        for name in list(fronts) if round_no % 2 == 0 else list(fronts)[::-1]:
            rounds[name].append(wrk(fronts[name], opts.duration, pid=pids[name], **options))  # type: ignore[arg-type]
        print("rewrite: " + ", ".join(f"{n} {r[-1]['rps']:.0f} req/s" for n, r in rounds.items()), file=sys.stderr)
    nginx_runs, ours_runs = rounds["nginx"], rounds["ours"]
    slower = 100 * (1 - statistics.median(ratios))
    print(f"\nannotations, wrk -t1 -c50, {opts.pairs} pairs of {max(opts.duration // 2, 1)} s and {opts.rounds} "
          f"rounds of {opts.duration} s ({os.cpu_count()} cores)")  # fmt: skip
    print(f"plain host beside annotated hosts vs alone: {slower:+.1f} % slower (target <= 2 %), CPU per "
          f"request {100 * (statistics.median(cpu_ratios) - 1):+.1f} %; pairs (req/s): "
          + ", ".join(f"{ratio:.3f}" for ratio in ratios))  # fmt: skip
    n_rps, o_rps = median(nginx_runs, "rps"), median(ours_runs, "rps")
    print(f"regex host with rewrite-target: nginx {n_rps:.0f} req/s, ours {o_rps:.0f}: {o_rps / n_rps:.2f} "
          f"(target >= 0.8); CPU per request nginx {median(nginx_runs, 'cpu_us'):.1f} us, "
          f"ours {median(ours_runs, 'cpu_us'):.1f} us; non-2xx or failed: nginx "
          f"{sum(run['failed'] for run in nginx_runs):.0f}, ours {sum(run['failed'] for run in ours_runs):.0f}")  # fmt: skip
    if "baseline" in rounds:
        base = rounds["baseline"]
        print(f"baseline on the rewrite host: {median(base, 'rps'):.0f} req/s, {median(base, 'rps') / n_rps:.2f} of "
              f"nginx; CPU per request {median(base, 'cpu_us'):.1f} us; ours/baseline per round (req/s): "
              + ", ".join(f"{o['rps'] / b['rps']:.2f}" for o, b in zip(ours_runs, base, strict=True))
              + f"; failed {sum(run['failed'] for run in base):.0f}")  # fmt: skip
    return 0


def access_log_comparison(opts: argparse.Namespace, fronts: dict[str, tuple[int, int, int, int]], folder: Path) -> int:
    """``--access-log-on``: each front with its access log off and on, alternating, medians.
    ``fronts``: name -> (pid, port) with the log off, then (pid, port) with it on (one nginx serves
    both ports; ours logs from a second process)."""
    runs: dict[tuple[str, bool], list[dict[str, float]]] = {(name, on): [] for name in fronts for on in (False, True)}
    for _, _, _, port in fronts.values():
        wrk(port, 2, pin=opts.pin)  # warm-up of the logging fronts
    for round_no in range(opts.rounds):
        order = [(name, on) for name in fronts for on in (False, True)]
        for name, on in order if round_no % 2 == 0 else order[::-1]:
            pid, port = fronts[name][2:] if on else fronts[name][:2]
            runs[name, on].append(wrk(port, opts.duration, pid=pid, pin=opts.pin))
        print(
            f"round {round_no + 1}: "
            + ", ".join(f"{n} {'on' if o else 'off'} {r[-1]['rps']:.0f}" for (n, o), r in runs.items()),
            file=sys.stderr,
        )
    print(f"\naccess logs, wrk -t1 -c50 -d{opts.duration}s, {opts.rounds} rounds, medians ({os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    print(f"{'':10} {'off req/s':>10} {'on req/s':>10} {'cost':>7} {'on p99 ms':>10} {'CPU us/req off':>15} {'on':>6}")
    rps = {key: median(value, "rps") for key, value in runs.items()}
    for name in fronts:
        cost = 100 * (1 - rps[name, True] / rps[name, False])
        print(
            f"{name:10} {rps[name, False]:>10.0f} {rps[name, True]:>10.0f} {cost:>6.1f}% "
            f"{median(runs[name, True], 'p99'):>10.2f} {median(runs[name, False], 'cpu_us'):>15.1f} "
            f"{median(runs[name, True], 'cpu_us'):>6.1f}"
        )
    print(
        f"throughput ours/nginx, logs on: {rps['ours', True] / rps['nginx', True]:.2f} (target >= 0.95); "
        f"logs off: {rps['ours', False] / rps['nginx', False]:.2f}"
    )
    if "baseline" in fronts:
        print(f"throughput baseline/nginx, logs on: {rps['baseline', True] / rps['nginx', True]:.2f}; "
              f"logs off: {rps['baseline', False] / rps['nginx', False]:.2f}")  # fmt: skip
    for name in ("front.access.log", "ours.access.log"):
        print(f"{name}: {sum(1 for _ in (folder / name).open('rb'))} lines")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=6, help="1-host/10,000-host pairs of short runs")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="wrk on CPU 0; the upstream and the proxy under test (nginx or ours) on CPU 1 (taskset)",
    )
    parser.add_argument("--h2", action="store_true", help="only HTTP/2 over TLS: h2load against nginx and ours")
    parser.add_argument(
        "--https",
        action="store_true",
        help="only HTTPS/1.1: keep-alive throughput (wrk) and new TLS connections per second, full and resumed, "
        "TLS 1.2 and 1.3 (openssl s_time), against nginx with ssl_session_cache",
    )
    parser.add_argument(
        "--access-log-on",
        action="store_true",
        help="only compare logs off and on: nginx's combined log to a file, ours the JSON log to a file",
    )
    parser.add_argument(
        "--varied",
        action="store_true",
        help="only plain and varied requests (500 paths over 5 hosts, 11 browser header lines, a Cookie that "
        "differs per request), ours beside nginx",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="only memory: resident at start and per idle keep-alive connection, ours beside nginx",
    )
    parser.add_argument("--connections", type=int, default=2000, help="--memory: idle connections opened")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="CHECKOUT",
        help="with --h2, --https, --varied, --access-log-on or --annotations: also run the proxy of that source "
        "tree (a git archive of the commit to compare), in the same rounds",
    )
    parser.add_argument(
        "--annotations",
        action="store_true",
        help="only the annotation runs: a plain host beside annotated ones, and a regex host with rewrite against nginx",
    )
    opts = parser.parse_args()
    if opts.h2:
        from bench.proxy_h2 import run_h2  # its own set-up: nginx with TLS and http2, ours with --tls-dir

        return run_h2(opts)
    if opts.https:
        from bench.proxy_https import run_https  # the TLS set-up of bench/proxy_h2.py, HTTP/1.1 only

        return run_https(opts)
    if opts.varied:
        from bench.proxy_varied import run_varied  # its own route table and wrk script

        return run_varied(opts)
    if opts.memory:
        from bench.proxy_memory import run_memory  # its own set-up: fresh processes, no warm-up

        return run_memory(opts)
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            print(f"bench/proxy.py: {tool} not found: apt-get install -y nginx-light wrk", file=sys.stderr)
            return 2
    folder = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        upstream_port, front_port, ours_port, admin_port, logged_port, rewrite_port = (free_port() for _ in range(6))
        for name, body in (
            ("upstream", UPSTREAM_BODY.format(LOOPBACK=LOOPBACK, port=upstream_port)),
            (
                "front",
                FRONT_BODY.format(
                    LOOPBACK=LOOPBACK,
                    upstream=upstream_port,
                    port=front_port,
                    logged_port=logged_port,
                    folder=folder,
                    rewrite_port=rewrite_port,
                ),
            ),
        ):
            conf = folder / f"{name}.conf"
            conf.write_text(NGINX_CONF.format(folder=folder, name=name, body=body))
            children.append(
                subprocess.Popen([*on_cpu(SERVER_CPU, opts.pin), "nginx", "-c", str(conf), "-p", str(folder)])
            )
        front = children[1]
        plane = ControlPlane()
        upstream = f"http://{LOOPBACK}:{upstream_port}"
        small = ControlPlane.message(RoutingState(table(0), version=1), upstream)
        plane.push(small)
        secrets = write_bench_secret(folder)
        ours = start_ours(ours_port, plane.port, admin_port, opts.pin, secret_dir=secrets)
        children.append(ours)
        admin = f"http://{LOOPBACK}:{admin_port}"
        wait_version(admin, 1)
        admins = [admin]  # every proxy a pushed table must reach before a run
        fronts_up = [front_port, ours_port]
        baseline: tuple[int, int] | None = None  # --annotations --baseline: (pid, port)
        if opts.annotations and opts.baseline is not None:  # the same proxy from another checkout
            base_port, base_admin = free_port(), free_port()
            child = start_ours(base_port, plane.port, base_admin, opts.pin, checkout=opts.baseline, secret_dir=secrets)
            children.append(child)
            admins.append(f"http://{LOOPBACK}:{base_admin}")
            wait_version(admins[-1], 1)
            baseline = (child.pid, base_port)
            fronts_up.append(base_port)
        for port in fronts_up:
            wrk(port, 2, pin=opts.pin)  # warm-up: connections, pools, caches
        if opts.access_log_on:
            logged = folder / "ours.access.log"
            ours_logged = start_ours(
                logged_ours_port := free_port(), plane.port, logged_admin := free_port(), opts.pin, logged
            )
            children.append(ours_logged)
            wait_version(f"http://{LOOPBACK}:{logged_admin}", 1)
            fronts = {
                "nginx": (front.pid, front_port, front.pid, logged_port),
                "ours": (ours.pid, ours_port, ours_logged.pid, logged_ours_port),
            }
            if opts.baseline is not None:  # the same two processes from another checkout
                pair = []
                for log_file in (None, folder / "baseline.access.log"):
                    port, admin_port_b = free_port(), free_port()
                    child = start_ours(port, plane.port, admin_port_b, opts.pin, log_file, checkout=opts.baseline)
                    children.append(child)
                    wait_version(f"http://{LOOPBACK}:{admin_port_b}", 1)
                    pair += [child.pid, port]
                fronts["baseline"] = (pair[0], pair[1], pair[2], pair[3])
            return access_log_comparison(opts, fronts, folder)
        big_table = table(10_000)
        other = RouteTable([*big_table.routes, Route("extra.example.com", "/", "Prefix", SERVICE, "bench/extra")])
        big = [ControlPlane.message(RoutingState(t, version=v), upstream) for t, v in ((big_table, 2), (other, 3))]

        def load(message: bytes, version: int) -> None:
            """Push ``message`` as ``version``, wait until ours serves it, and let the swap settle."""
            plane.push(ControlPlane.with_version(message, version))
            for each in admins:
                wait_version(each, version)
            for port in fronts_up[1:]:
                wrk(port, 1, pin=opts.pin)  # a swap ends with a full GC pass and a heap freeze (proxy/app.py)

        if opts.annotations:
            annotated = ControlPlane.message(RoutingState(annotated_table(), version=2), upstream)
            return annotations_comparison(
                opts,
                load,
                {"ours": ours_port, "rewrite": rewrite_port} | ({"baseline": baseline[1]} if baseline else {}),
                {"ours": ours.pid, "nginx": front.pid} | ({"baseline": baseline[0]} if baseline else {}),
                {"plain": small, "annotated": annotated},
            )

        nginx_runs, ours_runs, ours_big_runs = [], [], []
        nginx_varied, ours_varied = [], []

        def nginx_turn() -> None:
            nginx_runs.append(wrk(front_port, opts.duration, pid=front.pid, pin=opts.pin))
            nginx_varied.append(wrk(front_port, opts.duration, varied=True, pid=front.pid, pin=opts.pin))

        def ours_turn(round_no: int) -> None:
            load(small, 10 + round_no)
            ours_varied.append(wrk(ours_port, opts.duration, varied=True, pid=ours.pid, pin=opts.pin))
            # the 1-host and 10,000-host runs back to back, so that little else differs between them
            ours_runs.append(wrk(ours_port, opts.duration, pid=ours.pid, pin=opts.pin))
            load(big[0], 20 + round_no)
            ours_big_runs.append(wrk(ours_port, opts.duration, pid=ours.pid, pin=opts.pin))

        for round_no in range(opts.rounds):
            # who goes first alternates: on a shared machine the first and the last runs of a
            # round see different neighbours (and clocks), and a fixed order biases the ratio
            if round_no % 2 == 0:
                nginx_turn()
                ours_turn(round_no)
            else:
                ours_turn(round_no)
                nginx_turn()
            print(
                f"round {round_no + 1}: nginx {nginx_runs[-1]['rps']:.0f} req/s, ours {ours_runs[-1]['rps']:.0f}, "
                f"ours 10k hosts {ours_big_runs[-1]['rps']:.0f}",
                file=sys.stderr,
            )

        # 1 host against 10,000 hosts once more, in pairs of short runs in alternating order: one
        # 10 s run moves by +-10 % on a shared 2-core machine, twice the 5 % this compares
        pair_rps: list[float] = []
        pair_cpu: list[float] = []
        for pair_no in range(opts.pairs):
            runs: dict[str, dict[str, float]] = {}
            order = (("small", small), ("big", big[0]))
            for step, (which, message) in enumerate(order if pair_no % 2 == 0 else order[::-1]):
                load(message, 40 + 2 * pair_no + step)
                runs[which] = wrk(ours_port, max(opts.duration // 2, 1), pid=ours.pid, pin=opts.pin)
            pair_rps.append(runs["big"]["rps"] / runs["small"]["rps"])
            pair_cpu.append(runs["big"]["cpu_us"] / runs["small"]["cpu_us"])

        # swaps every 100 ms under load
        stop = threading.Event()
        swaps = 0

        def swapper() -> None:
            nonlocal swaps
            while not stop.wait(0.1):
                swaps += 1
                plane.push(ControlPlane.with_version(big[swaps % 2], 100 + swaps))

        thread = threading.Thread(target=swapper, daemon=True)
        thread.start()
        swapping = wrk(ours_port, opts.duration, pin=opts.pin)
        stop.set()
        thread.join(WAIT)

        metrics = httpx.get(admin + "/metrics", timeout=WAIT).text
        reloads = re.search(r"route_table_reloads_total ([\d.e+]+)", metrics)
        build = re.search(r'build_info\{build="(\w+)"\}', metrics)
        ours.send_signal(signal.SIGTERM)
        ours.wait(WAIT)

        # memory with 100,000 routes, in a fresh process so earlier tables leave nothing behind
        plane.writers.clear()
        plane.push(ControlPlane.message(RoutingState(table(10_000, 10), version=999_999), upstream))
        fresh = start_ours(ours_port, plane.port, admin_port, opts.pin)
        children.append(fresh)
        wait_version(admin, 999_999)
        rss, peak = rss_mb(fresh.pid)
        check = httpx.get(f"http://{LOOPBACK}:{ours_port}/p3/x", headers={"Host": "h9999.example.com"}, timeout=WAIT)

        n_rps, o_rps, b_rps = (median(r, "rps") for r in (nginx_runs, ours_runs, ours_big_runs))
        n_p50, o_p50, b_p50 = (median(r, "p50") for r in (nginx_runs, ours_runs, ours_big_runs))
        n_p99, o_p99, b_p99 = (median(r, "p99") for r in (nginx_runs, ours_runs, ours_big_runs))
        print(
            f"\nwrk -t1 -c50 -d{opts.duration}s --latency, {opts.rounds} rounds, medians (127.0.0.1, {os.cpu_count()} cores)"
        )
        print(
            f"request path of ours: {build.group(1) if build else '?'} (proxy/build.py; 'source' is the uncompiled fallback)"
        )
        print(f"{'':28} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
        print(f"{'nginx (1 worker)':28} {n_rps:>10.0f} {n_p50:>8.2f} {n_p99:>8.2f}")
        print(f"{'ours (1 worker, 1 host)':28} {o_rps:>10.0f} {o_p50:>8.2f} {o_p99:>8.2f}")
        print(f"{'ours (10,000 hosts)':28} {b_rps:>10.0f} {b_p50:>8.2f} {b_p99:>8.2f}")
        nv_rps, ov_rps = median(nginx_varied, "rps"), median(ours_varied, "rps")
        nv_p99, ov_p99 = median(nginx_varied, "p99"), median(ours_varied, "p99")
        print(f"{'nginx, varied requests':28} {nv_rps:>10.0f} {median(nginx_varied, 'p50'):>8.2f} {nv_p99:>8.2f}")
        print(f"{'ours, varied requests':28} {ov_rps:>10.0f} {median(ours_varied, 'p50'):>8.2f} {ov_p99:>8.2f}")
        per_round = [o["rps"] / n["rps"] for o, n in zip(ours_runs, nginx_runs, strict=True)]
        per_round_p99 = [o["p99"] / n["p99"] for o, n in zip(ours_runs, nginx_runs, strict=True)]
        per_round_varied = [o["rps"] / n["rps"] for o, n in zip(ours_varied, nginx_varied, strict=True)]
        print(
            f"\nthroughput ours/nginx: {o_rps / n_rps:.2f}, median per round {statistics.median(per_round):.2f} "
            f"({' '.join(f'{r:.2f}' for r in per_round)}; target >= 1.0); varied requests: {ov_rps / nv_rps:.2f}, "
            f"median per round {statistics.median(per_round_varied):.2f} (target >= 0.95)"
        )
        print(
            f"p99 ours/nginx: {o_p99 / n_p99:.2f}, median per round {statistics.median(per_round_p99):.2f} "
            f"(target <= 1.1); varied requests: {ov_p99 / nv_p99:.2f}"
        )
        n_cpu, o_cpu, b_cpu, nv_cpu, ov_cpu = (
            median(r, "cpu_us") for r in (nginx_runs, ours_runs, ours_big_runs, nginx_varied, ours_varied)
        )
        print(
            f"10,000 hosts vs 1 host: {100 * (1 - statistics.median(pair_rps)):+.1f} % slower (target <= 5 %), "
            f"CPU per request {100 * (statistics.median(pair_cpu) - 1):+.1f} %: medians of {opts.pairs} "
            f"alternating pairs of {max(opts.duration // 2, 1)} s runs; in the rounds above "
            f"{100 * (1 - b_rps / o_rps):+.1f} % and {100 * (b_cpu / o_cpu - 1):+.1f} %"
        )
        print(
            f"CPU per request (user + system): nginx {n_cpu:.1f} us, ours {o_cpu:.1f} us; "
            f"varied requests: nginx {nv_cpu:.1f} us, ours {ov_cpu:.1f} us"
        )
        print(
            f"swaps every 100 ms under load: {swaps} swaps, {swapping['rps']:.0f} req/s, "
            f"{swapping['failed']:.0f} failed requests (target 0)"
        )
        print(
            f"memory with 100,000 routes: {rss:.0f} MB resident, {peak:.0f} MB peak (target < 200 MB); "
            f"route check {check.status_code}; reloads counted {reloads.group(1) if reloads else '?'}"
        )
        return 0
    finally:
        stop_children(children, folder)


if __name__ == "__main__":
    raise SystemExit(main())
