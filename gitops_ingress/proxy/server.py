"""ProxyServer: listening sockets in, client connections out, and a graceful drain on shutdown.

Modelled on uvicorn's Server/ServerState split: ``ServerState`` is the one mutable object every
connection shares (open connections, requests in flight, the running total), so that shutdown can
stop the listeners, close idle keep-alive connections (and lingering ones, proxy/linger.py) at
once, let busy ones finish their current response and then close, and wait on an event (set when
the last connection goes) rather than polling. Everything a connection needs is gathered once in
a ``ConnectionContext`` per listener, so the per-connection constructor copies a handful of
references and nothing more.

Signals and worker processes are not handled here (proxy/workers.py owns them); ``shutdown`` is
the one call they make.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from gitops_ingress.core.previewkeys import PreviewKeyPolicy
from gitops_ingress.proxy.accesslog import AccessRecord
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.forwarded import ListenerForwarding, TrustedProxies
from gitops_ingress.proxy.forwarding import RequestIds
from gitops_ingress.proxy.httpdate import HttpDate
from gitops_ingress.proxy.observe import ProxyObserver
from gitops_ingress.proxy.pool import UpstreamPool
from gitops_ingress.proxy.proxyheader import PreambleListener
from gitops_ingress.proxy.quietlog import QuietLog
from gitops_ingress.proxy.ratelimit import ClientLimiter
from gitops_ingress.proxy.repeats import RequestHeads
from gitops_ingress.proxy.routecache import RouteCache
from gitops_ingress.proxy.snapshot import SnapshotHolder
from gitops_ingress.proxy.tlsconn import listener_protocol

AccessHook = Callable[[AccessRecord], None]


class OpenConnection(Protocol):
    """What shutdown needs of a client connection: HTTP/1.1 (protocol.py), HTTP/2 (h2conn.py), or
    one in its lingering close (linger.py)."""

    def shutdown(self) -> None:
        """Close now when idle, else after the answers under way."""

    def abort(self) -> None: ...


@dataclass(slots=True)
class ServerState:
    """Shared by every connection of one ProxyServer (one event loop, so no locks)."""

    connections: set[OpenConnection] = field(default_factory=set)
    in_flight: int = 0  # requests whose response has not been fully written
    total_requests: int = 0
    shutting_down: bool = False
    # what until_idle waits on (shutdown, tests); empty when nobody waits, so that a connection's
    # open and close touch nothing else (an Event set and cleared per connection cost more)
    idle_waiters: list[asyncio.Future[None]] = field(default_factory=list)
    request_ids: RequestIds = field(default_factory=RequestIds)
    routes: RouteCache = field(default_factory=RouteCache)  # per snapshot; see proxy/routecache.py
    request_heads: RequestHeads = field(default_factory=RequestHeads)  # see proxy/repeats.py
    canary_draws: random.Random = field(default_factory=random.Random)  # canary-weight (proxy/annotated.py)
    limiter: ClientLimiter = field(default_factory=ClientLimiter)  # limit-rps/-rpm/-connections (annotated.py)
    date: HttpDate = field(default_factory=HttpDate)  # the Date line of this second

    def opened(self, conn: OpenConnection) -> None:
        self.connections.add(conn)

    def closed(self, conn: OpenConnection) -> None:
        self.connections.discard(conn)
        if not self.connections and self.idle_waiters:
            for waiter in self.idle_waiters:
                if not waiter.done():  # not cancelled by a wait_for that gave up
                    waiter.set_result(None)
            self.idle_waiters.clear()

    async def until_idle(self) -> None:
        """Returns once no connection is open (at once when none is)."""
        if self.connections:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.idle_waiters.append(waiter)
            await waiter


@dataclass(frozen=True, slots=True)
class ConnectionContext:
    """What one listener's connections share: built once per listener, read on every request."""

    settings: ProxySettings
    holder: SnapshotHolder
    observer: ProxyObserver
    state: ServerState
    pool: UpstreamPool
    on_access: AccessHook | None
    listener: ListenerForwarding  # the forwarded headers of this listener (proxy/forwarded.py)
    tls_redirect_hosts: Callable[[str], bool] | None  # plain listeners only
    preview_keys: PreviewKeyPolicy  # who may use routing keys (proxy/routingkey.py)
    warnings: QuietLog  # warnings a flood would repeat, once per key per interval (proxy/quietlog.py)
    next_request_wait: float  # min(idle, header timeout): armed after each response
    alpn: bool = False  # a TLS listener: a connection that negotiated h2 is handed to h2conn.py


class ProxyServer:
    """Serves the current snapshot of ``holder`` on the sockets given to ``start``.

    ``start`` may be called more than once (a plain and a TLS listener, say); ``shutdown`` stops
    all of them.
    """

    def __init__(
        self,
        settings: ProxySettings,
        holder: SnapshotHolder,
        observer: ProxyObserver,
        on_access: AccessHook | None = None,
        preview_keys: PreviewKeyPolicy | None = None,
    ) -> None:
        self.settings = settings.validated()
        self.preview_keys = preview_keys or PreviewKeyPolicy()
        self.holder = holder
        self.observer = observer
        self.on_access = on_access if settings.access_log else None
        self.state = ServerState(
            canary_draws=random.Random(self.settings.canary_seed), limiter=ClientLimiter(self.settings.limit_clients)
        )
        self.pool = UpstreamPool(self.settings, observer)
        self.trusted = TrustedProxies(self.settings.trusted_proxies)  # shared by the listeners
        self.warnings = QuietLog(logging.getLogger("gitops_ingress.proxy"), self.settings.warning_interval)
        self._servers: list[asyncio.Server | PreambleListener] = []

    async def start(
        self,
        sockets: list[socket.socket],
        ssl_context: ssl.SSLContext | None = None,
        *,
        tls_redirect_hosts: Callable[[str], bool] | None = None,
        proxy_protocol: bool = False,
    ) -> None:
        """``proxy_protocol``: every connection on these sockets starts with a PROXY protocol
        header naming the client (proxy/proxyheader.py); without one it is closed."""
        from gitops_ingress.proxy.protocol import ClientConnection

        loop = asyncio.get_running_loop()
        for sock in sockets:
            context = ConnectionContext(
                settings=self.settings,
                holder=self.holder,
                observer=self.observer,
                state=self.state,
                pool=self.pool,
                on_access=self.on_access,
                listener=ListenerForwarding(
                    b"https" if ssl_context is not None else b"http",
                    b"%d" % sock.getsockname()[1],
                    self.trusted,
                    self.settings.via.encode(),
                ),
                tls_redirect_hosts=None if ssl_context is not None else tls_redirect_hosts,
                preview_keys=self.preview_keys,
                warnings=self.warnings,
                next_request_wait=min(self.settings.idle_timeout, self.settings.header_timeout),
                alpn=ssl_context is not None,
            )
            if proxy_protocol:
                sock.setblocking(False)
                self._servers.append(
                    PreambleListener(
                        sock,
                        partial(ClientConnection, context),
                        ssl_context,
                        self.settings.header_timeout,
                    )
                )
                continue
            # TLS: our record layer between the loop's TCP transport and the connection (tlsconn.py)
            factory = listener_protocol(ssl_context, partial(ClientConnection, context), self.settings.header_timeout)
            self._servers.append(await loop.create_server(factory, sock=sock, backlog=2048))

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where the listeners are bound (host, port), for tests and logs."""
        found: list[tuple[str, int]] = []
        for server in self._servers:
            for sock in server.sockets:
                name = sock.getsockname()
                found.append((name[0], name[1]))
        return found

    async def shutdown(self, timeout: float) -> None:
        """Stop accepting, let in-flight requests finish for up to ``timeout`` seconds, then close
        every connection that is left and the upstream pool."""
        self.state.shutting_down = True
        for server in self._servers:
            server.close()
        for conn in list(self.state.connections):
            conn.shutdown()  # idle ones close now, busy ones after their current response
        try:
            await asyncio.wait_for(self.state.until_idle(), timeout)
        except TimeoutError:
            for conn in list(self.state.connections):
                conn.abort()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        self.pool.close()
        self.warnings.close()  # the repeats counted so far
