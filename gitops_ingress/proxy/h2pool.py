"""HTTP/2 upstream connections per endpoint, shared by many requests at once.

The extension of proxy/pool.py for ``Endpoint.h2`` endpoints. An HTTP/1.1 connection carries one
request at a time and idles in a stack; an HTTP/2 connection carries as many streams as its peer
allows (SETTINGS_MAX_CONCURRENT_STREAMS), so the pool keeps a list of open connections per
endpoint and ``acquire`` reserves a stream on the newest one with room. Only when every one is
full (or none is open) does ``connect`` open another, and requests that arrive while it is being
opened wait for that same connection instead of each opening their own.

Cleartext endpoints (``h2c://``, ``grpc://``) speak HTTP/2 with prior knowledge; ``grpcs://``
negotiates ``h2`` by ALPN and is refused (UpstreamProtocolError) when the server picks anything
else. ``https://`` endpoints are opened by proxy/pool.py offering ``h2`` before ``http/1.1``
(``offer_tls``); ``AlpnChoice`` gives each the protocol its server chose, and one that chose
``h2`` is handed here (``adopt``), where ``acquire`` finds its streams like any other's. ``replay`` sends a never-processed stream again (proxy/h2upstream_stream.py) on a connection other
than the one that refused it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.dial import dial
from gitops_ingress.proxy.errors import UpstreamConnectError, UpstreamError, UpstreamProtocolError
from gitops_ingress.proxy.h2upstream import H2UpstreamConnection
from gitops_ingress.proxy.h2upstream_stream import H2UpstreamStream
from gitops_ingress.proxy.repeats import ResponseHeads

StreamCallback = Callable[[H2UpstreamStream | None, UpstreamError | None], None]
ConnectionCallback = Callable[[H2UpstreamConnection | None, UpstreamError | None], None]
Key = tuple[str, int, str]


class AlpnChoice(asyncio.Protocol):
    """The protocol of a new ``https://`` connection until its handshake is done, which is when
    asyncio calls ``connection_made``: it hands the transport to the protocol the server chose by
    ALPN, before any byte arrives (an HTTP/1.1 connection retires itself on unasked-for bytes,
    and an h2 server's SETTINGS come at once)."""

    def __init__(self, pool: H2Pool, endpoint: Endpoint, http1: Callable[[], asyncio.Protocol]) -> None:
        self.pool = pool
        self.endpoint = endpoint
        self.http1 = http1
        self.chosen: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tls_object = transport.get_extra_info("ssl_object")
        chosen: asyncio.Protocol
        if tls_object is not None and tls_object.selected_alpn_protocol() == "h2":
            chosen = H2UpstreamConnection(self.pool, self.endpoint)
        else:  # http/1.1, or no ALPN at all
            chosen = self.http1()
        self.chosen = chosen
        transport.set_protocol(chosen)
        chosen.connection_made(transport)


class H2Pool:
    def __init__(self, settings: ProxySettings, heads: ResponseHeads) -> None:
        self.settings = settings
        self.heads = heads
        self._open: dict[Key, list[H2UpstreamConnection]] = {}  # by Endpoint.key, newest last
        self._waiting: dict[Key, list[ConnectionCallback]] = {}  # a connection is being opened
        self._tls: ssl.SSLContext | None = None
        self._offer: ssl.SSLContext | None = None
        self._closed = False

    def acquire(self, endpoint: Endpoint) -> H2UpstreamStream | None:
        """A stream reserved on an open connection with room, or None."""
        for conn in reversed(self._open.get(endpoint.key, ())):
            if conn.capacity > 0:
                return conn.reserve()
        return None

    def connect(self, endpoint: Endpoint, done: StreamCallback) -> None:
        """``done`` gets a stream on a new connection (or on the one being opened), or an error."""

        def connected(conn: H2UpstreamConnection | None, error: UpstreamError | None) -> None:
            if conn is None:
                done(None, error)
            elif conn.capacity > 0 or not conn.streams:  # its SETTINGS may not have come yet
                done(conn.reserve(), None)
            else:  # full already: another one
                self.connect(endpoint, done)

        self._with_connection(endpoint, connected)

    def replay(self, stream: H2UpstreamStream) -> None:
        """Send a never-processed stream again, on another connection."""
        endpoint = stream.conn.endpoint
        old = stream.conn

        def connected(conn: H2UpstreamConnection | None, error: UpstreamError | None) -> None:
            if conn is None:
                stream.fail(error or UpstreamConnectError(f"connect to {endpoint} failed"))
                return
            conn.reserved += 1
            stream.rehome(conn)

        for conn in reversed(self._open.get(endpoint.key, ())):
            if conn is not old and conn.capacity > 0:
                connected(conn, None)
                return
        self._with_connection(endpoint, connected)

    def adopt(self, conn: H2UpstreamConnection) -> H2UpstreamStream:
        """``conn`` to an ``https://`` endpoint, whose server chose h2 (``AlpnChoice``), is one of
        ours now: a stream reserved on it."""
        self._open.setdefault(conn.endpoint.key, []).append(conn)
        return conn.reserve()

    def offer_tls(self) -> ssl.SSLContext:
        """The client TLS context of ``https://`` endpoints: h2 and http/1.1 offered, the server
        chooses (made on first use: loading the CA store costs milliseconds)."""
        if self._offer is None:
            self._offer = ssl.create_default_context()
            self._offer.set_alpn_protocols(["h2", "http/1.1"])
        return self._offer

    def forget(self, conn: H2UpstreamConnection) -> None:
        """``conn`` takes no new streams (GOAWAY, closed)."""
        conns = self._open.get(conn.endpoint.key)
        if conns and conn in conns:
            conns.remove(conn)

    def count(self, endpoint: Endpoint) -> int:
        """Open connections to ``endpoint`` that take new streams."""
        return len(self._open.get(endpoint.key, ()))

    def close(self) -> None:
        self._closed = True
        for conns in self._open.values():
            for conn in list(conns):
                conn.close()
            conns.clear()

    # --- internals ---
    def _with_connection(self, endpoint: Endpoint, done: ConnectionCallback) -> None:
        waiting = self._waiting.get(endpoint.key)
        if waiting is not None:
            waiting.append(done)
            return
        self._waiting[endpoint.key] = [done]
        task = asyncio.get_running_loop().create_task(self._connect(endpoint))

        def finished(task: asyncio.Task[H2UpstreamConnection]) -> None:
            callbacks = self._waiting.pop(endpoint.key, [])
            if task.cancelled():
                return
            error = task.exception()
            conn: H2UpstreamConnection | None = None
            failure: UpstreamError | None = None
            if error is None:
                conn = task.result()
                self._open.setdefault(endpoint.key, []).append(conn)
            elif isinstance(error, UpstreamError):
                failure = error
            else:  # a bug, not a network condition: still answer the clients
                failure = UpstreamConnectError(f"connect to {endpoint}: {error!r}")
            for callback in callbacks:
                callback(conn, failure)

        task.add_done_callback(finished)

    async def _connect(self, endpoint: Endpoint) -> H2UpstreamConnection:
        tls = self._client_tls() if endpoint.tls else None
        transport, conn = await dial(
            lambda: H2UpstreamConnection(self, endpoint), endpoint, self.settings.connect_timeout, tls
        )
        if tls is not None:
            tls_object = transport.get_extra_info("ssl_object")
            chosen = tls_object.selected_alpn_protocol() if tls_object is not None else None
            if chosen != "h2":
                conn.close()
                raise UpstreamProtocolError(f"upstream {endpoint} did not agree to HTTP/2 by ALPN (chose {chosen})")
        if self._closed:
            conn.close()
            raise UpstreamConnectError(f"connect to {endpoint}: the proxy is shutting down")
        return conn

    def _client_tls(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
            self._tls.set_alpn_protocols(["h2"])
        return self._tls
