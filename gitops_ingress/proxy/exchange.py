"""One request/response exchange: route it, carry it to an upstream, carry the answer back.

An Exchange is created when a request head is complete and lives until its response has been
written (or until the tunnel it became is closed). It is driven entirely by callbacks: the client
connection hands it body pieces, the upstream connection hands it response pieces
(its ``upstream_*`` methods), the pool hands it a new connection. No task is created per request; a task
exists only while a new upstream connection is being opened.

Where a request goes is decided in proxy/decide.py (the proxy's own answers never touch an
upstream). Decisions made here: a request is retried on another endpoint only when it is idempotent, has no body and nothing has been sent to
the client; a response that broke half-way aborts the client connection (the only honest signal
left), and its upstream connection is closed, never pooled.

The client side is whatever implements ``ClientSide``: an HTTP/1.1 connection (protocol.py), which
gets the response as HTTP/1.1 bytes framed here, or one HTTP/2 stream (h2stream.py), which gets
the upstream's ResponseHead and body pieces and frames them itself (``h2`` tells which). Trailers
from an upstream come through ``upstream_trailers`` and are kept in ``trailers``: an HTTP/2 stream
sends them as trailing HEADERS, an HTTP/1.1 client in the last chunk of a chunked response. A
request's own trailers (an HTTP/2 client's, ``client_trailers``) go with the end of its body
(``Upstream.end_body``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Final

from mypy_extensions import trait

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.core.routing import ServiceRef
from gitops_ingress.proxy import customerrors, forwardauth, pages
from gitops_ingress.proxy.decide import decide
from gitops_ingress.proxy.errors import UpstreamError, UpstreamTimeout
from gitops_ingress.proxy.flow import PEER_FULL
from gitops_ingress.proxy.forwarding import RequestHead, last_chunk, upstream_request
from gitops_ingress.proxy.grpc import (
    DEADLINE_EXCEEDED,
    GRPC_STATUS_LINE,
    UNAVAILABLE,
    head_status,
    is_grpc,
    status_response,
    trailer_status,
)
from gitops_ingress.proxy.response_head import ResponseHead
from gitops_ingress.proxy.upstream import Upstream

if TYPE_CHECKING:
    from gitops_ingress.core.annotations import RouteEffects
    from gitops_ingress.core.annotations.authn import ForwardAuth
    from gitops_ingress.proxy.config import ProxySettings
    from gitops_ingress.proxy.counting import RequestSeries
    from gitops_ingress.proxy.server import ConnectionContext

log = logging.getLogger("gitops_ingress.proxy")

# how the response body is written to the client (Final: compiled code inlines them, setup.py)
_NONE: Final = 0
_LENGTH: Final = 1
_CHUNKED: Final = 2
_RAW: Final = 3
_NOTHING_DROPPED: Final[frozenset[bytes]] = frozenset()


@trait
class ClientSide:
    """Where an Exchange's answer goes: an HTTP/1.1 connection or an HTTP/2 stream.

    A mypyc trait, not a Protocol: both kinds are compiled classes that name it as a base, so the
    exchange's calls on its client side are C calls through the trait's table, where a Protocol's
    would be generic Python method calls (their lookups and the boxing of each argument were
    about a twentieth of the instructions of a small request). Interpreted, ``trait`` does
    nothing: this is a plain base class."""

    __slots__ = ()

    ctx: ConnectionContext
    settings: ProxySettings
    client_ip: bytes
    h2: bool  # True: the answer is given as a ResponseHead and body pieces (response_head)
    protocol: str  # "h1" or "h2", for the access log and metrics

    def write(self, data: bytes) -> None:
        """A whole answer of the proxy's own (pages.py), or bytes of a tunnel or an HTTP/1.1 head."""
        raise NotImplementedError

    def write_many(self, data: list[bytes]) -> None:
        raise NotImplementedError

    def response_head(self, status: int, head: ResponseHead, body_allowed: bool) -> None:
        raise NotImplementedError

    def gate_pause(self, reason: int) -> None:
        raise NotImplementedError

    def gate_resume(self, reason: int) -> None:
        raise NotImplementedError

    def exchange_done(self, exchange: Exchange, close: bool) -> None:
        raise NotImplementedError

    def start_tunnel(self, exchange: Exchange) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class Exchange:
    __slots__ = (
        "body_allowance",
        "body_done",
        "branch",
        "close_after",
        "conn",
        "counter",
        "ctx",
        "dropped",
        "ended_at",
        "endpoints",
        "error_pages",
        "finished",
        "forward_auth",
        "forwarded_host",
        "grpc_status",
        "h2",
        "head",
        "hold",
        "host_group",
        "ingress",
        "intercepted",
        "key",
        "kind",
        "local",
        "mode",
        "on_end",
        "out",
        "pending",
        "preferred",
        "preview_lines",
        "request_id",
        "request_trailers",
        "response_lines",
        "response_started",
        "sent",
        "started",
        "started_at",
        "status",
        "target",
        "timeouts",
        "trailers",
        "tried",
        "tunnel",
        "tunnel_buf",
        "upstream",
        "upstream_host",
    )  # fmt: skip

    def __init__(self, conn: ClientSide, head: RequestHead, now: float, local: bytes | None = None) -> None:
        self.conn = conn
        # read once here: ``conn`` is a trait, whose attributes compiled code finds through the
        # trait's table; these two are the exchange's own fields from now on (read often)
        self.ctx: ConnectionContext = conn.ctx
        self.h2: bool = conn.h2
        self.head = head  # shared with other requests (proxy/repeats.py), never changed
        self.target = head.target  # or its origin-form, when the head has the absolute-form (decide.py)
        self.started_at = now
        self.ended_at = now  # set again when the answer is complete (_record)
        self.started = False
        self.finished = False
        self.local = local  # a response decided while parsing (an error page)
        self.close_after = local is not None
        self.body_done = not head.has_body
        self.pending: list[bytes] = []  # body bytes awaiting a connection (the upstream frames them)
        self.upstream: Upstream | None = None
        self.key: ServiceRef | None = None
        self.endpoints: tuple[Endpoint, ...] = ()
        self.tried: tuple[Endpoint, ...] = ()
        self.response_started = False
        self.mode = _NONE
        self.status = 0
        self.kind = "stable"
        self.branch = ""
        self.host_group = ""
        self.counter: RequestSeries | None = None  # set with the route (decide.py)
        self.request_id = b""
        self.tunnel_buf: list[bytes] = []
        self.tunnel = False
        self.upstream_host = b""
        self.forwarded_host = b""
        self.preview_lines = b""  # X-Preview-Branch and baggage, for previews (decide.py)
        self.sent = False
        self.out: list[bytes] = []  # response bytes gathered during one upstream read
        self.trailers: list[tuple[bytes, bytes]] | None = None  # from the upstream, after the body
        self.request_trailers: list[tuple[bytes, bytes]] | None = None  # from an HTTP/2 client, after its body
        self.response_lines = b""  # header lines an annotation adds to the upstream's answer (CORS)
        self.timeouts: tuple[float, float, float] | None = None  # a route's (connect, read, send) (annotated.py)
        self.body_allowance = -1  # body bytes the route still takes (proxy-body-size); -1: no limit
        self.hold = 0  # response bytes held before writing (proxy-buffering: on); 0: streamed as read
        self.preferred: Endpoint | None = None  # the endpoint a sticky cookie chose (affinity)
        self.on_end: Callable[[], None] | None = None  # called once when the exchange ends (limit-connections)
        self.forward_auth: ForwardAuth | None = None  # auth-url: asked before dispatch (proxy/forwardauth.py)
        self.dropped: frozenset[bytes] = _NOTHING_DROPPED  # client lines not forwarded (auth-response-headers)
        self.grpc_status = -1  # a gRPC call's outcome, once seen (proxy/grpc.py); -1: none
        self.error_pages: RouteEffects | None = None  # custom-http-errors (proxy/customerrors.py)
        self.ingress = ""  # "namespace/name" of the route's Ingress, for the error backend (decide.py)
        self.intercepted = 0  # the upstream's status whose body is dropped for an error page; 0: none

    # --- start: decide where the request goes ---
    def start(self, now: float) -> None:
        """``now``: time.monotonic(), read by the caller in the callback that starts us."""
        self.started = True
        state = self.ctx.state
        state.in_flight += 1
        state.total_requests += 1
        if self.local is not None:
            self._respond(self.local, close=True, now=now)
            return
        local = decide(self)
        if local is not None:
            page, close = local
            self._respond(page, close=close, now=now)
            return
        auth = self.forward_auth
        if auth is not None:
            forwardauth.start(self, auth)
            return
        self._dispatch(now)

    def auth_done(self, page: bytes | None, close: bool, lines: bytes) -> None:
        """The auth-url check ended: answer ``page``, or go upstream with the auth service's lines."""
        if self.finished:  # the client left, or its body broke a rule, meanwhile
            return
        if page is not None:
            self._respond(page, close=close, now=monotonic())
            return
        auth = self.forward_auth
        if auth is not None:
            self.dropped = auth.copied
        self.upstream_host += lines  # after the Host value, as x-forwarded-prefix (annotated.adjust)
        self._dispatch(monotonic())

    def reusable(self) -> bool:
        """Whether the client connection can stay open after a response sent now."""
        return self.body_done and self.head.keep_alive and not self.ctx.state.shutting_down

    def _dispatch(self, now: float) -> None:
        pool = self.ctx.pool
        endpoint = self.preferred
        if endpoint is None or self.tried:  # a retry after the sticky endpoint failed goes elsewhere
            endpoint = pool.pick(self.key, self.endpoints, self.tried)
        self.tried += (endpoint,)
        upgrade = self.head.upgrade is not None
        upstream = pool.acquire(endpoint, upgrade)
        if upstream is not None:
            self._attach(upstream, now)
        else:
            timeouts = self.timeouts
            timeout = timeouts[0] if timeouts else self.ctx.settings.connect_timeout
            pool.connect(endpoint, self._connected, timeout, upgrade)

    def _connected(self, upstream: Upstream | None, error: UpstreamError | None) -> None:
        if self.finished:  # the client left meanwhile: keep the fresh connection for others
            if upstream is not None:
                upstream.release(True, monotonic())
            return
        if upstream is None:
            self.upstream_failed(error or UpstreamError("connect failed"), False)
        else:
            self._attach(upstream, monotonic())

    def _attach(self, upstream: Upstream, now: float) -> None:
        conn = self.conn
        self.upstream = upstream
        self.sent = True
        head = self.head
        data = upstream_request(
            head,
            self.target,
            self.upstream_host,
            self.forwarded_host,
            conn.client_ip,
            self.ctx.listener,
            self.request_id,
            self.preview_lines,
            self.dropped,
        )
        pending = self.pending
        if pending:
            self.pending = []
            conn.gate_resume(PEER_FULL)
        timeouts = self.timeouts
        trailers = self.request_trailers
        upstream.send(
            self,
            data,
            pending,
            ended=self.body_done and trailers is None,  # otherwise end_body below, with the trailers
            chunked=head.chunked,
            head_only=head.method == b"HEAD",
            now=now,
            read_timeout=timeouts[1] if timeouts else self.ctx.settings.read_timeout,
            send_timeout=timeouts[2] if timeouts else self.ctx.settings.send_timeout,
            trailers=head.te_trailers,
        )
        if trailers is not None and self.body_done:
            upstream.end_body(trailers)
        if head.expect_continue and not self.body_done and head.http11:
            conn.write(pages.CONTINUE)

    # --- the request body, from the client ---
    def client_body(self, data: bytes) -> None:
        if self.finished:
            return
        if self.body_allowance >= 0:  # a route's proxy-body-size (proxy/annotated.py)
            self.body_allowance -= len(data)
            if self.body_allowance < 0:
                self.refuse(pages.error(413, "request body larger than the route allows"))
                return
        if self.upstream is not None:
            self.upstream.write_body(data)
        else:
            self.pending.append(data)
            if sum(map(len, self.pending)) > self.ctx.settings.high_water:
                self.conn.gate_pause(PEER_FULL)

    def client_trailers(self, trailers: list[tuple[bytes, bytes]]) -> None:
        """Trailer fields of the request (an HTTP/2 client's), just before client_body_done."""
        self.request_trailers = trailers

    def client_body_done(self) -> None:
        self.body_done = True
        if not self.finished and self.upstream is not None:
            # when it comes before a connection, _attach ends the body
            self.upstream.end_body(self.request_trailers)

    def client_gone(self) -> None:
        """The client connection closed: nothing more can be sent; free the upstream."""
        if self.upstream is not None:
            self.upstream.detach()
            self.upstream = None
        if self.started and not self.finished:
            self.ctx.state.in_flight -= 1
            self.status = self.status or 499  # nginx's "client closed request"
            self._record(monotonic())
        self.finished = True

    def refuse(self, page: bytes) -> None:
        """The client broke the rules while sending this request's body: answer ``page``, close."""
        if self.finished:
            self.conn.close()
            return
        if self.upstream is not None:
            self.upstream.detach()
            self.upstream = None
        self.pending.clear()
        self.body_done = True
        if self.response_started:
            self.conn.abort()
            return
        self._respond(page, close=True, now=monotonic())

    # --- the response, from the upstream (proxy/upstream.py, proxy/h2upstream_stream.py) ---
    def upstream_head(self, status: int, head: ResponseHead, body_allowed: bool) -> None:
        conn = self.conn
        self.status = status
        error_pages = self.error_pages
        if error_pages is not None and status in error_pages.custom_errors and not is_grpc(self.head):
            self.intercepted = status  # its body is read and dropped; the page follows (upstream_done)
            self.status = 0  # nothing is answered yet: a client that leaves meanwhile is a 499
            self.mode = _NONE
            return
        self.response_started = True
        if self.h2:  # the stream frames the answer itself
            if head.lines.find(GRPC_STATUS_LINE) >= 0:  # a trailers-only gRPC answer (proxy/grpc.py)
                self.grpc_status = head_status(head.lines)
            self.mode = _RAW if body_allowed else _NONE
            conn.response_head(status, head, body_allowed)
            return
        if status == 101:
            if self.head.upgrade is None:
                conn.abort()
                return
            conn.write(head.client_head(101, length=None, chunked=False, close=False, keep_alive_10=False))
            self.tunnel = True  # recorded when the tunnel closes (client_gone)
            conn.start_tunnel(self)
            if self.tunnel_buf and self.upstream is not None:
                self.upstream.write(b"".join(self.tunnel_buf))
                self.tunnel_buf.clear()
            return
        close = not (self.head.keep_alive and not self.ctx.state.shutting_down) or self.head.upgrade is not None
        added = self.response_lines
        if head.length_head and body_allowed and not close and self.head.http11 and not added:
            self.mode = _LENGTH  # the usual case, its client head built once (ResponseHead)
            self.close_after = False
            self.out.append(head.length_head)
            return
        length: bytes | None = None
        chunked = False
        if not body_allowed:
            self.mode = _NONE
            length = head.content_length
        elif head.content_length is not None and not head.chunked:
            self.mode = _LENGTH
            length = head.content_length
        elif self.head.http11:
            self.mode = _CHUNKED
            chunked = True
        else:
            self.mode = _RAW
            close = True
        self.close_after = close
        http10_keep_alive = not self.head.http11 and not close
        date = b"" if head.has_date else self.ctx.state.date.line()
        self.out.append(
            head.client_head(
                status,
                length=length,
                chunked=chunked,
                close=close,
                keep_alive_10=http10_keep_alive,
                date=date,
                added=added,
            )
        )

    def upstream_interim(self, status: int, head: ResponseHead) -> None:
        """A 1xx other than 100 and 101 (103 Early Hints, 102): passed on to HTTP/1.1 clients
        as it came, minus hop-by-hop lines (RFC 9110 15.2: a 1.0 client cannot read them). 100
        Continue never comes here (upstream.py): _attach answers Expect itself."""
        if self.head.http11 and not self.response_started:
            self.out.append(head.client_head(status, length=None, chunked=False, close=False, keep_alive_10=False))

    def upstream_body(self, data: bytes) -> None:
        if self.mode == _CHUNKED:
            self.out += (b"%x\r\n" % len(data), data, b"\r\n")
        elif self.mode != _NONE:
            self.out.append(data)

    def upstream_trailers(self, trailers: list[tuple[bytes, bytes]]) -> None:
        """Trailer fields of the response, after its last body piece and before upstream_done."""
        self.trailers = trailers
        self.grpc_status = trailer_status(trailers, self.grpc_status)

    def flush(self) -> None:
        out = self.out
        if out:
            if self.hold and self.upstream is not None:
                # proxy-buffering: held until the response is complete (no upstream any more) or
                # fills the hold; from then on it streams
                if sum(map(len, out)) < self.hold:
                    return
                self.hold = 0
            self.conn.write_many(out)  # transports take the items before returning: reuse the list
            out.clear()

    def upstream_done(self, reusable: bool, now: float) -> None:
        upstream, self.upstream = self.upstream, None
        if self.intercepted:
            if upstream is not None:
                upstream.release(reusable and self.body_done, now)
            self._error_page(self.intercepted)
            return
        if self.mode == _CHUNKED:
            trailers = self.trailers
            # an HTTP/1.1 client takes them only if it said so
            self.out.append(last_chunk(trailers if self.head.te_trailers else None))
        self.flush()
        if upstream is not None:
            upstream.release(reusable and self.body_done, now)
        self._finish(self.close_after or not self.body_done, now)

    def upstream_failed(self, error: UpstreamError, response_started: bool) -> None:
        self.upstream = None
        ctx = self.ctx
        ctx.observer.upstream_error(error.reason)
        if self.finished:
            return
        if self.intercepted:  # the dropped body broke off: the page is sent all the same
            self._error_page(self.intercepted)
            return
        if self.response_started:
            # half a response: pass on what came, then close, the only way left to say it broke
            log.warning(
                "upstream %s failed in the middle of the response (status %d) for %s: %s",
                self.tried[-1] if self.tried else self.key,
                self.status,
                self.request_id.decode(),
                error,
            )
            self.flush()
            self.conn.close()
            return
        now = monotonic()
        if self._may_retry(error, response_started):
            self._dispatch(now)
            return
        # a Service whose endpoints refuse fails every request alike: once per interval (quietlog.py)
        ctx.warnings.warning(("upstream", self.key, error.reason), "upstream error for %s: %s", self.key, error)
        close = not self.reusable()
        if is_grpc(self.head):  # a gRPC client reads grpc-status, not an error page (proxy/grpc.py)
            code = self.grpc_status = DEADLINE_EXCEEDED if isinstance(error, UpstreamTimeout) else UNAVAILABLE
            page = status_response(code, error.public, close=close)
        else:
            error_pages = self.error_pages
            if error_pages is not None and error.status in error_pages.custom_errors:
                self._error_page(error.status)  # nginx's error_page covers its own 502 and 504 too
                return
            page = pages.service_error(
                error.status, error.public, self.key, debug=self.ctx.settings.debug_pages, close=close
            )
        self._respond(page, close=close, now=now)

    def _error_page(self, status: int) -> None:
        """custom-http-errors: fetch the page for ``status`` (proxy/customerrors.py)."""
        error_pages = self.error_pages
        if error_pages is not None:
            customerrors.start(self, error_pages, status, self.ingress)

    def error_page_done(self, page: bytes, close: bool) -> None:
        """The error page for the intercepted status came (or the proxy's own stands in)."""
        if not self.finished:
            self._respond(page, close=close, now=monotonic())

    def _may_retry(self, error: UpstreamError, response_started: bool) -> bool:
        head = self.head
        if response_started or head.has_body or head.upgrade is not None or not head.idempotent:
            return False
        if len(self.tried) > self.ctx.settings.retries:
            return False
        # a read timeout means the upstream may still be working on it: do not double the load
        return not (isinstance(error, UpstreamTimeout) and self.sent)

    def tunnel_data(self, data: bytes) -> None:
        self.conn.write(data)

    def tunnel_closed(self) -> None:
        self.upstream = None
        self.conn.close()

    def tunnel_from_client(self, data: bytes) -> None:
        if self.tunnel and self.upstream is not None:
            self.upstream.write(data)
        else:
            self.tunnel_buf.append(data)

    def upstream_writable(self, writable: bool) -> None:
        if writable:
            self.conn.gate_resume(PEER_FULL)
        else:
            self.conn.gate_pause(PEER_FULL)

    # --- the end ---
    def _respond(self, data: bytes, *, close: bool, now: float) -> None:
        self.response_started = True
        self.status = int(data[9:12])
        conn = self.conn
        if self.head.method == b"HEAD":  # the GET answer's fields, never its content (RFC 9110 9.3.2)
            data = data[: data.find(b"\r\n\r\n") + 4]
        dated = pages.dated(data, self.ctx.state.date.line())
        if conn.h2:  # an HTTP/2 stream frames a whole page itself (h2stream.py): one piece
            conn.write(b"".join(dated))
        else:
            conn.write_many(dated)
        self._finish(close, now)

    def _finish(self, close: bool, now: float) -> None:
        if self.finished:
            return
        self._record(now)
        self.finished = True
        self.conn.exchange_done(self, close)

    def _record(self, now: float) -> None:
        """Count the answer, ended at ``now`` (time.monotonic(), read once per answer by the caller)."""
        ctx = self.ctx
        on_end = self.on_end
        if on_end is not None:
            self.on_end = None
            on_end()
        self.ended_at = now
        seconds = self.ended_at - self.started_at
        counter = self.counter
        if counter is None:  # answered before routing (a refusal, a redirect): no route, no labels yet
            counter = ctx.observer.request_counter(self.kind, self.branch, self.host_group, self.conn.protocol)
        counter.count(self.status, seconds)
        if self.grpc_status >= 0:
            ctx.observer.grpc_answer(self.host_group, self.grpc_status)
        if ctx.on_access is not None:  # a tuple of what is at hand; formatted per batch (proxy/accesslog.py)
            conn = self.conn
            head = self.head
            ctx.on_access(
                (
                    conn.client_ip,
                    conn.protocol,
                    head.method,
                    self.target,
                    head.host,
                    self.status,
                    seconds,
                    self.kind,
                    self.branch,
                    self.host_group,
                    self.tried[-1] if self.tried else None,
                    self.request_id,
                    now,
                    self.grpc_status,
                )
            )
