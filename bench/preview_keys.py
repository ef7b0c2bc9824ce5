"""Benchmark: routing keys on the real host (issue 17, "Speed"), with bench/proxy.py's set-up.

Our proxy (1 worker, fed by bench/proxy.py's stand-in control plane) serves a stable host and a
branch ``feature`` that changes it. In alternating order, ``--pairs`` times, short wrk runs of:

* ``plain``: the stable host, no key (what every request without a key costs);
* ``cookie``: the stable host with ``Cookie: theme=dark; gitops-ingress-preview=feature``;
* ``preview``: the branch's preview host ``feature--bench-example-com.preview.localhost``;
* ``baseline`` (with ``--baseline DIR``): ``plain`` against the proxy of another source tree,
  e.g. the commit before routing keys (``git archive 721af9a | tar -x -C /tmp/base``).

Figures: medians of the per-pair ratios cookie/preview (target >= 0.95) and plain/baseline
(target >= 0.98), in requests per second and in CPU time per request of the proxy process, which
moves far less with the neighbours on a shared machine (bench/proxy.py's docstring).

    python bench/preview_keys.py [--duration 4] [--pairs 6] [--pin] [--baseline /tmp/base]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.proxy import (
    HOST,
    LOOPBACK,
    NGINX_CONF,
    SERVICE,
    UPSTREAM_BODY,
    ControlPlane,
    free_port,
    start_ours,
    wait_version,
    wrk,
)
from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.routing import Route, RouteTable, RoutingState

BRANCH = "feature"
COOKIE = f"Cookie: theme=dark; gitops-ingress-preview={BRANCH}"


def state() -> RoutingState:
    stable = RouteTable([Route(HOST, "/", "Prefix", SERVICE, "bench/main")])
    branch = RouteTable([Route(HOST, "/", "Prefix", SERVICE, "bench/feature")])  # another Ingress: changed
    return RoutingState(stable, {BRANCH: branch}, version=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--pin", action="store_true", help="as bench/proxy.py --pin")
    parser.add_argument("--baseline", type=Path, help="a source tree whose proxy runs the plain requests too")
    opts = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    upstream_port = free_port()
    conf = folder / "upstream.conf"
    body = UPSTREAM_BODY.format(LOOPBACK=LOOPBACK, port=upstream_port)
    conf.write_text(NGINX_CONF.format(folder=folder, name="upstream", body=body))
    children = [subprocess.Popen(["nginx", "-c", str(conf), "-p", str(folder)])]
    try:
        plane = ControlPlane()
        plane.push(ControlPlane.message(state(), f"http://{LOOPBACK}:{upstream_port}"))
        fronts: dict[str, tuple[int, int]] = {}
        for name, checkout in (("ours", None), ("baseline", opts.baseline)):
            if name == "baseline" and checkout is None:
                continue
            port, admin = free_port(), free_port()
            proc = start_ours(port, plane.port, admin, opts.pin, checkout=checkout)
            children.append(proc)
            wait_version(f"http://{LOOPBACK}:{admin}", 1)
            fronts[name] = (proc.pid, port)
        preview = preview_host(BRANCH, HOST, "preview.localhost")
        kinds = {
            "plain": ("ours", HOST, ()),
            "cookie": ("ours", HOST, (COOKIE,)),
            "preview": ("ours", preview, ()),
        }
        if "baseline" in fronts:
            kinds["baseline"] = ("baseline", HOST, ())
        for front, host, headers in kinds.values():
            wrk(fronts[front][1], 1, host, headers=headers, pin=opts.pin)  # warm-up
        runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
        for pair in range(opts.pairs):
            order = list(kinds) if pair % 2 == 0 else list(kinds)[::-1]
            for kind in order:
                front, host, headers = kinds[kind]
                pid, port = fronts[front]
                runs[kind].append(wrk(port, opts.duration, host, pid=pid, headers=headers, pin=opts.pin))
            print(f"pair {pair + 1}: " + ", ".join(f"{k} {runs[k][-1]['rps']:.0f}" for k in kinds), file=sys.stderr)

        def ratio(a: str, b: str, key: str) -> float:
            return statistics.median(x[key] / y[key] for x, y in zip(runs[a], runs[b], strict=True))

        print(f"\nwrk -t1 -c50 -d{opts.duration}s, {opts.pairs} alternating rounds, medians")
        for kind in kinds:
            rps = statistics.median(r["rps"] for r in runs[kind])
            cpu = statistics.median(r["cpu_us"] for r in runs[kind])
            print(f"{kind:10} {rps:>10.0f} req/s {cpu:>8.1f} us CPU/request")
        print(
            f"cookie key / preview host: {ratio('cookie', 'preview', 'rps'):.3f} req/s (target >= 0.95), "
            f"CPU per request {ratio('cookie', 'preview', 'cpu_us'):.3f}"
        )
        if "baseline" in kinds:
            print(
                f"no key, ours / baseline: {ratio('plain', 'baseline', 'rps'):.3f} req/s (target >= 0.98), "
                f"CPU per request {ratio('plain', 'baseline', 'cpu_us'):.3f}"
            )
        return 0
    finally:
        for child in children:
            child.terminate()
            child.wait(30)


if __name__ == "__main__":
    raise SystemExit(main())
