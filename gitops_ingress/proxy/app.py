"""One proxy worker, wired: route source -> snapshot holder -> ProxyServer, plus TLS and admin.

``ProxyOptions`` is everything the command line decided, as one frozen, picklable object, so that
``workers.py`` can hand the same value to every worker process. ``serve`` runs one worker on the
running event loop until ``stop`` is set, then drains. Nothing here parses options or handles
signals (the CLI and ``workers.py`` do); nothing here touches requests (``server.py`` does).

Start-up order matters for the promises the proxy makes: a file source is loaded *before* the
listeners open, so a proxy with broken files fails at once with the findings instead of serving
404s, and a proxy that is listening from files is already ready. The control-plane source starts
after the listeners; ``/readyz`` says 503 until its first state arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.errors import ConfigError, GitopsIngressError, SourceError
from gitops_ingress.core.previewkeys import PreviewKeyPolicy
from gitops_ingress.core.settings import Settings
from gitops_ingress.proxy import BUILD
from gitops_ingress.proxy.accesslog import AccessLog
from gitops_ingress.proxy.admin import AdminServer
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.heap import HeapFreezer
from gitops_ingress.proxy.metrics import ProxyMetrics
from gitops_ingress.proxy.server import ProxyServer
from gitops_ingress.proxy.snapshot import Snapshot, SnapshotHolder
from gitops_ingress.proxy.sources import RouteSource
from gitops_ingress.proxy.tls import CertificateStore

log = logging.getLogger("gitops_ingress.proxy")

Address = tuple[str, int]
DEFAULT_TLS_PORT = 8443


@dataclass(frozen=True)
class OptionNames:
    """The command-line options the addresses came from, for errors (``serve`` names its own)."""

    listen: str = "--listen"
    tls_listen: str = "--tls-listen"
    admin_listen: str = "--admin-listen"


@dataclass(frozen=True)
class ProxyOptions:
    listen: Address
    proxy: ProxySettings = field(default_factory=ProxySettings)
    settings: Settings = field(default_factory=Settings)
    ingress_dirs: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    controller: str | None = None
    kubernetes: bool = False  # watch the cluster (proxy/sources/kubernetes.py)
    publish_address: str = ""  # --kubernetes: the address written to each Ingress's status
    publish_service: str = ""  # --kubernetes: NS/NAME of the LoadBalancer Service whose address to publish
    tls_dir: str | None = None
    secret_dir: str | None = None  # Secrets of auth-type: basic routes, for --ingress-dir (proxy/secrets.py)
    tls_listen: Address | None = None
    https_redirect: bool = False
    admin_listen: Address | None = None
    reuse_port: bool = False  # set by workers.py when several processes share the ports
    reload_interval: float = 1.0  # seconds between file and certificate scans
    names: OptionNames = field(default_factory=OptionNames)

    @property
    def tls_address(self) -> Address | None:
        """Where HTTPS is served: ``tls_listen``, else port 8443 on the ``listen`` host."""
        if self.tls_dir is None:
            return None
        return self.tls_listen or (self.listen[0], DEFAULT_TLS_PORT)


def parse_address(text: str, option: str) -> Address:
    """``HOST:PORT`` or ``[V6]:PORT`` -> (host, port); ConfigError names the option."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{option} {text!r}: expected HOST:PORT")
    return host, int(port)


def listen_socket(address: Address, reuse_port: bool, option: str = "--listen") -> socket.socket:
    """A bound, listening, non-blocking TCP socket; SO_REUSEPORT so workers share the port."""
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"{option} {host}:{port}: cannot listen: {exc.strerror or exc}") from exc
    return sock


def make_source(options: ProxyOptions) -> tuple[RouteSource, Callable[[], Snapshot] | None]:
    """The route source the options name, and for files the load to run before listening.
    Each source's module is imported only when chosen: the Kubernetes client and the Ingress
    build (YAML, validation, kustomize) are most of a worker's memory at start, and a worker
    following the control plane uses neither (docs/proxy.md, "Performance")."""
    if options.kubernetes:
        if options.ingress_dirs:
            raise ConfigError("--kubernetes and --ingress-dir are alternatives: give one")
        from gitops_ingress.proxy.sources.kubernetes import KubernetesSource

        watched = KubernetesSource(
            options.settings,
            tls_dir=options.tls_dir,
            status_address=options.publish_address,
            publish_service=options.publish_service,
        )
        return watched, None
    if options.controller and options.ingress_dirs:
        raise ConfigError("--controller and --ingress-dir are alternatives: give one")
    if options.controller:
        from gitops_ingress.proxy.sources.controller import ControllerSource

        return ControllerSource(
            options.controller, secret_dir=Path(options.secret_dir) if options.secret_dir else None
        ), None
    if not options.ingress_dirs:
        raise ConfigError("give --ingress-dir DIR (with --backend) or --controller URL")
    from gitops_ingress.proxy.sources.files import FileSource

    backends = BackendMap.from_options(options.backends, options.settings.backends)
    files = FileSource(
        [Path(d) for d in options.ingress_dirs],
        backends,
        options.settings,
        interval=options.reload_interval,
        secret_dir=Path(options.secret_dir) if options.secret_dir else None,
    )
    return files, files.load


class Listeners(NamedTuple):
    """A worker's bound, listening sockets: plain HTTP, HTTPS (with TLS) and admin (if asked)."""

    plain: socket.socket
    secure: socket.socket | None
    admin: socket.socket | None

    def close(self) -> None:
        for sock in self:
            if sock is not None:
                sock.close()


def bind_listeners(options: ProxyOptions) -> Listeners:
    """Every listener the options ask for, bound; ConfigError names the option of a busy port."""
    names = options.names
    plain = listen_socket(options.listen, options.reuse_port, names.listen)
    bound = Listeners(plain, None, None)
    try:
        if options.tls_address is not None:
            bound = bound._replace(secure=listen_socket(options.tls_address, options.reuse_port, names.tls_listen))
        if options.admin_listen is not None:
            bound = bound._replace(admin=listen_socket(options.admin_listen, options.reuse_port, names.admin_listen))
    except ConfigError:
        bound.close()
        raise
    return bound


def say(text: str) -> None:
    """One status line on stderr, in one write: worker processes share the pipe, and ``print``
    writes the text and its newline separately, so two workers' lines could interleave."""
    sys.stderr.write(f"gitops-ingress proxy: {text}\n")
    sys.stderr.flush()


def _url(scheme: str, address: Address) -> str:
    host = f"[{address[0]}]" if ":" in address[0] else address[0]
    return f"{scheme}://{host}:{address[1]}"


def open_certificates(options: ProxyOptions) -> CertificateStore | None:
    """The ``--tls-dir`` certificates, loaded; None without TLS. ``workers.py`` calls it before
    the fork, so that every worker serves with the same session ticket keys (proxy/tls.py)."""
    return CertificateStore(options.tls_dir) if options.tls_dir else None


class Worker:
    """The parts of one running worker; ``serve`` builds one, tests may drive it directly.
    ``source`` replaces the one the options name and ``listeners`` are sockets bound already
    (``bind_listeners``): ``gitops-ingress serve`` binds before it starts anything else and passes
    its engine's in-process source. ``tls`` is a store loaded already (``open_certificates``,
    before the fork). The worker owns the listeners it is given."""

    def __init__(
        self,
        options: ProxyOptions,
        access_stream: IO[str] | None = None,
        source: RouteSource | None = None,
        listeners: Listeners | None = None,
        tls: CertificateStore | None = None,
    ) -> None:
        self.options = options
        self.holder = SnapshotHolder()
        self.metrics = ProxyMetrics(build=BUILD.kind)
        self.metrics.follow(self.holder)
        self.freezer = HeapFreezer()  # the heap out of the collector after swaps (proxy/heap.py)
        self.holder.subscribe(self.freezer)
        self.source, self._first_load = (source, None) if source is not None else make_source(options)
        self.tls = tls if tls is not None else open_certificates(options)
        stream = access_stream if access_stream is not None else sys.stdout
        proxy = options.proxy
        self.access_log = (
            AccessLog(stream, proxy.access_log_flush, proxy.access_log_buffer) if proxy.access_log else None
        )
        self.server = ProxyServer(
            options.proxy, self.holder, self.metrics, self.access_log, PreviewKeyPolicy.from_settings(options.settings)
        )
        self.admin = AdminServer(self.holder, self.metrics, lambda: self.server.state.shutting_down)
        self.urls: list[str] = []
        self.failure: BaseException | None = None  # a background task that died (source, TLS watch)
        self.failed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listeners = listeners

    async def start(self) -> None:
        options = self.options
        if self._first_load is not None:  # files: loaded before the listeners open (module docstring)
            self.holder.swap(await asyncio.to_thread(self._first_load))
        if self._listeners is None:
            self._listeners = bind_listeners(options)
        plain, secure, admin = self._listeners
        redirect = self.tls.has_tls if (self.tls is not None and options.https_redirect) else None
        with_header = self.server.settings.proxy_protocol  # listeners behind a PROXY protocol balancer
        await self.server.start([plain], tls_redirect_hosts=redirect, proxy_protocol="plain" in with_header)
        self.urls.append(_url("http", plain.getsockname()[:2]))
        if self.tls is not None and secure is not None:
            await self.server.start([secure], self.tls.server_context, proxy_protocol="tls" in with_header)
            self.urls.append(_url("https", secure.getsockname()[:2]))
            self._spawn(self.tls.watch(options.reload_interval))
        if admin is not None:
            await self.admin.start(admin)
            self.urls.append(_url("http", admin.getsockname()[:2]) + " (admin)")
        self._spawn(self.source.run(self.holder.swap))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        task.add_done_callback(self._on_task_done)
        self._tasks.append(task)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """A route source or watcher that dies is fatal: serving on without it would mean stale
        routes forever with nothing but a log line to show for it."""
        if task.cancelled() or task.exception() is None or self.failure is not None:
            return
        self.failure = task.exception()
        log.error("proxy: background task failed: %r", self.failure)
        self.failed.set()

    async def stop(self, on_draining: Callable[[], None] | None = None) -> None:
        """Stop accepting, drain in-flight requests up to the drain timeout, release the rest.
        ``on_draining`` is called once the listeners are closed and the drain has begun."""
        shutdown = asyncio.create_task(self.server.shutdown(self.options.proxy.drain_timeout))
        # One turn of the loop: shutdown closes the listeners before its first await.
        await asyncio.sleep(0)
        if on_draining is not None:
            on_draining()
        await shutdown
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task])  # its failure, if any, is in self.failure
        self.freezer.close()
        await self.admin.close()
        if self._listeners is not None:
            self._listeners.close()  # those never started (closing twice is harmless)
        if self.access_log is not None:
            self.access_log.flush()


async def serve(
    options: ProxyOptions,
    stop: asyncio.Event,
    on_ready: Callable[[Worker], None] | None = None,
    access_stream: IO[str] | None = None,
    tls: CertificateStore | None = None,
) -> None:
    """Run one worker until ``stop`` is set, then drain and return. A background task that died
    also stops the worker, after the drain, with its error (SourceError unless it is ours).
    ``tls``: the certificates loaded before the fork (``open_certificates``), else loaded here."""
    worker = Worker(options, access_stream, tls=tls)
    try:
        await worker.start()
        if on_ready is not None:
            on_ready(worker)
        else:
            urls = ", ".join(worker.urls)
            say(f"worker {os.getpid()} request path: {BUILD.kind} ({BUILD.reason})")
            say(f"worker {os.getpid()} serving {urls}")
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(worker.failed.wait())]
        _done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()
    finally:
        await worker.stop(lambda: say(f"worker {os.getpid()} draining"))
    if isinstance(worker.failure, GitopsIngressError):
        raise worker.failure
    if worker.failure is not None:
        raise SourceError(f"route source failed: {type(worker.failure).__name__}: {worker.failure}") from worker.failure
