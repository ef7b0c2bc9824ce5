"""``gitops-ingress serve``: the control plane, and with the local target the proxy too.

    serve --repo URL|PATH [--target local|kubernetes] [--listen HOST:PORT]
          [--proxy-listen HOST:PORT] [--proxy-admin-listen HOST:PORT] [--state-dir DIR]
          [--backend [NS/]SERVICE:PORT=URL ...] [--poll-interval SECONDS] [--webhook-secret-file FILE]
          [--rebuild-state]

Everything runs on one asyncio loop: the engine (watcher, branch workers), uvicorn serving the web
app, and -- for the local target -- the proxy. The proxy is the same worker ``gitops-ingress
proxy`` runs (``proxy/app.py``: listeners, admin port with /metrics, /healthz and /readyz,
drain), with an in-process route source subscribed to the engine's one routing state: no socket
hop between control plane and data plane in one process; separate proxies can still follow
``/api/v1/proxy/stream``. Listening sockets are bound before anything starts, so a busy port
fails at once with a clear message. Signals are ours: uvicorn's own handlers are switched off so
SIGTERM/SIGINT stop the web server, drain the proxy and stop the engine in that order, and the
command exits 0.

The state database is checked before the mirror is touched (sync/statefile.py): a missing (once a
mirror exists), empty or corrupt one exits 2 naming the file, unless ``--rebuild-state`` asks to
set it aside and validate every branch head again.

Settings: defaults, then ``gitops-ingress.yaml`` from the stable branch's head, then
``GITOPS_INGRESS_*`` variables, then options. They are read once at start, from the mirror as
last fetched (only a first start, with an empty mirror, fetches before it reads): a restart never
waits on the remote, so a change pushed while ``serve`` was down takes effect one start later.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import uvicorn

from gitops_ingress.cli import add_routing_options, log_to_stderr
from gitops_ingress.cli.sources import settings_from
from gitops_ingress.cli.variables import Variables
from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.errors import ConfigError, SourceError, UsageError
from gitops_ingress.core.settings import SETTINGS_FILE, Settings
from gitops_ingress.gitrepo import Mirror
from gitops_ingress.kube import KubeOptions, KubernetesTarget, LeaderElector, connect
from gitops_ingress.proxy.accesslog import DictLog
from gitops_ingress.proxy.app import (
    Address,
    Listeners,
    OptionNames,
    ProxyOptions,
    Worker,
    bind_listeners,
    listen_socket,
    parse_address,
)
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.sources.inprocess import InProcessSource
from gitops_ingress.proxy.workers import new_event_loop
from gitops_ingress.sync import Engine, EngineOptions, LocalTarget, Store, statefile
from gitops_ingress.web.app import create_app
from gitops_ingress.web.forgenotify import ForgeNotifier
from gitops_ingress.web.options import WebOptions
from gitops_ingress.web.webhooks import ENDPOINTS

log = logging.getLogger("gitops_ingress.serve")
DRAIN_TIMEOUT = 10.0
PROXY_OPTION_NAMES = OptionNames(listen="--proxy-listen", admin_listen="--proxy-admin-listen")


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
        "--proxy-admin-listen",
        metavar="HOST:PORT",
        help="the proxy's admin port: /metrics, /healthz and /readyz, local target only (default: off)",
    )
    parser.add_argument(
        "--h2c",
        action="store_true",
        help="the proxy also speaks HTTP/2 with prior knowledge on its plain listener (default: off)",
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
    parser.add_argument(
        "--rebuild-state",
        action="store_true",
        help="set a missing, empty or corrupt state database aside and start a new one: every branch head"
        " is validated again and only what passes is served (a refused head then has no routes)",
    )
    add_routing_options(parser)
    add_kubernetes_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, variables: Variables) -> int:
    log_to_stderr()
    if args.poll_interval is not None and args.poll_interval <= 0:
        raise UsageError(f"--poll-interval {args.poll_interval:g}: must be positive")
    secret = read_secret(args.webhook_secret_file)
    listen = parse_address(args.listen, "--listen")
    proxy_listen = parse_address(args.proxy_listen, "--proxy-listen")
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(serve(args, secret, listen, proxy_listen, variables))


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


def load_settings(mirror: Mirror, variables: Variables, overrides: dict[str, Any]) -> Settings:
    """Settings with the stable branch's ``gitops-ingress.yaml`` (if the mirror has it)."""
    base = Settings.build(None, variables.repository_layer(), overrides)
    head = mirror.branches().get(base.stable_branch)
    raw = mirror.read_file(head, SETTINGS_FILE) if head else None
    settings, findings = settings_from(raw, variables, SETTINGS_FILE, overrides)
    for finding in findings:
        log.warning("%s; using the defaults for it", finding.one_line(hint=False))
    return settings


def web_options(repo: str, variables: Variables, proxy_url: str = "") -> WebOptions:
    """Dashboard options from ``GITOPS_INGRESS_WEB_*``; findings link to the repository's forge,
    and the search page tries requests on ``proxy_url`` (the embedded proxy)."""
    options = variables.web.options(proxy_url=proxy_url)
    return options if options.repo_url else dataclasses.replace(options, repo_url=repo)


def _loopback_url(host: str, port: int | None) -> str:
    """How this process reaches its own proxy: over loopback when it listens on every address."""
    if port is None:
        return ""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1" if host != "::" else "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: ``serve`` owns SIGTERM/SIGINT for every part."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


def proxy_options(settings: Settings, proxy_listen: Address, admin: Address | None, h2c: bool = False) -> ProxyOptions:
    """The embedded proxy's options: what ``gitops-ingress proxy`` takes, from serve's own."""
    return ProxyOptions(
        listen=proxy_listen,
        proxy=ProxySettings(preview_domain=settings.preview_domain, drain_timeout=DRAIN_TIMEOUT, h2c=h2c),
        settings=settings,
        admin_listen=admin,
        names=PROXY_OPTION_NAMES,
    )


async def serve(
    args: argparse.Namespace, secret: str, listen: Address, proxy_listen: Address, variables: Variables
) -> int:
    admin = parse_address(args.proxy_admin_listen, "--proxy-admin-listen") if args.proxy_admin_listen else None
    api_socket = listen_socket(listen, False, "--listen")
    listeners: Listeners | None = None  # the embedded proxy's, bound before anything starts
    if args.target == "local":
        listeners = bind_listeners(ProxyOptions(proxy_listen, admin_listen=admin, names=PROXY_OPTION_NAMES))
    state_dir = Path(args.state_dir)
    state_db, mirror_dir = state_dir / "state.db", state_dir / "mirror.git"
    rebuilt = await asyncio.to_thread(
        statefile.prepare, state_db, first_start=not mirror_dir.exists(), rebuild=args.rebuild_state
    )
    if rebuilt is not None:
        log.warning("%s", rebuilt)
    mirror = Mirror(args.repo, mirror_dir)
    await asyncio.to_thread(mirror.ensure)
    if not await asyncio.to_thread(mirror.branches):
        # a first start: nothing stored to serve, and the settings file is on the stable branch.
        # Later starts serve what the mirror and the store hold at once; the engine fetches in
        # the background (a hanging remote held up the API and the proxy for two fetch timeouts).
        try:
            await asyncio.to_thread(mirror.fetch)
        except SourceError as exc:
            log.warning("cannot fetch %s yet (%s); starting from the local mirror and retrying", mirror.remote, exc)
    overrides: dict[str, Any] = {}
    if args.poll_interval is not None:
        overrides["poll_interval"] = args.poll_interval
    if args.preview_domain:
        overrides["preview_domain"] = args.preview_domain
    settings = await asyncio.to_thread(load_settings, mirror, variables, overrides)
    backends = BackendMap.from_options(args.backend, settings.backends)
    secret_dir = Path(args.secret_dir) if args.secret_dir else None
    lead: Callable[[], Coroutine[Any, Any, None]] | None = None  # leader election, for the kubernetes target
    target: KubernetesTarget | LocalTarget
    options: ProxyOptions | None = None
    if args.target == "kubernetes":
        target, elector = kubernetes_target(args, settings)
        if elector is not None:
            lead = functools.partial(elector.run, on_started=target.resync)
    else:
        target = LocalTarget()
        options = proxy_options(settings, proxy_listen, admin, args.h2c)
    proxy_port = listeners.plain.getsockname()[1] if listeners is not None else None
    store = Store(state_db, settings.retention)
    # one JSON line per sync result on stderr, written as the proxy writes its access log
    sync_log = DictLog(sys.stderr)
    engine = Engine(mirror, target, settings, store, options=EngineOptions(preview_port=proxy_port), sync_log=sync_log)
    proxy = (
        Worker(options, source=InProcessSource(engine, backends, secret_dir), listeners=listeners)
        if options is not None
        else None
    )
    dashboard = web_options(args.repo, variables, proxy_url=_loopback_url(proxy_listen[0], proxy_port))
    app = create_app(
        engine,
        engine,
        webhook_secrets=dict.fromkeys(ENDPOINTS, secret),
        backends=backends,
        metrics=engine.metrics.registry,
        web_options=dashboard,
        # the embedded proxy reaches exactly the backend map; a cluster's endpoints are the
        # proxies' business, so the kubernetes target marks nothing
        endpoints=backends.serves if proxy is not None else None,
    )
    web = _Uvicorn(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    leader_task: asyncio.Task[None] | None = None
    forge_task: asyncio.Task[None] | None = None
    try:
        if lead is not None:
            leader_task = asyncio.create_task(lead())
        if dashboard.forge.enabled:  # statuses and deployments as previews come and go
            forge_task = asyncio.create_task(ForgeNotifier(engine, dashboard).run())
        await engine.start()
        web_task = asyncio.create_task(web.serve(sockets=[api_socket]))
        api = f"api http://{listen[0]}:{api_socket.getsockname()[1]}"
        waits = {web_task, asyncio.create_task(stop.wait())}
        if proxy is not None:
            await proxy.start()
            waits.add(asyncio.create_task(proxy.failed.wait()))
            say_serving(api, proxy, settings.preview_domain)
        else:
            print(f"gitops-ingress serve: {api} target kubernetes", file=sys.stderr, flush=True)
        _done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending - {web_task}:
            waiter.cancel()
        web.should_exit = True
        await web_task
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if proxy is not None:
            await proxy.stop()
        elif listeners is not None:
            listeners.close()
        if forge_task is not None:
            forge_task.cancel()
            await asyncio.gather(forge_task, return_exceptions=True)
        await engine.stop()
        sync_log.flush()
        if leader_task is not None:
            leader_task.cancel()
            await asyncio.gather(leader_task, return_exceptions=True)  # releases the lease
        store.close()
        mirror.close()
        api_socket.close()
    if proxy is not None and proxy.failure is not None:
        raise SourceError(f"embedded proxy failed: {type(proxy.failure).__name__}: {proxy.failure}") from proxy.failure
    return 0


def say_serving(api: str, proxy: Worker, preview_domain: str) -> None:
    """The ready line: the API, the proxy's URLs (the admin port's too) and the preview pattern."""
    plain, *others = proxy.urls
    port = plain.rpartition(":")[2]
    extra = "".join(f" {url.removesuffix(' (admin)')}" for url in others if url.endswith("(admin)"))
    print(
        f"gitops-ingress serve: {api} proxy {plain} previews http://<branch>--<host>.{preview_domain}:{port}"
        + (f" admin{extra}" if extra else ""),
        file=sys.stderr,
        flush=True,
    )


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
    return KubernetesTarget(api, settings, options, is_leader=elector.is_leader, leader=elector.leader), elector
