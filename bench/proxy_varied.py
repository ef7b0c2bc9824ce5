"""``bench/proxy.py --varied``: wrk's one repeated request and varied browser-like requests, ours beside nginx.

wrk sends one byte-identical request over and over, which no user does: every cache keyed by the
request (the route cache, the cache of request heads in proxy/repeats.py) hits on every request.
This mode runs that plain request and, in the same rounds, varied ones from a wrk Lua script
(``varied_script``): ``PATHS`` distinct paths (pages, scripts, styles, images, API calls,
searches, with and without a query) over ``HOSTS`` hosts, each with the 11 header lines a
browser sends (User-Agent, Accept and Sec-Fetch-* by what is fetched, Accept-Language,
Accept-Encoding, Referer, sec-ch-ua, and a Cookie that differs on every request, as analytics
and session cookies do), so that no two requests are alike.

Set-up, all on 127.0.0.1: the upstream nginx of bench/proxy.py (``return 200 "ok"``), its front
nginx (1 worker, keep-alive upstream, access log off, one ``location /`` for every host) and our
proxy (1 worker, access log off) with a route table of the same hosts (``varied_table``: a few
Prefix rules per host, all to the upstream) from bench/proxy.py's stand-in control plane. With
``--baseline CHECKOUT``, the proxy of that source tree runs beside them in the same rounds (on a
shared machine the only fair before/after). Each round runs every front plain and then varied,
the fronts in alternating order; the figures are medians over rounds, and each ratio to nginx is
also given per round (CPU time per request of the front backs them up: it moves less with the
neighbours' load than requests per second).

    python bench/proxy.py --varied [--duration 10] [--rounds 3] [--pin] [--baseline CHECKOUT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.proxy import (
    FRONT_BODY,
    LOOPBACK,
    NGINX_CONF,
    SERVER_CPU,
    SERVICE,
    UPSTREAM_BODY,
    ControlPlane,
    free_port,
    median,
    on_cpu,
    start_ours,
    stop_children,
    wait_version,
    wrk,
)
from bench.proxy_h2 import missing_tools
from gitops_ingress.core.routing import Route, RouteTable, RoutingState

HOSTS = (
    "www.shop.example.com",
    "api.shop.example.com",
    "static.shop.example.com",
    "blog.example.org",
    "app.example.net",
)
PREFIXES = ("/", "/api", "/static", "/account", "/blog")
PATHS = 500
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)
LANGUAGES = ("en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "nl-NL,nl;q=0.9")
# what is fetched -> Accept, Sec-Fetch-Dest, Sec-Fetch-Mode
FETCHES = {
    "page": ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", "document",
             "navigate"),
    "script": ("*/*", "script", "no-cors"),
    "style": ("text/css,*/*;q=0.1", "style", "no-cors"),
    "image": ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "image", "no-cors"),
    "api": ("application/json, text/plain, */*", "empty", "cors"),
}  # fmt: skip
SEC_CH_UA = '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'


def varied_paths(count: int = PATHS, seed: int = 14) -> list[tuple[str, str]]:
    """``count`` distinct (kind of fetch, path) pairs, the same every run."""
    draw = random.Random(seed)
    words = ("shoes", "red dress", "laptop", "garden", "coffee", "gift", "sale", "kids", "sport", "books")
    makers = {
        "page": lambda: draw.choice((f"/products/{draw.randrange(10_000)}", f"/blog/202{draw.randrange(5)}/post-"
                                     f"{draw.randrange(900)}", f"/account/orders/{draw.randrange(10**6)}", "/",
                                     f"/search?q={draw.choice(words).replace(' ', '+')}&page={draw.randrange(1, 9)}")),
        "script": lambda: f"/static/js/chunk-{draw.getrandbits(32):08x}.js",
        "style": lambda: f"/static/css/{draw.choice(('main', 'vendor', 'theme'))}.{draw.getrandbits(32):08x}.css",
        "image": lambda: f"/static/img/{draw.randrange(10**5)}.webp?w={draw.choice((320, 640, 1280))}",
        "api": lambda: f"/api/v1/{draw.choice(('cart', 'items', 'user', 'events'))}?ts={draw.randrange(10**9)}",
    }  # fmt: skip
    found: dict[str, str] = {}
    while len(found) < count:
        kind = draw.choice(tuple(makers))
        found.setdefault(makers[kind](), kind)
    return [(kind, path) for path, kind in found.items()]


def varied_heads(count: int = PATHS) -> list[str]:
    """One request head per path of ``varied_paths``, each line ended by CRLF, without the
    Cookie line and the blank line that end it (``varied_script`` and bench/proxy_instructions.py
    add a Cookie with the request's counter in it, so that no two requests are byte-identical)."""
    heads = []
    for index, (kind, path) in enumerate(varied_paths(count)):
        accept, dest, mode = FETCHES[kind]
        host = HOSTS[index % len(HOSTS)]
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            f"User-Agent: {AGENTS[index % len(AGENTS)]}",
            f"Accept: {accept}",
            f"Accept-Language: {LANGUAGES[index // len(HOSTS) % len(LANGUAGES)]}",
            "Accept-Encoding: gzip, deflate, br, zstd",
            f"Referer: https://{host}/products/{index * 37 % 1000}",
            f"sec-ch-ua: {SEC_CH_UA}",
            f"Sec-Fetch-Dest: {dest}",
            f"Sec-Fetch-Mode: {mode}",
            f"Sec-Fetch-Site: {'none' if kind == 'page' else 'same-origin'}",
        ]
        heads.append("\r\n".join(lines) + "\r\n")
    return heads


def varied_cookie(counter: int) -> str:
    """The Cookie line of request ``counter``, as ``varied_script``'s Lua writes it."""
    return f"Cookie: _ga=GA1.2.{counter}.1764633600; session={counter * 7919}; theme=dark\r\n"


def varied_script(count: int = PATHS) -> str:
    """The wrk Lua script: the heads of ``varied_heads``, prepared once; each request adds the
    Cookie line of ``varied_cookie`` and the blank line."""
    heads = [json.dumps(head) for head in varied_heads(count)]  # an ASCII JSON string is a Lua string literal
    return (
        "local heads = {\n" + ",\n".join(heads) + "\n}\n"
        "local n = #heads\n"
        "local counter = 0\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        '  return heads[counter % n + 1] .. "Cookie: _ga=GA1.2." .. counter .. ".1764633600; session=" ..\n'
        '    (counter * 7919) .. "; theme=dark\\r\\n\\r\\n"\n'
        "end\n"
    )


def varied_table() -> RouteTable:
    """Every host of the script with a few Prefix rules, all to the bench upstream."""
    return RouteTable(
        [Route(host, prefix, "Prefix", SERVICE, f"bench/{host.split('.')[0]}") for host in HOSTS for prefix in PREFIXES]
    )


def run_varied(opts: argparse.Namespace) -> int:
    if missing_tools("--varied", {"nginx": "nginx-light", "wrk": "wrk"}):
        return 2
    folder = Path(tempfile.mkdtemp(prefix="bench-proxy-varied-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        upstream_port, front_port = free_port(), free_port()
        bodies = {
            "upstream": UPSTREAM_BODY.format(LOOPBACK=LOOPBACK, port=upstream_port),
            "front": FRONT_BODY.format(LOOPBACK=LOOPBACK, upstream=upstream_port, port=front_port,
                                       logged_port=free_port(), rewrite_port=free_port(), folder=folder),
        }  # fmt: skip
        for name, body in bodies.items():
            conf = folder / f"{name}.conf"
            conf.write_text(NGINX_CONF.format(folder=folder, name=name, body=body))
            children.append(
                subprocess.Popen([*on_cpu(SERVER_CPU, opts.pin), "nginx", "-c", str(conf), "-p", str(folder)])
            )
        fronts = {"nginx": (children[-1].pid, front_port)}
        plane = ControlPlane()
        plane.push(ControlPlane.message(RoutingState(varied_table(), version=1), f"http://{LOOPBACK}:{upstream_port}"))
        checkouts = {"ours": None} | ({"baseline": opts.baseline} if opts.baseline is not None else {})
        for name, checkout in checkouts.items():
            port, admin = free_port(), free_port()
            children.append(start_ours(port, plane.port, admin, opts.pin, checkout=checkout))
            wait_version(f"http://{LOOPBACK}:{admin}", 1)
            fronts[name] = (children[-1].pid, port)
        script = folder / "varied.lua"
        script.write_text(varied_script())
        kinds = {"plain": None, "varied": script}
        for pid, port in fronts.values():  # warm-up: connections, pools, caches
            for lua in kinds.values():
                wrk(port, 2, host=HOSTS[0], pid=pid, pin=opts.pin, script=lua)
        runs: dict[tuple[str, str], list[dict[str, float]]] = {(n, k): [] for n in fronts for k in kinds}
        for round_no in range(opts.rounds):
            for name in list(fronts) if round_no % 2 == 0 else list(fronts)[::-1]:
                pid, port = fronts[name]
                for kind, lua in kinds.items():
                    runs[name, kind].append(wrk(port, opts.duration, host=HOSTS[0], pid=pid, pin=opts.pin, script=lua))
            print(f"round {round_no + 1}: " + ", ".join(f"{n} {k} {r[-1]['rps']:.0f}" for (n, k), r in runs.items()),
                  file=sys.stderr)  # fmt: skip
        report(opts, runs, list(fronts), list(kinds))
        return 0
    finally:
        stop_children(children, folder)


def report(opts: argparse.Namespace, runs: dict[tuple[str, str], list[dict[str, float]]], fronts: list[str],
           kinds: list[str]) -> None:  # fmt: skip
    print(f"\nwrk -t1 -c50 -d{opts.duration}s --latency, {opts.rounds} rounds, medians ({os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}); varied: {PATHS} paths over {len(HOSTS)} hosts, 11 header lines, "
          "a Cookie that differs per request")  # fmt: skip
    print(f"{'':18} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} {'failed':>7}")
    for (name, kind), result in runs.items():
        print(f"{name + ' ' + kind:18} {median(result, 'rps'):>8.0f} {median(result, 'p50'):>7.2f} "
              f"{median(result, 'p99'):>7.2f} {median(result, 'cpu_us'):>10.1f} {sum(r['failed'] for r in result):>7.0f}")  # fmt: skip
    for name in fronts[1:]:
        for kind in kinds:
            ours, nginx = runs[name, kind], runs["nginx", kind]
            per_round = [o["rps"] / n["rps"] for o, n in zip(ours, nginx, strict=True)]
            p99s = [o["p99"] / n["p99"] for o, n in zip(ours, nginx, strict=True)]
            target = ">= 1.0, p99 <= 1.1" if kind == "plain" else ">= 0.95"
            print(f"{name}/nginx {kind}: throughput {median(ours, 'rps') / median(nginx, 'rps'):.2f} "
                  f"(median per round {statistics.median(per_round):.2f}: {' '.join(f'{r:.2f}' for r in per_round)}), "
                  f"p99 {median(ours, 'p99') / median(nginx, 'p99'):.2f} (per round {statistics.median(p99s):.2f}); "
                  f"target {target}")  # fmt: skip
