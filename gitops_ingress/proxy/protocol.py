"""The client side: one asyncio.Protocol per connection over httptools' HttpRequestParser.

Per-connection state lives here (parser, timers, flow control, the queue of pipelined
exchanges); per-request state lives in proxy/exchange.py. The parser reports a request in pieces;
when a head is complete an Exchange is queued, and exchanges are answered strictly in order, so
pipelined requests get their responses in the order they were sent.

An exchange is started only after ``feed_data`` returns: a packet that carries a head and then a
malformed chunk, a second Content-Length or any other refusal is rejected before a single byte
of it reaches an upstream. Refusals raised inside parser callbacks (ClientRequestError) come back
as httptools' HttpParserCallbackError with our exception as its context; they become an error
exchange queued behind the requests already accepted, and the connection stops reading.

A read that is exactly one whole request head, arriving between messages, is first looked up
among the heads this server has parsed before (proxy/repeats.py says why that is safe): a hit
queues an exchange for the stored head without feeding the parser; a miss is parsed, and the
head remembered when it qualifies.

Timeouts share one timer per connection that is re-armed lazily: the hot path records times, and
when the timer fires it checks which limit applies now (header, body, idle, write stall) and
re-arms for the next deadline. Entering a state with an earlier deadline (a new request head)
pulls the timer forward; nothing else touches it per request.

HTTP/2 is not spoken here: a TLS connection that negotiated ``h2`` by ALPN, or a plain one opening
with the HTTP/2 preface when the ``h2c`` setting is on, is handed over to h2conn.py before any
request; the preface shows up as the parser's error on ``PRI``, off the hot path.
"""

from __future__ import annotations

import asyncio
import logging
import re
from time import monotonic
from typing import TYPE_CHECKING, Final, cast

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserInvalidMethodError,
    HttpParserUpgrade,
    HttpRequestParser,
)

from gitops_ingress.proxy import pages
from gitops_ingress.proxy.errors import ClientRequestError
from gitops_ingress.proxy.exchange import Exchange
from gitops_ingress.proxy.flow import BACKLOG, TUNNEL_WAIT, ReadGate, set_limits
from gitops_ingress.proxy.forwarding import RequestHead, RequestHeadBuilder, ResponseHead
from gitops_ingress.proxy.h2conn import H2ClientConnection
from gitops_ingress.proxy.h2frames import PREFACE
from gitops_ingress.proxy.timers import LazyTimer

if TYPE_CHECKING:
    from gitops_ingress.proxy.server import ConnectionContext

log = logging.getLogger("gitops_ingress.proxy")

# a request method is any token (RFC 9110 9.1, 5.6.2); llhttp knows only its own list (see
# ClientConnection._extension_method), so this finds the token it refused
_METHOD: Final = re.compile(rb"[\r\n]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ")
_STAND_IN: Final = b"GET"  # what llhttp is shown instead of an extension method: no special framing


def request_parser(protocol: object) -> HttpRequestParser:
    """httptools' parser as the proxy uses it: any HTTP/x.y version is parsed, so that
    ``on_headers_complete`` can treat 1.2 as 1.1 and answer 505 to 2.0 (RFC 9110 2.5, 15.6.6)
    instead of llhttp's 400 for both."""
    parser = HttpRequestParser(protocol)
    parser.set_dangerous_leniencies(lenient_version=True)
    return parser


def _http_version(version: str) -> bool:
    """Whether an HTTP version other than 1.0 and 1.1 is read as 1.1: any later HTTP/1 minor
    version is (RFC 9110 2.5: a recipient treats it as the highest it supports); another major
    version (2.0 on an HTTP/1 connection, 0.9, 3.0) is a 505."""
    major, _, minor = version.partition(".")
    if major != "1":
        raise ClientRequestError(505, f"HTTP/{version} is not spoken on an HTTP/1 connection")
    return minor != "0"


class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "body_target",
        "client_ip",
        "closed",
        "counted",
        "ctx",
        "dead",
        "fresh",
        "gate",
        "h2",
        "head_bytes",
        "head_started",
        "idle_since",
        "last_keep_alive",
        "last_read",
        "method",
        "parser",
        "parsing",
        "protocol",
        "queue",
        "received",
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
        # made at the first head that is not a known one (proxy/repeats.py): a client that repeats
        # its heads never needs one, and an idle connection holds 0.9 KiB less (docs/proxy.md)
        self.parser: HttpRequestParser | None = None
        self.method = b""  # an extension method llhttp was shown _STAND_IN for (the next head's)
        self.client_ip = client_ip
        self.parsing: RequestHeadBuilder | None = None  # the head being parsed
        self.body_target: Exchange | None = None  # the exchange whose body is being parsed
        # queue[0] is being answered; a list, not a deque: at most max_pipelined long, and an
        # empty deque is 0.6 KiB, a tenth of an idle connection
        self.queue: list[Exchange] = []
        self.head_started = 0.0
        self.head_bytes = 0
        self.received = 0  # body bytes of body_target so far (for max_body)
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
        self.last_keep_alive = True  # the last request parsed let the connection live on
        self.h2 = False  # exchange.ClientSide: the Exchange frames HTTP/1.1 answers itself
        self.protocol = "h1"

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
        # one whole head, between messages: the parser would start and end exactly with it
        whole = False
        if self.parsing is None and self.body_target is None and self.last_keep_alive:
            # only whole heads are ever stored, so a hit needs no search for the end of the head
            known = self.ctx.state.request_heads.known(data)
            if known is not None:
                self._queue(Exchange(self, known, self.last_read))
                self.fresh = False
                if not self.queue[0].started:
                    self._start(self.queue[0], self.last_read)
                return
            whole = data.find(b"\r\n\r\n") == len(data) - 4
        queued = len(self.queue)
        if self._feed(data, self.parsing is None and self.body_target is None):
            if self.parsing is not None:
                self.head_bytes += len(data)
                if self.head_bytes > 2 * (self.settings.max_header_bytes + self.settings.max_request_line):
                    self._refuse(431, "request head too large")
            elif whole and len(self.queue) == queued + 1:
                self.ctx.state.request_heads.remember(data, self.queue[-1].head)
        if self.queue and not self.queue[0].started:
            self._start(self.queue[0], self.last_read)

    def _feed(self, data: bytes, boundary: bool) -> bool:
        """Parse ``data``; False when the parser gave up on it (the refusal is queued).
        ``boundary``: ``data`` starts between messages (an extension method may be retried)."""
        queued = len(self.queue)
        parser = self.parser
        if parser is None:
            parser = self.parser = request_parser(self)
        try:
            parser.feed_data(data)
        except HttpParserUpgrade as exc:
            self._upgrade_requested(data[exc.args[0] :] if exc.args else b"")
        except HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, ClientRequestError):
                self._refuse(cause.status, str(cause))
            else:  # a bug of ours, not the client's fault: say so, and log it
                log.error("error while parsing a request", exc_info=cause)
                self._refuse(500, "internal error")
        except HttpParserInvalidMethodError as exc:
            match = _METHOD.match(data) if boundary and len(self.queue) == queued else None
            if match is not None:
                return self._extension_method(data, match)
            self._refuse(400, f"malformed request: {exc}")
        except HttpParserError as exc:
            if self.settings.h2c and not self.queue and data.startswith(PREFACE[:16]):
                self._become_h2(data)  # prior knowledge: h2 checks the rest of the preface
                return False  # the h2 connection owns the bytes from here on
            self._refuse(400, f"malformed request: {exc}")
        else:
            return True
        return False

    def _extension_method(self, data: bytes, match: re.Match[bytes]) -> bool:
        """llhttp refuses methods not in its list (``FOOBAR``, any valid token RFC 9110 allows):
        when the refused message is the first of ``data`` and begins with a token (``match``), parse it again
        with a fresh parser shown ``_STAND_IN`` in its place, and give its head the real method.
        A pipelined request behind another one in the same read is not retried (a 400): finding
        where it starts would take a parser of our own."""
        self.parser = request_parser(self)
        self.parsing = None
        self.method = match.group(1)
        return self._feed(data[: match.start(1)] + _STAND_IN + data[match.end(1) :], False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.timer.cancel()
        for exchange in self.queue:
            exchange.client_gone()
        if self.tunnel is not None:
            self.tunnel.client_gone()
        self.queue.clear()
        if self.counted:
            self.counted = False
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

    # --- httptools callbacks ---
    def on_message_begin(self) -> None:
        self.parsing = RequestHeadBuilder()
        self.head_bytes = 0
        now = self.last_read
        self.head_started = now
        self.fresh = False
        self.timer.arm(now + self.settings.header_timeout)

    def on_url(self, url: bytes) -> None:
        head = self.parsing
        if head is not None:
            head.target += url
            if len(head.target) > self.settings.max_request_line:
                raise ClientRequestError(414, f"request target longer than {self.settings.max_request_line} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        head = self.parsing
        if head is None:
            return  # trailers of a chunked body: dropped, as the Trailer header is
        head.header_bytes += len(name) + len(value) + 4
        if head.header_bytes > self.settings.max_header_bytes:
            raise ClientRequestError(431, f"request headers larger than {self.settings.max_header_bytes} bytes")
        head.header_count += 1
        if head.header_count > self.settings.max_headers:
            raise ClientRequestError(431, f"more than {self.settings.max_headers} request headers")
        head.add(name, value)

    def on_headers_complete(self) -> None:
        parsing = self.parsing
        if parsing is None:
            return
        self.parsing = None
        parser = cast(HttpRequestParser, self.parser)  # the parser calling us
        method = self.method or parser.get_method()
        self.method = b""
        version = parser.get_http_version()
        http11 = version == "1.1"
        if not http11 and version != "1.0":
            http11 = _http_version(version)
        head = parsing.finish(method, http11, parser.should_keep_alive())
        limit = self.settings.max_body
        if limit is not None and head.content_length is not None and head.content_length > limit:
            raise ClientRequestError(413, f"request body larger than {limit} bytes")
        self.last_keep_alive = head.keep_alive
        exchange = Exchange(self, head, self.last_read)
        self.received = 0
        self.body_target = exchange if head.has_body else None
        self._queue(exchange)

    def on_body(self, body: bytes) -> None:
        exchange = self.body_target
        if exchange is None:
            return
        self.received += len(body)
        limit = self.settings.max_body
        if limit is not None and self.received > limit:
            raise ClientRequestError(413, f"request body larger than {limit} bytes")
        exchange.client_body(body)

    def on_message_complete(self) -> None:
        exchange, self.body_target = self.body_target, None
        if exchange is not None:
            exchange.client_body_done()

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
        if not self.queue and self.tunnel is None and self.parsing is None:
            self.close()

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

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
        self.timer.cancel()
        self.closed = True  # this object is done; the connection lives on in the other one
        self.counted = False
        self.ctx.state.connections.discard(self)
        successor = H2ClientConnection(self.ctx, self.client_ip)
        transport.set_protocol(successor)
        successor.take_over(transport, data)

    def _queue(self, exchange: Exchange) -> None:
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
            self.parser = request_parser(self)
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
        target = self.body_target
        page = pages.error(status, message)
        self.body_target = None
        self.parsing = None
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
        elif self.queue and self.queue[0].started and self.body_target is None:
            next_at = now + settings.idle_timeout  # waiting for an upstream: its own timer rules
        elif self.body_target is not None:
            if now - self.last_read >= settings.body_timeout:
                self._refuse(408, f"no request body data for {settings.body_timeout:g}s")
                return
            next_at = self.last_read + settings.body_timeout
        elif self.parsing is not None:
            if now - self.head_started >= settings.header_timeout:
                self._refuse(408, f"request head not received within {settings.header_timeout:g}s")
                if self.queue and not self.queue[0].started:
                    self._start(self.queue[0], now)
                return
            next_at = self.head_started + settings.header_timeout
        elif not self.queue:
            limit = settings.header_timeout if self.fresh else settings.idle_timeout
            if now - self.idle_since >= limit:
                self.close()  # nothing was asked: nothing to answer
                return
            next_at = self.idle_since + limit
        else:
            next_at = now + settings.idle_timeout
        self.timer.arm(next_at)
