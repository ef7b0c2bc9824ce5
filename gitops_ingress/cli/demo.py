"""``gitops-ingress demo``: the whole product on a laptop, in one command.

It builds a throw-away config repository (a bare "remote" plus a clone, with the git CLI) from the
project's sample ``environments/``: ``main`` as it is, and a branch ``feature-api-v2`` that
re-targets ``shop.example.com/api`` to a v2 backend and adds ``/api/v2/recommendations``. It starts
one sample backend per Service port the two branches name (in-process asyncio servers that answer
with their own name), then runs exactly what ``serve`` runs -- engine, web app, proxy -- against the
bare repository, waits until both branches are applied, and prints the dashboard URL and curl
commands built from the engine's own preview URLs, so they work as printed. Ctrl-C stops
everything and removes the temporary folder; the exit code is 0.

Where the sample comes from: ``--sample DIR`` when given; else the source checkout that holds the
package (an editable install); else the current folder, which covers ``pip install .`` followed
by ``gitops-ingress demo`` in the checkout. The sample is not copied into wheels: it is a folder
of 40 files people are meant to read and edit, and the demo's point is to show *their* checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import gitops_ingress
from gitops_ingress.cli import serve as serve_command
from gitops_ingress.cli.variables import Variables
from gitops_ingress.core.build import build
from gitops_ingress.core.environments import Root
from gitops_ingress.core.errors import ConfigError, SourceError
from gitops_ingress.core.routing import ServiceRef
from gitops_ingress.core.settings import SETTINGS_FILE, Settings
from gitops_ingress.fs import FolderTree
from gitops_ingress.proxy.app import parse_address

FEATURE = "feature-api-v2"
FEATURE_FILE = "environments/production/storefront/catalog/shop-api.yaml"
READY_TIMEOUT = 60.0
GIT_TIMEOUT = 60.0
MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
MAX_REQUESTS_PER_CONNECTION = 1000
IDLE_TIMEOUT = 30.0
_LABELS = "  labels:\n    app.kubernetes.io/name: catalog-api\n    team: storefront\n"


def _path(path: str, service: str) -> str:
    return (
        f"          - path: {path}\n            pathType: Prefix\n            backend:\n"
        f"              service:\n                name: {service}\n                port:\n"
        "                  number: 8080\n"
    )


# The feature branch's version of FEATURE_FILE: /api re-targeted to catalog-api-v2, one path added.
FEATURE_YAML = (
    "# Feature branch: the shop's API moves to catalog-api-v2, which also serves recommendations.\n"
    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: catalog-shop-api\n  namespace: shop\n"
    + _LABELS
    + "spec:\n  ingressClassName: gitops-ingress\n  rules:\n    - host: shop.example.com\n"
    "      http:\n        paths:\n"
    + _path("/api", "catalog-api-v2")
    + _path("/api/v2/recommendations", "catalog-api-v2")
    + "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: catalog-search\n  namespace: shop\n"
    + _LABELS
    + "spec:\n  ingressClassName: gitops-ingress\n  rules:\n    - host: shop.example.com\n"
    "      http:\n        paths:\n" + _path("/api/search", "catalog-api")
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a sample config repository with a feature branch, backends, control plane and proxy",
        description="Build a sample config repository (main + a feature branch), start sample backends, "
        "the control plane and the proxy, and print the URLs to try. Ctrl-C stops everything.",
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:8000", metavar="HOST:PORT", help="dashboard and API (default 127.0.0.1:8000)"
    )
    parser.add_argument(
        "--proxy-listen", default="127.0.0.1:8080", metavar="HOST:PORT", help="the proxy (default 127.0.0.1:8080)"
    )
    parser.add_argument(
        "--sample",
        metavar="DIR",
        help="folder with environments/ and gitops-ingress.yaml (default: the source checkout, else the current folder)",
    )
    parser.set_defaults(run=run)


def sample_root(option: str | None) -> Path:
    """``--sample``, else the source checkout holding the package, else the current folder."""
    if option:
        candidates = [Path(option)]
    else:
        candidates = [Path(gitops_ingress.__file__).resolve().parents[1], Path.cwd()]
    for root in candidates:
        if (root / "environments").is_dir():
            return root
    where = " or ".join(str(c) for c in candidates)
    raise SourceError(f"no sample environments/ folder in {where}: run it in a source checkout or pass --sample DIR")


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Demo",
        "GIT_AUTHOR_EMAIL": "demo@example.com",
        "GIT_COMMITTER_NAME": "Demo",
        "GIT_COMMITTER_EMAIL": "demo@example.com",
    }
    try:
        done = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceError(f"git {args[0]}: {exc}") from exc
    if done.returncode != 0:
        raise SourceError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def build_repository(sample: Path, root: Path) -> tuple[Path, Path]:
    """A bare remote with ``main`` (the sample) and FEATURE; returns (remote, clone)."""
    remote, work = root / "config.git", root / "config"
    git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    git(root, "clone", "--quiet", str(remote), str(work))
    shutil.copytree(sample / "environments", work / "environments", symlinks=True)
    if (sample / SETTINGS_FILE).is_file():
        shutil.copy(sample / SETTINGS_FILE, work / SETTINGS_FILE)
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "Sample routing: production and staging")
    git(work, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    git(work, "switch", "--quiet", "-c", FEATURE)
    (work / FEATURE_FILE).write_text(FEATURE_YAML, encoding="utf-8")
    git(work, "commit", "--quiet", "-am", "Move the shop API to catalog-api-v2 and add recommendations")
    git(work, "push", "--quiet", "origin", f"HEAD:refs/heads/{FEATURE}")
    git(work, "switch", "--quiet", "main")
    return remote, work


def service_ports(work: Path, settings: Settings) -> set[ServiceRef]:
    """Every Service port the checked-out tree routes to (one sample backend each)."""
    folder = work / settings.environments_dir
    built = build(FolderTree(), settings, [Root(str(folder), settings.environments_dir, folder.name)])
    refs: set[ServiceRef] = set()
    for table in built.tables().values():
        backends = [route.backend for route in table.routes]
        if table.default_backend is not None:
            backends.append(table.default_backend.backend)
        refs.update(b for b in backends if isinstance(b, ServiceRef))
    return refs


async def _answer(name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A tiny HTTP/1.1 server that says who it is; keep-alive so the proxy's pool is exercised."""
    try:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
            if len(head) > MAX_HEAD:
                break
            lines = head.decode("latin-1").split("\r\n")
            method, target = (lines[0].split(" ") + ["", ""])[:2]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            length = int(headers.get("content-length", "0") or 0)
            if 0 < length <= MAX_BODY:
                await reader.readexactly(length)
            body = f"{name} answered {method} {target} (Host: {headers.get('host', '')})\n".encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
            if headers.get("connection", "").lower() == "close" or length > MAX_BODY:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_backends(refs: set[ServiceRef]) -> tuple[list[asyncio.Server], list[str]]:
    servers, options = [], []
    for ref in sorted(refs, key=str):
        name = str(ref)
        server = await asyncio.start_server(functools.partial(_answer, name), "127.0.0.1", 0, limit=MAX_HEAD)
        servers.append(server)
        options.append(f"{name}=http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    return servers, options


async def wait_until_applied(api: str, serving: asyncio.Task[int]) -> dict[str, Any] | None:
    """The feature branch's status once main and it are applied; None when serve stopped first."""
    deadline = time.monotonic() + READY_TIMEOUT
    async with httpx.AsyncClient(base_url=api, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if serving.done():
                return None
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                found = (await client.get("/api/v1/branches", params={"per_page": 10})).json()["items"]
                states: dict[str, dict[str, Any]] = {b["name"]: b for b in found}
                if all(states.get(n, {}).get("state") == "applied" for n in ("main", FEATURE)):
                    return states[FEATURE]
            await asyncio.sleep(0.1)  # polling our own API: the engine is inside serve's coroutine
    raise ConfigError(f"the demo branches were not applied within {READY_TIMEOUT:.0f} s; see the log above")


def instructions(api: str, proxy: tuple[str, int], feature: dict[str, Any], work: Path, remote: Path) -> str:
    stable = f"http://{proxy[0]}:{proxy[1]}"
    preview = next(
        p["url"]
        for p in feature["preview_urls"]
        if p["stable_host"] == "shop.example.com" and p["environment"] == "production"
    ).rstrip("/")
    return "\n".join(
        [
            "gitops-ingress demo is running.",
            "",
            f"Dashboard: {api}/",
            f"Feature branch: {api}/branches/{FEATURE}",
            "",
            "Stable routes (branch main) and the preview of branch feature-api-v2:",
            f"  curl -s {stable}/api -H 'Host: shop.example.com'",
            f"  curl -s {preview}/api",
            f"  curl -s {preview}/api/v2/recommendations",
            f"  curl -s {stable}/api/v2/recommendations -H 'Host: shop.example.com'",
            f"  curl -s {stable}/checkout -H 'Host: shop.example.com'",
            "",
            f"The config repository is {remote} (a clone is at {work}): push a branch there and it",
            "gets previews at the next poll (5 s).",
            "Press Ctrl-C to stop.",
            "",
        ]
    )


def serve_namespace(argv: list[str]) -> argparse.Namespace:
    """``serve``'s arguments as its own parser reads them, defaults included: a Namespace
    written out here went stale whenever serve gained an option (``--h2c`` did)."""
    parser = argparse.ArgumentParser(prog="gitops-ingress")
    serve_command.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


async def demo(args: argparse.Namespace, stop: asyncio.Event, variables: Variables) -> int:
    listen = parse_address(args.listen, "--listen")
    proxy_listen = parse_address(args.proxy_listen, "--proxy-listen")
    sample = sample_root(args.sample)
    with tempfile.TemporaryDirectory(prefix="gitops-ingress-demo-") as folder:
        root = Path(folder)
        remote, work = await asyncio.to_thread(build_repository, sample, root)
        settings = Settings()
        refs = service_ports(work, settings)
        await asyncio.to_thread(git, work, "switch", "--quiet", FEATURE)
        refs |= service_ports(work, settings)
        servers, backend_options = await start_backends(refs)
        serve_args = serve_namespace(
            [
                "--repo",
                str(remote),
                "--target",
                "local",
                "--listen",
                args.listen,
                "--proxy-listen",
                args.proxy_listen,
                "--state-dir",
                str(root / "state"),  # a new state folder every time
                "--poll-interval",
                "5",
                *(arg for option in backend_options for arg in ("--backend", option)),
            ]
        )
        serving = asyncio.create_task(serve_command.serve(serve_args, "", listen, proxy_listen, variables))
        stopped = asyncio.create_task(stop.wait())
        ready = asyncio.create_task(wait_until_applied(f"http://{args.listen}", serving))
        try:
            await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
            feature = ready.result() if ready.done() else None
            if feature is not None:
                print(instructions(f"http://{args.listen}", proxy_listen, feature, work, remote), flush=True)
            # serve owns SIGINT/SIGTERM once it runs and returns 0 on them; ``stop`` only fires
            # when a signal came before it took them over
            await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (ready, stopped, serving):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            for server in servers:
                server.close()
                await server.wait_closed()
        code = serving.result() if not serving.cancelled() else 0
    print("gitops-ingress demo: stopped.", file=sys.stderr, flush=True)
    return code


def run(args: argparse.Namespace, variables: Variables) -> int:
    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):  # serve replaces these once it runs
            loop.add_signal_handler(signum, stop.set)
        return await demo(args, stop, variables)

    return asyncio.run(main())
