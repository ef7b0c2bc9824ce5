"""The client side: one asyncio.Protocol per connection over httptools' HttpRequestParser.

Per-connection state lives here (timers, flow control, the queue of pipelined exchanges);
reading requests off the bytes (the parser's callbacks and the request limits) is
proxy/request_reader.py; per-request state lives in proxy/exchange.py. When a head is complete
the reader queues an Exchange here, and exchanges are answered strictly in order, so pipelined
requests get their responses in the order they were sent.

An exchange is started only after ``feed_data`` returns: a packet that carries a head and then a
malformed chunk, a second Content-Length or any other refusal is rejected before a single byte
of it reaches an upstream. Refusals raised inside parser callbacks (ClientRequestError) come back
as httptools' HttpParserCallbackError with our exception as its context; they become an error
exchange queued behind the requests already accepted, and the connection stops reading.

A read that is exactly one whole request head, arriving between messages, is first looked up
among the heads this server has parsed before (proxy/repeats.py says why that is safe): a hit
queues an exchange for the stored head without feeding the parser; a miss is read by the head
scanner when it takes it (request_reader.py), else parsed, and the head remembered when it
qualifies.

Timeouts share one timer per connection that is re-armed lazily: the hot path records times, and
when the timer fires it checks which limit applies now (header, body, idle, write stall) and
re-arms for the next deadline. Entering a state with an earlier deadline (a new request head)
pulls the timer forward; nothing else touches it per request.

A close while the client may still be sending (a refusal, a body unread) hands the transport to a
lingering close (proxy/linger.py), so that the answer is not lost to a TCP reset.

HTTP/2 is not spoken here: a TLS connection that negotiated ``h2`` by ALPN, or a plain one opening
with the HTTP/2 preface when the ``h2c`` setting is on, is handed over to h2conn.py before any
request; the preface shows up as the parser's error on ``PRI``, off the hot path.
"""

from __future__ import annotations

import asyncio
import logging
from time import monotonic
from typing import TYPE_CHECKING, cast

from httptools import HttpParserCallbackError, HttpParserError, HttpParserInvalidMethodError, HttpParserUpgrade

from gitops_ingress.proxy import pages
from gitops_ingress.proxy.errors import ClientRequestError
from gitops_ingress.proxy.exchange import ClientSide, Exchange
from gitops_ingress.proxy.flow import BACKLOG, TUNNEL_WAIT, ReadGate, set_limits
from gitops_ingress.proxy.forwarding import RequestHead
from gitops_ingress.proxy.h2conn import H2ClientConnection
from gitops_ingress.proxy.h2frames import PREFACE
from gitops_ingress.proxy.linger import Lingering, lingers
from gitops_ingress.proxy.request_reader import RequestReader
from gitops_ingress.proxy.response_head import ResponseHead
from gitops_ingress.proxy.timers import LazyTimer

if TYPE_CHECKING:
    from gitops_ingress.proxy.server import ConnectionContext

log = logging.getLogger("gitops_ingress.proxy")


class ClientConnection(asyncio.Protocol, ClientSide):
    __slots__ = (
        "client_ip",
        "closed",
        "counted",
        "ctx",
        "dead",
        "fresh",
        "gate",
        "h2",
        "idle_since",
        "last_read",
        "protocol",
        "queue",
        "reader",
        "settings",
        "timer",
        "transport",
        "tunnel",
        "upgrading",
        "write_paused_since",
    )  # fmt: skip

    def __init__(self, ctx: ConnectionContext, client_ip: bytes = b"") -> None:
        """``client_ip``: the client a PROXY protocol header named (proxy/proxyheader.py); empty:
        the TCP peer's address."""
        self.ctx = ctx
        self.settings = ctx.settings
        self.transport: asyncio.Transport | None = None
        self.gate: ReadGate | None = None
        self.client_ip = client_ip
        # queue[0] is being answered; a list, not a deque: at most max_pipelined long, and an
        # empty deque is 0.6 KiB, a tenth of an idle connection
        self.queue: list[Exchange] = []
        self.last_read = 0.0
        self.idle_since = 0.0
        self.write_paused_since = 0.0
        self.timer = LazyTimer(asyncio.get_running_loop(), self._on_timer)
        self.dead = False  # refused: read nothing more, close after the queued answers
        self.closed = False
        self.fresh = True  # no request yet on this connection
        self.tunnel: Exchange | None = None
        self.upgrading: Exchange | None = None
        self.counted = False
        self.h2 = False  # exchange.ClientSide: the Exchange frames HTTP/1.1 answers itself
        self.protocol = "h1"
        self.reader = RequestReader(self)

    # --- asyncio.Protocol ---
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        ctx = self.ctx
        state = ctx.state
        if state.shutting_down or len(state.connections) >= self.settings.max_connections:
            self.closed = True
            self.transport.writelines(pages.dated(pages.error(503, "too many connections"), state.date.line()))
            self.transport.close()
            return
        self.counted = True
        state.opened(self)
        ctx.observer.connection_opened()
        if not self.client_ip:
            peer = transport.get_extra_info("peername")
            self.client_ip = str(peer[0]).encode() if isinstance(peer, tuple) else b""  # AF_UNIX has none
        self.gate = ReadGate(self.transport)
        set_limits(transport, self.settings.high_water, self.settings.low_water)
        now = monotonic()
        self.idle_since = self.last_read = now
        if ctx.alpn:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
                self._become_h2(b"")
                return
        self.timer.arm(now + self.settings.header_timeout)

    def data_received(self, data: bytes) -> None:
        self.last_read = monotonic()
        if self.tunnel is not None:
            self.tunnel.tunnel_from_client(data)
            return
        if self.upgrading is not None:
            self.upgrading.tunnel_from_client(data)
            return
        if self.dead:
            return
        reader = self.reader
        boundary = reader.parsing is None and reader.body_target is None
        shortcut = boundary and reader.last_keep_alive  # between messages of a connection kept alive
        if shortcut:
            # only whole heads are ever stored, so a hit needs no search for the end of the head
            if data == reader.last_block:  # this connection's last stored head again: no lookup
                known: RequestHead | None = reader.last_head
            else:
                known = self.ctx.state.request_heads.known(data)
                if known is not None:
                    reader.last_block, reader.last_head = data, known
            if known is not None:
                self.enqueue(Exchange(self, known, self.last_read))
                self.fresh = False
                if not self.queue[0].started:
                    self._start(self.queue[0], self.last_read)
                return
            if self._read_whole(data):  # one whole plain head, read without the parser
                return
        queued = len(self.queue)
        if self._feed(data, boundary):
            if reader.parsing is not None:
                reader.head_bytes += len(data)
                if reader.head_bytes > 2 * (self.settings.max_header_bytes + self.settings.max_request_line):
                    self._refuse(431, "request head too large")
            elif shortcut and reader.body_target is None and len(self.queue) == queued + 1:
                # the read was one whole message, begun between messages and ended back there
                # (a second one would be queued or still parsing; a body shows in the head): its
                # bytes are the head (remember keeps only heads without a body). Told from the
                # parser's state, not by a search of the bytes for the end of the head.
                self.ctx.state.request_heads.remember(data, self.queue[-1].head)
        if self.queue and not self.queue[0].started:
            self._start(self.queue[0], self.last_read)

    def _feed(self, data: bytes, boundary: bool) -> bool:
        """Parse ``data``; False when the parser gave up on it (the refusal is queued).
        ``boundary``: ``data`` starts between messages (an extension method may be retried)."""
        queued = len(self.queue)
        parser = self.reader.parser
        if parser is None:
            parser = self.reader.fresh_parser()
        try:
            parser.feed_data(data)
        except HttpParserUpgrade as exc:
            self._upgrade_requested(data[exc.args[0] :] if exc.args else b"")
        except HttpParserCallbackError as exc:
            self._callback_failed(exc.__context__)
        except HttpParserInvalidMethodError as exc:
            retry = self.reader.extension_method(data) if boundary and len(self.queue) == queued else None
            if retry is not None:  # the same bytes, the method a token llhttp knows (request_reader.py)
                return self._feed(retry, False)
            self._refuse(400, f"malformed request: {exc}")
        except HttpParserError as exc:
            if self.settings.h2c and not self.queue and data.startswith(PREFACE[:16]):
                self._become_h2(data)  # prior knowledge: h2 checks the rest of the preface
                return False  # the h2 connection owns the bytes from here on
            self._refuse(400, f"malformed request: {exc}")
        else:
            return True
        return False

    def _read_whole(self, data: bytes) -> bool:
        """``data`` as one whole head without the parser (request_reader.py); False: not taken."""
        try:
            if not self.reader.read_whole(data):
                return False
            self.ctx.state.request_heads.remember(data, self.queue[-1].head)
        except Exception as exc:  # what the parser's callbacks raise, raised by the same callbacks
            self._callback_failed(exc)
        # started here and the caller returns, as for a stored head: one shared start at the end
        # of data_received (the shortcuts falling through) cost a repeated request 0.3 % more
        if self.queue and not self.queue[0].started:
            self._start(self.queue[0], self.last_read)
        return True

    def _callback_failed(self, cause: BaseException | None) -> None:
        if isinstance(cause, ClientRequestError):
            self._refuse(cause.status, str(cause))
        else:  # a bug of ours, not the client's fault: say so, and log it
            log.error("error while parsing a request", exc_info=cause)
            self._refuse(500, "internal error")

    def connection_lost(self, exc: Exception | None) -> None:
        counted = self.counted
        self._let_go()
        if self.tunnel is not None:
            self.tunnel.client_gone()
        if counted:
            self.ctx.state.closed(self)
            self.ctx.observer.connection_closed()

    def pause_writing(self) -> None:
        now = monotonic()
        self.write_paused_since = now
        self.timer.arm(now + self.settings.write_timeout)
        active = self.tunnel or (self.queue[0] if self.queue else None)
        if active is not None and active.upstream is not None:
            active.upstream.pause_reading(True)

    def resume_writing(self) -> None:
        self.write_paused_since = 0.0
        active = self.tunnel or (self.queue[0] if self.queue else None)
        if active is not None and active.upstream is not None:
            active.upstream.pause_reading(False)

    # --- used by exchanges ---
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def write_many(self, data: list[bytes]) -> None:
        if self.transport is not None and not self.closed:
            if len(data) == 1:
                self.transport.write(data[0])
            elif self.ctx.alpn:  # TLS: the SSL transports seal each item as a record of its own
                self.transport.write(b"".join(data))
            else:
                self.transport.writelines(data)

    def gate_pause(self, reason: int) -> None:
        if self.gate is not None:
            self.gate.pause(reason)

    def gate_resume(self, reason: int) -> None:
        if self.gate is not None:
            self.gate.resume(reason)

    def exchange_done(self, exchange: Exchange, close: bool) -> None:
        self.ctx.state.in_flight -= 1
        if self.queue and self.queue[0] is exchange:
            self.queue.pop(0)
        if close or self.ctx.state.shutting_down:
            self.close()
            return
        gate = self.gate
        if gate is not None and gate.reasons & BACKLOG and len(self.queue) <= self.settings.max_pipelined:
            gate.resume(BACKLOG)
        if self.queue:
            self._start(self.queue[0], exchange.ended_at)
        else:
            self.idle_since = exchange.ended_at  # time.monotonic(), read once per answer (_record)
            # the header timeout is the shortest a next request can need: arming for it here
            # means a new request head never has to pull the timer forward
            self.timer.arm(self.idle_since + self.ctx.next_request_wait)

    def start_tunnel(self, exchange: Exchange) -> None:
        """The upstream agreed to upgrade: from now on bytes flow both ways untouched."""
        self.tunnel = exchange
        self.upgrading = None
        if self.queue and self.queue[0] is exchange:
            self.queue.pop(0)
        self.timer.cancel()
        self.gate_resume(TUNNEL_WAIT)

    def shutdown(self) -> None:
        """Server shutdown: idle connections close now, busy ones after their current answer."""
        if not self.queue and self.tunnel is None and self.reader.parsing is None:
            self.close()

    def close(self) -> None:
        transport = self.transport
        if not self.closed and transport is not None:
            self.closed = True
            if lingers(self, transport):  # bytes of the client's may be unread (proxy/linger.py)
                self._let_go()
                Lingering(self.ctx, transport).start()
                return
            transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closed = True
            self.transport.abort()

    def response_head(self, status: int, head: ResponseHead, body_allowed: bool) -> None:
        """exchange.ClientSide: never called, as ``h2`` is False (the Exchange frames the head)."""
        raise NotImplementedError

    # --- internals ---
    def _become_h2(self, data: bytes) -> None:
        """Hand the transport, and the connection's place in the server, to an HTTP/2 protocol."""
        transport = self.transport
        if transport is None:
            return
        self._let_go()
        successor = H2ClientConnection(self.ctx, self.client_ip)
        transport.set_protocol(successor)
        successor.take_over(transport, data)

    def _let_go(self) -> None:
        """This object is done: the connection closed, or lives on (with its place in the server)
        in another protocol (HTTP/2, a lingering close). The timer and the reader point back here:
        letting them go leaves no reference cycle, so reference counting frees the connection at
        once instead of the cyclic collector later (docs/proxy.md, Memory)."""
        self.timer.stop()
        self.closed = True
        for exchange in self.queue:
            exchange.client_gone()
        self.queue.clear()
        self.counted = False
        self.ctx.state.connections.discard(self)
        self.reader.release()

    def enqueue(self, exchange: Exchange) -> None:
        """A request read (request_reader.py, or a known head): answered after those queued before;
        past ``max_pipelined`` waiting, the connection stops reading."""
        self.queue.append(exchange)
        if len(self.queue) > self.settings.max_pipelined:
            self.gate_pause(BACKLOG)

    def _start(self, exchange: Exchange, now: float) -> None:
        """``now``: time.monotonic(), read in the callback we run in (exchange.start says why)."""
        try:
            exchange.start(now)
        except Exception:  # a bug of ours: the client gets a 500, the log gets the traceback
            log.exception("error while starting a request")
            if exchange.response_started:
                self.abort()
            else:
                self.write_many(pages.dated(pages.error(500, "internal error"), self.ctx.state.date.line()))
                self.close()

    def _upgrade_requested(self, rest: bytes) -> None:
        exchange = self.queue[-1] if self.queue else None
        if exchange is not None and not exchange.head.http11 and exchange.head.method != b"CONNECT":
            # HTTP/1.0 cannot upgrade (RFC 9110 7.8): llhttp stopped as if, but the request was
            # an ordinary one (finish() dropped its Upgrade); parse on after it
            self.reader.fresh_parser()
            if rest:
                self._feed(rest, True)
            return
        if exchange is None or exchange.head.upgrade is None:
            self._refuse(400, "unexpected protocol upgrade")
            return
        self.upgrading = exchange
        self.gate_pause(TUNNEL_WAIT)
        if rest:
            exchange.tunnel_from_client(rest)

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` after the exchanges already queued, then close; read nothing more."""
        self.dead = True
        self.gate_pause(BACKLOG)
        reader = self.reader
        target = reader.body_target
        page = pages.error(status, message)
        reader.body_target = None
        reader.parsing = None
        if target is not None and target.started:
            target.refuse(page)
            return
        if target is not None:
            self.queue.remove(target)
        self.queue.append(Exchange(self, RequestHead(), monotonic(), local=page))

    def _on_timer(self) -> None:
        if self.closed or (self.tunnel is not None and not self.write_paused_since):
            return
        settings = self.settings
        now = monotonic()
        if self.write_paused_since:
            if now - self.write_paused_since >= settings.write_timeout:
                self.abort()  # the client stopped reading: give up on it
                return
            next_at = self.write_paused_since + settings.write_timeout
        elif self.queue and self.queue[0].started and self.reader.body_target is None:
            next_at = now + settings.idle_timeout  # waiting for an upstream: its own timer rules
        elif self.reader.body_target is not None:
            if now - self.last_read >= settings.body_timeout:
                self._refuse(408, f"no request body data for {settings.body_timeout:g}s")
                return
            next_at = self.last_read + settings.body_timeout
        elif self.reader.parsing is not None:
            if now - self.reader.head_started >= settings.header_timeout:
                self._refuse(408, f"request head not received within {settings.header_timeout:g}s")
                if self.queue and not self.queue[0].started:
                    self._start(self.queue[0], now)
                return
            next_at = self.reader.head_started + settings.header_timeout
        elif not self.queue:
            limit = settings.header_timeout if self.fresh else settings.idle_timeout
            if now - self.idle_since >= limit:
                self.close()  # nothing was asked: nothing to answer
                return
            next_at = self.idle_since + limit
        else:
            next_at = now + settings.idle_timeout
        self.timer.arm(next_at)
