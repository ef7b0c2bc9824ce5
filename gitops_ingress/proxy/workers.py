"""Processes and signals: ``--workers N`` and the SIGTERM drain.

One worker runs in the calling process. With N > 1 the parent forks N children and only
supervises: each child opens its *own* listening sockets with SO_REUSEPORT, so the kernel spreads
new connections over the children without a shared accept queue or a thundering herd, and a child
that is gone takes only its own queue with it. Fork, not spawn: the parent has no event loop and no
threads yet, and a spawned child would re-run ``python -m gitops_ingress`` as its main module.

Signals. In a worker, SIGTERM and SIGINT set a stop event: the listeners close, in-flight requests
get up to ``drain_timeout`` seconds (``ProxyServer.shutdown``), the worker exits 0. The parent
forwards SIGTERM/SIGINT to every child and exits 0 once all of them did. A child that dies on its
own makes the parent stop the others and exit 2: the pod (or systemd) restarts the whole set,
which is simpler to reason about than half a set restarting under one pod. A parent that dies
without forwarding anything (SIGKILL, the OOM killer) still stops its workers: on Linux each
worker asks the kernel for SIGTERM when its parent goes (prctl PR_SET_PDEATHSIG), so no worker
is left serving an old configuration on a port the next set wants.

TLS. The parent loads the certificates (``open_certificates``) before it forks, so every worker
starts with a copy of the same store and, in it, the same listener context: OpenSSL made that
context's session ticket keys when it was created, so a ticket one worker issued opens on every
other (proxy/tls.py says why reloads keep them). Each worker then watches the folder on its own.
An unusable TLS folder fails the command once, in the parent, before any worker starts.

Port 0 with several workers: the parent binds the port once (SO_REUSEPORT, not listening) to learn
a free number and keep it reserved until the children have bound it too.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
from dataclasses import replace
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from gitops_ingress.core.errors import ConfigError, GitopsIngressError
from gitops_ingress.proxy.app import Address, ProxyOptions, open_certificates, say, serve
from gitops_ingress.proxy.tls import CertificateStore

EXIT_OK = 0
EXIT_FAILURE = 2
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
SWITCH_INTERVAL = 0.0005  # seconds; see run_worker
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when installed (``proxy`` and ``serve`` run on it), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # optional off Linux: the standard loop works, only slower
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_worker(
    options: ProxyOptions, early_signals: list[int] | None = None, tls: CertificateStore | None = None
) -> int:
    """Serve in this process until SIGTERM or SIGINT, then drain and return 0. ``early_signals``
    holds stop signals that arrived before the event loop could take them over; ``tls`` is the
    certificate store the parent loaded before the fork."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
        if early_signals:
            stop.set()
        await serve(options, stop, tls=tls)

    # Route tables are built in a worker thread; with the default 5 ms switch interval such a
    # build makes the event loop wait up to 5 ms for the GIL after every system call (the convoy
    # effect), a tenfold loss of throughput during a reload. 0.5 ms bounds that wait.
    sys.setswitchinterval(SWITCH_INTERVAL)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main())
    return EXIT_OK


def _stop_with_parent(parent: int) -> bool:
    """Have the kernel send SIGTERM when the parent dies (Linux; elsewhere the parent's signal
    forwarding is all there is). True when the parent is gone already: nobody will send it."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            say(f"warning: prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}")
    return os.getppid() != parent


def _child(options: ProxyOptions, parent: int, tls: CertificateStore | None) -> None:
    early: list[int] = []
    for sig in STOP_SIGNALS:  # replace the parent's forwarding handlers inherited by fork
        signal.signal(sig, lambda signum, _frame: early.append(signum))
    if _stop_with_parent(parent):
        early.append(signal.SIGTERM)
    try:
        code = run_worker(options, early, tls)
    except GitopsIngressError as exc:
        say(f"error: {exc}")
        code = EXIT_FAILURE
    sys.stdout.flush()
    os._exit(code)  # no atexit handlers inherited from the parent


def _reserve(address: Address) -> tuple[Address, socket.socket | None]:
    """Pin port 0 to a concrete free port shared by all workers."""
    if address[1] != 0:
        return address, None
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return (address[0], sock.getsockname()[1]), sock


def run(options: ProxyOptions, workers: int) -> int:
    """Run ``workers`` worker processes (in this process when 1) until SIGTERM/SIGINT."""
    if workers < 1:
        raise ConfigError(f"--workers {workers}: must be at least 1")
    tls = open_certificates(options)  # before the fork: one set of ticket keys (module docstring)
    if workers == 1:
        return run_worker(options, tls=tls)
    reserved: list[socket.socket | None] = []
    listen, held = _reserve(options.listen)
    reserved.append(held)
    tls_listen = options.tls_address
    if tls_listen is not None:
        tls_listen, held = _reserve(tls_listen)
        reserved.append(held)
    admin = options.admin_listen
    if admin is not None:
        admin, held = _reserve(admin)
        reserved.append(held)
    shared = replace(options, listen=listen, tls_listen=tls_listen, admin_listen=admin, reuse_port=True)
    supervisor = _Supervisor(shared, workers, tls)
    previous = {sig: signal.signal(sig, supervisor.forward) for sig in STOP_SIGNALS}
    try:
        supervisor.start()
        for sock in reserved:
            if sock is not None:
                sock.close()
        return supervisor.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Supervisor:
    """The parent's view of its workers: start them, forward signals, wait for all of them."""

    def __init__(self, options: ProxyOptions, workers: int, tls: CertificateStore | None) -> None:
        context = multiprocessing.get_context("fork")  # fork: the children inherit ``tls`` as it is
        self.children: list[BaseProcess] = [
            context.Process(target=_child, args=(options, os.getpid(), tls), daemon=False) for _ in range(workers)
        ]
        self.stopping = False

    def start(self) -> None:
        for child in self.children:
            child.start()

    def forward(self, signum: int, _frame: FrameType | None = None) -> None:
        self.stopping = True
        for child in self.children:
            if child.pid is not None and child.exitcode is None:
                os.kill(child.pid, signum)

    def wait(self) -> int:
        """Until every child is gone; the first unexpected exit stops the others. 0 only when
        every child was asked to stop and exited 0."""
        failed = False
        running = list(self.children)
        while running:
            ready = wait([c.sentinel for c in running])
            for child in [c for c in running if c.sentinel in ready]:
                child.join()
                running.remove(child)
                failed = failed or child.exitcode != 0
                if not self.stopping:
                    say(f"worker {child.pid} exited with {child.exitcode}; stopping the others")
                    failed = True
                    self.forward(signal.SIGTERM)
        return EXIT_FAILURE if failed else EXIT_OK
