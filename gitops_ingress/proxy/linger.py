"""Lingering close: a connection ended with bytes of the client's unread is half-closed, not closed.

Closing a socket whose receive queue holds bytes makes the kernel send a TCP reset instead of a
FIN, and a reset may reach the client before it has read the answer, which it then never sees (a
client still sending its too-large head gets ECONNRESET instead of its 431). So, as nginx's
``lingering_close on`` does, when the HTTP/1.1 connection (protocol.py) closes while the client
may still be sending (a refusal, a close with the parser mid-message, a body not read to its
end, pipelined requests behind the last answer), its transport is handed to a ``Lingering``
protocol instead: that one shuts the write side down after the answer (``write_eof``: the TCP
half-close, and for TLS close_notify first, tlsconn.py), reads on and drops what still comes,
unparsed, and closes when the client closes (its FIN, or its close_notify), after
``lingering_timeout`` without a byte, or after ``lingering_time`` in all. A normal end (a whole
request answered with ``Connection: close``, an idle keep-alive connection) closes at once, as
there is nothing to read; so does every connection when either setting is 0.

While the answer is still in the transport's buffer (a slow reader of a large early answer), the
two limits wait: they count from the moment it is all written (the transport's low-water mark is
set to 0 so that ``resume_writing`` says when), and a reader that takes none of it for
``write_timeout`` is cut off. A lingering connection keeps its place in
``ServerState.connections`` and in the open-connections gauge (it holds a socket), so it counts
against ``max_connections``; a graceful shutdown closes it at once.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import TYPE_CHECKING

from gitops_ingress.proxy.timers import LazyTimer

if TYPE_CHECKING:
    from gitops_ingress.proxy.protocol import ClientConnection
    from gitops_ingress.proxy.server import ConnectionContext


def lingers(conn: ClientConnection, transport: asyncio.Transport) -> bool:
    """Whether ``conn``, closing, is to linger on ``transport``: the client may still be sending
    (refused, mid-message, a body unread, requests pipelined behind the last answer), and
    lingering is on. A tunnel's bytes are not HTTP: it closes at once."""
    reader = conn.reader
    if not (conn.dead or conn.queue or reader.parsing is not None or reader.body_target is not None):
        return False
    settings = conn.settings
    return (
        conn.tunnel is None
        and conn.counted  # its place in the server goes to the Lingering (not so for a 503)
        and settings.lingering_time > 0
        and settings.lingering_timeout > 0
        and not conn.ctx.state.shutting_down  # shutdown closes lingering connections at once anyway
        and transport.can_write_eof()
        and not transport.is_closing()  # already closing (the client's EOF, say): nothing to wait for
    )


class Lingering(asyncio.Protocol):
    """The protocol of one connection from its half-close to its close."""

    __slots__ = ("ctx", "last_read", "pending", "progress_at", "since", "timer", "transport")

    def __init__(self, ctx: ConnectionContext, transport: asyncio.Transport) -> None:
        self.ctx = ctx
        self.transport = transport
        now = monotonic()
        self.since = 0.0  # when the answer was all written (0: it is still being written)
        self.last_read = now
        self.pending = 0  # bytes of the answer still buffered when last seen
        self.progress_at = now  # when that figure last went down
        self.timer = LazyTimer(asyncio.get_running_loop(), self._on_timer)

    def start(self) -> None:
        """Take ``transport`` and the connection's place in the server; half-close; read on."""
        transport = self.transport
        self.ctx.state.opened(self)
        transport.set_protocol(self)
        # marks of 0: resume_writing says when the answer is all written, which starts the clock
        transport.set_write_buffer_limits(high=0, low=0)
        self.pending = transport.get_write_buffer_size()
        if not self.pending:
            self.since = self.progress_at
        transport.write_eof()  # the transports send it once their buffer is written
        if not transport.is_reading():  # paused by the protocol before (a backlog, a refusal)
            transport.resume_reading()
        self._on_timer()

    # --- asyncio.Protocol ---
    def data_received(self, data: bytes) -> None:
        self.last_read = monotonic()  # and the bytes are dropped

    def eof_received(self) -> bool | None:
        return None  # the client is done too: the transport closes once the answer is written

    def connection_lost(self, exc: Exception | None) -> None:
        self.timer.stop()
        self.ctx.state.closed(self)
        self.ctx.observer.connection_closed()

    def pause_writing(self) -> None:
        """The buffer holds bytes of the answer (a high-water mark of 0, ``start``)."""

    def resume_writing(self) -> None:
        if not self.since:
            self.since = monotonic()
            self._on_timer()

    # --- server.OpenConnection ---
    def shutdown(self) -> None:
        """Server shutdown: the answer was given; what the client still sends is not waited for."""
        self.transport.close()

    def abort(self) -> None:
        self.transport.abort()

    # --- internals ---
    def _on_timer(self) -> None:
        settings = self.ctx.settings
        now = monotonic()
        since = self.since
        if not since:  # the answer is still being written: a reader that takes none of it is cut off
            pending = self.transport.get_write_buffer_size()
            if pending < self.pending:
                self.pending = pending
                self.progress_at = now
            elif now - self.progress_at >= settings.write_timeout:
                self.transport.abort()
                return
            self.timer.arm(self.progress_at + settings.write_timeout)
            return
        quiet_since = max(self.last_read, since)
        if now - since >= settings.lingering_time or now - quiet_since >= settings.lingering_timeout:
            self.transport.close()
            return
        self.timer.arm(min(since + settings.lingering_time, quiet_since + settings.lingering_timeout))
