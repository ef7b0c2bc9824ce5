"""Keep-alive connection pools per upstream endpoint, and round-robin over a Service's endpoints.

Idle connections are a LIFO stack per endpoint: the most recently used one is the most likely to
still be open at the other end, and the ones at the bottom age out through their idle timer. The
stack is sized to demand (``EndpointConnections``): it keeps as many idle connections as were busy
at once within ``upstream_idle_timeout``, and at least ``pool_max_idle``, so that a burst wider
than the floor finds its connections warm the next time instead of closing and reopening them. A
pooled connection is taken synchronously, so a warm request costs no task and no await; only a
new connection needs a task (``loop.create_connection`` is a coroutine), and the caller gets a
callback with the connection or with our own error, mapped here from OSError and timeouts.
A connection goes back to the pool only when its response ended cleanly and the request was
sent whole; everything else is closed (see proxy/exchange.py).

The stacks are keyed by ``Endpoint.key`` (its fields as a tuple: hashed in C), so a new snapshot
with equal endpoints still finds the warm connections; each connection carries its endpoint's
``EndpointConnections`` for ``release``.

HTTP/2 endpoints (``Endpoint.h2``) are the ``H2Pool``'s (proxy/h2pool.py): what it hands out is
a stream of a shared connection, not a connection, behind the same ``acquire`` and ``connect``.
An ``https://`` endpoint is either: its connections offer h2 and http/1.1 by ALPN, and one whose
server chose h2 goes to the H2Pool (``AlpnChoice``, ``H2Pool.adopt``), whose streams ``acquire``
tries first.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Hashable
from typing import Final, cast

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.dial import dial
from gitops_ingress.proxy.errors import UpstreamConnectError, UpstreamError
from gitops_ingress.proxy.h2pool import AlpnChoice, H2Pool
from gitops_ingress.proxy.h2upstream import H2UpstreamConnection
from gitops_ingress.proxy.observe import ProxyObserver
from gitops_ingress.proxy.repeats import ResponseHeads
from gitops_ingress.proxy.upstream import Upstream, UpstreamConnection

ConnectCallback = Callable[[Upstream | None, UpstreamError | None], None]


class EndpointConnections:
    """One endpoint's HTTP/1.1 connections: the idle stack and the demand that sizes it.

    ``busy`` counts the connections carrying a request. The most busy at once is kept for two
    windows of ``window`` seconds (the one under way and the one before, so a peak is remembered
    for at least one whole window); the stack takes a released connection while it holds fewer
    than that peak, or than ``floor``. When demand falls, the surplus ages out by the idle timer.
    """

    __slots__ = ("busy", "floor", "h2", "idle", "peak", "previous", "since", "tls", "window")

    def __init__(self, endpoint: Endpoint, floor: int, window: float) -> None:
        # the endpoint's flags, read here on every acquire: Endpoint is a Python dataclass (core),
        # so each of its attributes costs a generic attribute lookup, these a native field read
        self.h2: Final[bool] = endpoint.h2
        self.tls: Final[bool] = endpoint.tls
        self.idle: list[UpstreamConnection] = []
        self.busy = 0
        self.floor = floor
        self.window = window
        self.peak = 0  # most busy at once since ``since``
        self.previous = 0  # most busy at once in the window before
        self.since = 0.0

    def take(self) -> UpstreamConnection | None:
        """The most recently parked open connection, now busy; None when there is none."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                self.started(conn)
                return conn
        return None

    def started(self, conn: UpstreamConnection) -> None:
        """``conn`` carries a request now (taken from the stack, or just opened)."""
        conn.busy = True
        busy = self.busy = self.busy + 1
        if busy > self.peak:  # noqa: PLR1730 (max() in mypyc calls the builtin, keyword parsing and all: ~250 instructions)
            self.peak = busy

    def ended(self, conn: UpstreamConnection, now: float) -> bool:
        """``conn`` finished its request at ``now`` (time.monotonic()): may it idle here?"""
        if now - self.since >= self.window:  # a new window; the last one is kept if it just ended
            self.previous = self.peak if now - self.since < 2 * self.window else 0
            self.peak = self.busy
            self.since = now
        if conn.busy:
            conn.busy = False
            self.busy -= 1
        kept = len(self.idle)
        return kept < self.floor or kept < self.peak or kept < self.previous  # not max(), as in started

    def lost(self, conn: UpstreamConnection) -> None:
        """``conn`` closed: it neither idles nor counts as busy any more."""
        if conn.busy:
            conn.busy = False
            self.busy -= 1
        elif conn in self.idle:
            self.idle.remove(conn)


class UpstreamPool:
    def __init__(self, settings: ProxySettings, observer: ProxyObserver) -> None:
        self.settings = settings
        self.observer = observer
        self._groups: dict[tuple[str, int, str], EndpointConnections] = {}  # by Endpoint.key
        self._last_endpoint: Endpoint | None = None  # what ``group`` was last asked for, and gave
        self._last_group: EndpointConnections | None = None
        self._turn: dict[Hashable, int] = {}
        self._closed = False
        self._tls: ssl.SSLContext | None = None  # for auth-url's https requests, made on first use
        self.heads = ResponseHeads(settings.via.encode())  # parsed response heads, shared by every upstream connection
        self.h2 = H2Pool(settings, self.heads)

    def pick(self, key: Hashable, endpoints: tuple[Endpoint, ...], avoid: tuple[Endpoint, ...] = ()) -> Endpoint:
        """Round-robin over ``endpoints``; skips the ones in ``avoid`` while others remain."""
        count = len(endpoints)
        if count == 1:
            return endpoints[0]
        turn = self._turn.get(key, 0)
        for step in range(count):
            endpoint = endpoints[(turn + step) % count]
            if endpoint not in avoid:
                self._turn[key] = turn + step + 1
                return endpoint
        self._turn[key] = turn + 1
        return endpoints[turn % count]

    def group(self, endpoint: Endpoint) -> EndpointConnections:
        """The connections of ``endpoint`` (made on first use; the same for equal endpoints)."""
        last = self._last_group
        if last is not None and endpoint is self._last_endpoint:
            # the endpoint object of the last call (they live in the snapshot, so requests to one
            # Service bring the same objects): no key tuple, which compiled code would rebuild
            # from the Python dataclass's field, and no lookup (groups are never removed)
            return last
        group = self._groups.get(endpoint.key)
        if group is None:
            settings = self.settings
            group = self._groups[endpoint.key] = EndpointConnections(
                endpoint, settings.pool_max_idle, settings.upstream_idle_timeout
            )
        self._last_endpoint, self._last_group = endpoint, group
        return group

    def acquire(self, endpoint: Endpoint, upgrade: bool = False) -> Upstream | None:
        """A warm connection (or h2 stream) to ``endpoint``, or None. An ``upgrade`` request
        (WebSocket) needs HTTP/1.1: HTTP/2 to backends carries no Upgrade."""
        group = self.group(endpoint)
        if group.h2:
            return self.h2.acquire(endpoint)
        if group.tls and not upgrade:  # an https:// server that chose h2 (H2Pool.adopt)
            stream = self.h2.acquire(endpoint)
            if stream is not None:
                return stream
        return group.take()

    def release(self, conn: UpstreamConnection, now: float) -> None:
        """``conn`` finished a response at ``now`` (time.monotonic()): keep it idle, or close it."""
        group = conn.group
        if not group.ended(conn, now) or self._closed or conn.closed:
            conn.close()
            return
        conn.parked(now)
        group.idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        """A connection closed: drop it from its endpoint's counts."""
        conn.group.lost(conn)

    def connect(self, endpoint: Endpoint, done: ConnectCallback, timeout: float, upgrade: bool = False) -> None:
        """A new connection to ``endpoint`` within ``timeout`` seconds (HTTP/2 endpoints share
        connections: theirs is the proxy's ``connect_timeout``); for an ``upgrade`` request an
        ``https://`` connection offers no h2, so a server that prefers h2 still speaks HTTP/1.1."""
        if endpoint.h2:
            self.h2.connect(endpoint, done)
            return
        task = asyncio.get_running_loop().create_task(self._open(endpoint, timeout, upgrade))

        def finished(task: asyncio.Task[Upstream]) -> None:
            if task.cancelled():
                return
            error = task.exception()
            if error is None:
                conn = task.result()
                if isinstance(conn, UpstreamConnection):  # not a stream of an adopted h2 connection
                    conn.group.started(conn)
                done(conn, None)
            elif isinstance(error, UpstreamError):
                done(None, error)
            else:  # a bug, not a network condition: still answer the client
                done(None, UpstreamConnectError(f"connect to {endpoint}: {error!r}"))

        task.add_done_callback(finished)

    async def _open(self, endpoint: Endpoint, timeout: float, upgrade: bool) -> Upstream:
        if endpoint.scheme != "https" or upgrade:
            tls = self.client_tls() if endpoint.scheme == "https" else None  # no ALPN: HTTP/1.1
            _, conn = await dial(lambda: UpstreamConnection(self, endpoint), endpoint, timeout, tls)
            return conn
        _, choice = await dial(
            lambda: AlpnChoice(self.h2, endpoint, lambda: UpstreamConnection(self, endpoint)),
            endpoint,
            timeout,
            self.h2.offer_tls(),
        )
        chosen = choice.chosen
        if isinstance(chosen, H2UpstreamConnection):
            return self.h2.adopt(chosen)
        return cast(UpstreamConnection, chosen)

    def client_tls(self) -> ssl.SSLContext:
        """The client TLS context of what speaks HTTP/1.1 only over TLS, made on first use:
        auth-url's HTTPS requests (proxy/forwardauth.py) and upgrade requests to ``https://``
        backends (the rest of those offer h2 too: ``H2Pool.offer_tls``)."""
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def idle_count(self, endpoint: Endpoint | None = None) -> int:
        if endpoint is not None:
            group = self._groups.get(endpoint.key)
            return len(group.idle) if group is not None else 0
        return sum(len(group.idle) for group in self._groups.values())

    def close(self) -> None:
        self._closed = True
        self.h2.close()
        for group in self._groups.values():
            idle, group.idle = group.idle, []
            for conn in idle:
                conn.close()
