"""``gitops-ingress serve``: the control plane, and with the local target the proxy too.

    serve --repo URL|PATH [--target local|kubernetes] [--listen HOST:PORT]
          [--proxy-listen HOST:PORT] [--state-dir DIR] [--backend [NS/]SERVICE:PORT=URL ...]
          [--poll-interval SECONDS] [--webhook-secret-file FILE]

Everything runs on one asyncio loop: the engine (watcher, branch workers), uvicorn serving the web
app, and -- for the local target -- the proxy, fed straight from the local target's published
RoutingState through a SnapshotHolder (no socket hop between control plane and data plane in one
process; separate proxies can still follow ``/api/v1/proxy/stream``). Listening sockets are bound
before anything starts, so a busy port fails at once with a clear message. Signals are ours:
uvicorn's own handlers are switched off so SIGTERM/SIGINT stop the web server, drain the proxy and
stop the engine in that order, and the command exits 0.

Settings: defaults, then ``gitops-ingress.yaml`` from the stable branch's head, then
``GITOPS_INGRESS_*`` variables, then options. They are read once at start; a change to the file
on the stable branch takes effect at the next start (documented in the note).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import uvicorn

from gitops_ingress.cli import add_routing_options, log_to_stderr
from gitops_ingress.cli.sources import settings_from
from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.errors import ConfigError, SourceError, UsageError
from gitops_ingress.core.settings import SETTINGS_FILE, Settings
from gitops_ingress.gitrepo import Mirror
from gitops_ingress.kube import KubeOptions, KubernetesTarget, LeaderElector, connect
from gitops_ingress.proxy.app import listen_socket, parse_address
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.metrics import ProxyMetrics
from gitops_ingress.proxy.server import ProxyServer
from gitops_ingress.proxy.snapshot import Snapshot, SnapshotHolder
from gitops_ingress.proxy.workers import new_event_loop
from gitops_ingress.sync import Engine, EngineOptions, LocalTarget, Store
from gitops_ingress.web.app import create_app
from gitops_ingress.web.options import WebOptions
from gitops_ingress.web.webhooks import ENDPOINTS

log = logging.getLogger("gitops_ingress.serve")
DRAIN_TIMEOUT = 10.0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the control plane: watch a config repository and serve stable and preview routes",
        description="Watch a config repository's branches, validate and apply them; with the local target also run the proxy.",
    )
    parser.add_argument("--repo", required=True, metavar="URL|PATH", help="the config repository to mirror")
    parser.add_argument(
        "--target",
        choices=("local", "kubernetes"),
        default="local",
        help="where branches are applied (default: local, the embedded proxy)",
    )
    parser.add_argument(
        "--listen",
        default="127.0.0.1:8000",
        metavar="HOST:PORT",
        help="API, dashboard and webhooks (default 127.0.0.1:8000)",
    )
    parser.add_argument(
        "--proxy-listen",
        default="127.0.0.1:8080",
        metavar="HOST:PORT",
        help="the proxy, local target only (default 127.0.0.1:8080)",
    )
    parser.add_argument(
        "--state-dir",
        default=".gitops-ingress",
        metavar="DIR",
        help="mirror and state database (default ./.gitops-ingress)",
    )
    parser.add_argument("--poll-interval", type=float, metavar="SECONDS", help="polling fallback (default 60)")
    parser.add_argument(
        "--webhook-secret-file",
        metavar="FILE",
        help="secret (GitHub/Gitea HMAC key, GitLab and generic token) for every webhook endpoint",
    )
    add_routing_options(parser)
    add_kubernetes_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    log_to_stderr()
    if args.poll_interval is not None and args.poll_interval <= 0:
        raise UsageError(f"--poll-interval {args.poll_interval:g}: must be positive")
    secret = read_secret(args.webhook_secret_file)
    listen = parse_address(args.listen, "--listen")
    proxy_listen = parse_address(args.proxy_listen, "--proxy-listen")
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(serve(args, secret, listen, proxy_listen))


def read_secret(path: str | None) -> str:
    if path is None:
        return ""
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--webhook-secret-file {path}: cannot read it: {exc}") from exc
    if not secret:
        raise ConfigError(f"--webhook-secret-file {path}: the file is empty")
    return secret


def load_settings(mirror: Mirror, overrides: dict[str, Any]) -> Settings:
    """Settings with the stable branch's ``gitops-ingress.yaml`` (if the mirror has it)."""
    base = Settings.build(None, os.environ, overrides)
    head = mirror.branches().get(base.stable_branch)
    raw = mirror.read_file(head, SETTINGS_FILE) if head else None
    settings, findings = settings_from(raw, SETTINGS_FILE, overrides)
    for finding in findings:
        log.warning("%s; using the defaults for it", finding.one_line(hint=False))
    return settings


def web_options(repo: str) -> WebOptions:
    """Dashboard options from ``GITOPS_INGRESS_WEB_*``; findings link to the repository's forge."""
    options = WebOptions.from_environ(os.environ)
    return options if options.repo_url else dataclasses.replace(options, repo_url=repo)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: ``serve`` owns SIGTERM/SIGINT for every part."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


async def serve(args: argparse.Namespace, secret: str, listen: tuple[str, int], proxy_listen: tuple[str, int]) -> int:
    api_socket = listen_socket(listen, False, "--listen")
    proxy_socket = listen_socket(proxy_listen, False, "--proxy-listen") if args.target == "local" else None
    state_dir = Path(args.state_dir)
    mirror = Mirror(args.repo, state_dir / "mirror.git")
    await asyncio.to_thread(mirror.ensure)
    try:
        await asyncio.to_thread(mirror.fetch)
    except SourceError as exc:
        log.warning("cannot fetch %s yet (%s); starting from the local mirror and retrying", mirror.remote, exc)
    overrides: dict[str, Any] = {}
    if args.poll_interval is not None:
        overrides["poll_interval"] = args.poll_interval
    if args.preview_domain:
        overrides["preview_domain"] = args.preview_domain
    settings = await asyncio.to_thread(load_settings, mirror, overrides)
    backends = BackendMap.from_options(args.backend, settings.backends)
    proxy_port = proxy_socket.getsockname()[1] if proxy_socket is not None else None
    proxy: ProxyServer | None = None
    elector: LeaderElector | None = None
    target: KubernetesTarget | LocalTarget
    if args.target == "kubernetes":
        target, elector = kubernetes_target(args, settings)
    else:
        local = target = LocalTarget(settings.stable_branch, settings.preview_domain)
        holder = SnapshotHolder(Snapshot.from_backend_map(local.state, backends, "serve"))
        local.subscribe(lambda state: holder.swap(Snapshot.from_backend_map(state, backends, "serve")))
        proxy = ProxyServer(ProxySettings(preview_domain=settings.preview_domain), holder, ProxyMetrics())
    store = Store(state_dir / "state.db")
    engine = Engine(mirror, target, settings, store, options=EngineOptions(preview_port=proxy_port))
    app = create_app(
        engine,
        engine,
        webhook_secrets=dict.fromkeys(ENDPOINTS, secret),
        backends=backends,
        metrics=engine.metrics.registry,
        web_options=web_options(args.repo),
    )
    web = _Uvicorn(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        leader_task = asyncio.create_task(elector.run()) if elector is not None else None
        await engine.start()
        web_task = asyncio.create_task(web.serve(sockets=[api_socket]))
        api_port = api_socket.getsockname()[1]
        if proxy is not None and proxy_socket is not None:
            await proxy.start([proxy_socket])
            print(
                f"gitops-ingress serve: api http://{listen[0]}:{api_port} proxy http://{proxy_listen[0]}:{proxy_port}"
                f" previews http://<branch>--<host>.{settings.preview_domain}:{proxy_port}",
                file=sys.stderr,
                flush=True,
            )
        else:
            print(
                f"gitops-ingress serve: api http://{listen[0]}:{api_port} target kubernetes",
                file=sys.stderr,
                flush=True,
            )
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({web_task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        web.should_exit = True
        await web_task
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if proxy is not None:
            await proxy.shutdown(DRAIN_TIMEOUT)
        await engine.stop()
        if leader_task is not None:
            leader_task.cancel()
            await asyncio.gather(leader_task, return_exceptions=True)  # releases the lease
        store.close()
        mirror.close()
        api_socket.close()
    return 0


# -- the kubernetes target (issue 5) -------------------------------------------------------------


def add_kubernetes_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("kubernetes target")
    group.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig (default: KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    group.add_argument(
        "--preview-tls-secret",
        default="",
        metavar="NS/NAME",
        help="the wildcard certificate's Secret for preview hosts",
    )
    group.add_argument(
        "--force-conflicts",
        action="store_true",
        help="take over fields another field manager owns (default: report the conflict)",
    )
    group.add_argument(
        "--lease-namespace",
        default=os.environ.get("POD_NAMESPACE", "default"),
        metavar="NS",
        help="namespace of the leader-election Lease (default: $POD_NAMESPACE, else default)",
    )
    group.add_argument(
        "--no-leader-election",
        dest="leader_election",
        action="store_false",
        help="write without electing a leader (a single replica)",
    )


def kubernetes_target(args: argparse.Namespace, settings: Settings) -> tuple[KubernetesTarget, LeaderElector | None]:
    """The kubernetes target and, unless switched off, the elector that gates its writes."""
    options = KubeOptions(
        kubeconfig=args.kubeconfig,
        preview_tls_secret=args.preview_tls_secret,
        force_conflicts=args.force_conflicts,
        lease_namespace=args.lease_namespace,
        identity=os.environ.get("POD_NAME", ""),
    )
    api = connect(options)
    if not args.leader_election:
        return KubernetesTarget(api, settings, options), None
    elector = LeaderElector(api, options)
    target = KubernetesTarget(api, settings, options, is_leader=elector.is_leader)
    elector.on_started = target.resync
    return target, elector
