"""One keep-alive connection to an upstream endpoint: an asyncio.Protocol over HttpResponseParser.

The connection does not know about clients. While it serves a request it reports to its
exchange (proxy/exchange.py, the ``upstream_*`` calls): the response head, body pieces as they
arrive, the end (and whether the connection may be reused), or a failure mapped to our own
UpstreamError. The exchange is typed as the class itself, not as a Protocol: this module is
compiled (setup.py), and a call through a Protocol is a generic Python method call, a call on a
compiled class a direct C call; there is no other kind of sink. Between requests it sits in the pool (proxy/pool.py), where bytes arriving or the
peer closing simply retire it.

Three parser details shape the code (proxy/upstream_reader.py says why). For HEAD the head
callback raises ``HeadDone`` to stop the parser, and a fresh parser takes over. A response
delimited by the connection closing is completed in ``connection_lost``. And this protocol has no
``on_header``: it keeps the bytes received since the request was sent until the head is complete
and cuts the head out of them whole (``head_bounds``), forwarded as one block by
``ResponseHead``; only a request whose client takes trailers gets a parser over a
``TrailerReader``.

One shortcut skips the parser: a read that holds exactly one whole response, whose head is
byte for byte one that httptools already accepted (``ResponseHeads.known``) and is framed by a
plain Content-Length (``ResponseHead.fixed_length``), is passed on as it is. Nothing in it can
be read differently: the head was validated, and the body is exactly the announced length. The
parser is then untouched and still at a message boundary, which holds because a message that
begins while no request is outstanding (bytes after a response) retires the connection. Each
connection remembers the head bytes of its last shortcut: a read that starts with them and is
as long as that head's framing says is the same head again, with no search and no lookup
(the request side does the same per client connection, proxy/protocol.py).

Timeouts use one lazily re-armed timer per connection: the hot path only records the time of the
last read; when the timer fires it decides whether the upstream was really silent for too long
(not merely paused by us because the client reads slowly), and re-arms otherwise.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import TYPE_CHECKING, cast

from httptools import HttpParserCallbackError, HttpParserError, HttpParserUpgrade, HttpResponseParser
from mypy_extensions import trait

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.proxy.errors import UpstreamError, UpstreamProtocolError, UpstreamReset, UpstreamTimeout
from gitops_ingress.proxy.flow import PEER_FULL, ReadGate, set_limits
from gitops_ingress.proxy.forwarding import LAST_CHUNK, last_chunk
from gitops_ingress.proxy.response_head import ResponseHead
from gitops_ingress.proxy.timers import LazyTimer
from gitops_ingress.proxy.upstream_reader import HeadDone, TrailerReader, head_bounds

if TYPE_CHECKING:
    from gitops_ingress.proxy.exchange import Exchange
    from gitops_ingress.proxy.pool import UpstreamPool


@trait
class Upstream:
    """What an exchange talks to: this module's connection, or one stream of an HTTP/2
    connection (proxy/h2upstream_stream.py). Request bodies are handed over as they came; the
    upstream frames them (HTTP/1.1 chunks here, DATA frames there). A mypyc trait, as
    ``exchange.ClientSide`` is and for the same reason: the exchange's calls are C calls."""

    __slots__ = ()

    closed: bool

    def send(self, sink: Exchange, head: bytes, body: list[bytes], *, ended: bool, chunked: bool,
             head_only: bool, now: float, read_timeout: float, send_timeout: float, trailers: bool = False) -> None:  # fmt: skip
        raise NotImplementedError

    def write_body(self, data: bytes) -> None:
        raise NotImplementedError

    def end_body(self, trailers: list[tuple[bytes, bytes]] | None = None) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def pause_reading(self, paused: bool) -> None:
        raise NotImplementedError

    def detach(self) -> None:
        raise NotImplementedError

    def release(self, reusable: bool, now: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class UpstreamConnection(asyncio.Protocol, Upstream):
    __slots__ = (
        "body_allowed",
        "busy",
        "chunked",
        "closed",
        "endpoint",
        "gate",
        "group",
        "head",
        "head_from",
        "head_only",
        "head_parts",
        "head_seen",
        "idle_since",
        "last_head",
        "last_read",
        "last_whole",
        "parser",
        "plain_parser",
        "pool",
        "read_timeout",
        "send_timeout",
        "sink",
        "stalled_since",
        "status",
        "timer",
        "transport",
        "tunnel",
    )  # fmt: skip

    def __init__(self, pool: UpstreamPool, endpoint: Endpoint) -> None:
        self.pool = pool
        self.endpoint = endpoint
        self.group = pool.group(endpoint)  # where this connection idles in the pool, and is counted
        self.busy = False  # counted as busy by ``group``
        self.transport: asyncio.Transport | None = None
        self.gate: ReadGate | None = None
        self.plain_parser = HttpResponseParser(self)
        self.parser = self.plain_parser
        self.sink: Exchange | None = None
        self.head = ResponseHead()
        self.head_parts: list[bytes] | None = None  # bytes received while a head is awaited
        self.head_from = 0  # where in them the awaited head starts (after 1xx interim heads)
        self.status = 0
        self.head_only = False
        self.head_seen = False
        self.body_allowed = True
        self.tunnel = False
        self.chunked = False  # the request body being sent is chunked
        self.closed = False
        self.last_read = 0.0
        self.last_whole = b""  # the head bytes (with the empty line) of the last shortcut taken
        self.last_head = self.head  # and the head they are
        self.idle_since = 0.0
        self.read_timeout = pool.settings.read_timeout  # this request's (a route's proxy-read-timeout)
        self.send_timeout = pool.settings.send_timeout  # this request's (a route's proxy-send-timeout)
        self.stalled_since = 0.0  # when the upstream stopped taking our bytes (pause_writing); 0: it takes them
        self.timer = LazyTimer(asyncio.get_running_loop(), self._on_timer)

    # --- asyncio.Protocol ---
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.gate = ReadGate(self.transport)
        settings = self.pool.settings
        set_limits(self.transport, settings.high_water, settings.low_water)

    def data_received(self, data: bytes) -> None:
        sink = self.sink
        if self.tunnel and sink is not None:
            sink.tunnel_data(data)
            return
        if sink is None:  # an idle pooled connection has nothing to say: retire it
            self.close()
            return
        self.last_read = monotonic()  # also the time of anything this read completes
        parts = self.head_parts
        if parts is not None:
            if not parts and not self.head_only and self._whole_response(sink, data):
                return
            parts.append(data)
        try:
            self.parser.feed_data(data)
            if self.sink is sink:  # otherwise the response ended and was flushed then
                sink.flush()  # one write to the client per read from the upstream
        except HttpParserUpgrade as exc:
            self._upgraded(data[exc.args[0] :] if exc.args else b"")
        except HttpParserCallbackError as exc:
            if isinstance(exc.__context__, HeadDone):
                reusable = self._head_reusable()
                self.plain_parser = self.parser = HttpResponseParser(self)
                self._finish(reusable)
            else:
                self._fail(UpstreamProtocolError(f"upstream {self.endpoint}: {exc}"))
        except HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"upstream {self.endpoint} sent an invalid response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        # let go of everything that points back here (the parsers hold us as their callbacks,
        # the transport and the gate hold us as the protocol, the timer as its callback), so a
        # lost connection is freed at once by reference counting, not by the cyclic GC
        self.timer.stop()
        self.transport = None
        self.gate = None
        self.plain_parser = self.parser = HttpResponseParser(None)
        self.pool.forget(self)
        sink, self.sink = self.sink, None
        if sink is None:
            return
        if self.tunnel:
            sink.tunnel_closed()
        elif (
            exc is None  # a clean close, not a reset
            and self.head_seen
            and self.body_allowed
            and self.head.content_length is None
            and not self.head.chunked
        ):
            sink.upstream_done(False, monotonic())  # a body delimited by the close is complete now
        else:
            sink.upstream_failed(UpstreamReset(f"upstream {self.endpoint} closed the connection"), self.head_seen)

    def pause_writing(self) -> None:
        if self.sink is not None:
            now = monotonic()
            self.stalled_since = now
            self.timer.arm(now + self.send_timeout)  # proxy_send_timeout: between two successive writes
            self.sink.upstream_writable(False)

    def resume_writing(self) -> None:
        self.stalled_since = 0.0
        if self.sink is not None:
            self.sink.upstream_writable(True)

    # --- httptools callbacks ---
    def on_message_begin(self) -> None:
        if self.sink is None:  # bytes after the response, unasked: this connection is not reusable
            self.close()

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        self.status = status
        parts = self.head_parts
        if parts is None:  # an unasked message (see on_message_begin): nobody to give it to
            return
        received = parts[0] if len(parts) == 1 else b"".join(parts)
        start, end = head_bounds(received, self.head_from)
        if status < 200 and status != 101:
            # an interim answer: 100 Continue is dropped (the exchange answers Expect itself), the
            # sink decides whether the client gets the others (103 Early Hints); the final head follows
            self.head_parts, self.head_from = [received], end + 2
            if self.sink is not None and status != 100:
                self.sink.upstream_interim(status, self.pool.heads.parse(received[start:end]))
            return
        self.head_parts = None
        self.head = self.pool.heads.parse(received[start:end])
        self.head_seen = True
        self.body_allowed = not (self.head_only or status in (204, 304) or status == 101)
        if self.sink is not None:
            self.sink.upstream_head(status, self.head, self.body_allowed)
        if self.head_only and status not in (204, 304, 101):
            raise HeadDone

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.upstream_body(body)

    def on_message_complete(self) -> None:
        if self.status < 200 or self.status == 101:
            return
        self._finish(reusable=self.parser.should_keep_alive())

    # --- used by the exchange and the pool ---
    def send(self, sink: Exchange, head: bytes, body: list[bytes], *, ended: bool, chunked: bool,
             head_only: bool, now: float, read_timeout: float, send_timeout: float, trailers: bool = False) -> None:  # fmt: skip
        """Start a request: ``head`` and the body pieces already at hand (``ended``: all of it),
        written in one go; ``now`` is time.monotonic(), read by the caller in this callback;
        ``read_timeout``: how long the upstream may be silent for this request; ``trailers``: the
        client takes trailers, so those of a chunked response are read (at a message boundary a
        fresh parser is the same parser)."""
        self.chunked = chunked
        if trailers:
            self.parser = HttpResponseParser(TrailerReader(self))
        elif self.parser is not self.plain_parser:
            self.parser = self.plain_parser
        data = head
        if chunked:
            data += b"".join([b"%x\r\n%b\r\n" % (len(piece), piece) for piece in body if piece])
            if ended:
                data += LAST_CHUNK
        elif body:
            data += b"".join(body)
        self.sink = sink
        self.head_only = head_only
        self.head_seen = False
        self.head_parts = []
        self.head_from = 0
        self.tunnel = False
        self.status = 0
        self.last_read = now
        self.read_timeout = read_timeout
        self.send_timeout = send_timeout
        if self.closed or self.transport is None:
            # lost between the connect and now (the peer closed first): fail on the loop's next
            # turn, as a failure while sending would, instead of waiting for the read timeout
            reset = UpstreamReset(f"upstream {self.endpoint} closed the connection before the request was sent")
            asyncio.get_running_loop().call_soon(self._fail, reset)
            return
        self.timer.arm(now + read_timeout)
        self.transport.write(data)

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not self.closed:  # a closed transport refuses writes (uvloop raises)
            transport.write(data)

    def write_body(self, data: bytes) -> None:
        self.write(b"%x\r\n%b\r\n" % (len(data), data) if self.chunked else data)

    def end_body(self, trailers: list[tuple[bytes, bytes]] | None = None) -> None:
        """The request body is complete; ``trailers`` (an HTTP/2 client's) go in its last chunk, and
        are dropped when the body is framed by Content-Length: there is no place for them."""
        if self.chunked:
            self.write(last_chunk(trailers))

    def release(self, reusable: bool, now: float) -> None:
        """The exchange is done with this connection at ``now``: back to the pool, or closed."""
        if reusable:
            self.pool.release(self, now)
        else:
            self.close()

    def pause_reading(self, paused: bool) -> None:
        """The client cannot take more: stop reading the response (and stop blaming the upstream)."""
        if self.gate is None:
            return
        if paused:
            self.gate.pause(PEER_FULL)
        else:
            self.last_read = monotonic()
            self.gate.resume(PEER_FULL)

    def detach(self) -> None:
        """The client side gave up on this request: the connection is not reusable."""
        self.sink = None
        self.close()

    def parked(self, now: float) -> None:
        """Now idle in the pool, since ``now`` (time.monotonic())."""
        self.sink = None
        self.idle_since = now
        self.timer.arm(self.idle_since + self.pool.settings.upstream_idle_timeout)

    def close(self) -> None:
        self.closed = True
        self.timer.cancel()
        if self.transport is not None:
            self.transport.close()

    # --- internals ---
    def _whole_response(self, sink: Exchange, data: bytes) -> bool:
        """The shortcut of the module docstring; False (nothing done) when it does not apply."""
        last = self.last_whole
        head = self.last_head
        if last and data.startswith(last) and head.fixed_length == len(data) - len(last):
            # the head of this connection's last shortcut again (an upstream repeats itself until
            # its Date moves on): no search for its end and no lookup
            end = len(last) - 4
        else:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                return False
            known = self.pool.heads.known(data[: end + 2])
            if known is None or known.fixed_length != len(data) - end - 4:
                return False
            head = self.last_head = known
            self.last_whole = data[: end + 4]
        self.head_parts = None
        self.head = head
        self.status = head.status
        self.head_seen = True
        self.body_allowed = True
        sink.upstream_head(head.status, head, True)
        if head.fixed_length:
            sink.upstream_body(data[end + 4 :])
        self.sink = None
        sink.upstream_done(True, self.last_read)  # fixed_length: kept alive, see ResponseHead
        return True

    def _head_reusable(self) -> bool:
        return b"close" not in self.head.connection_tokens and self.parser.get_http_version() == "1.1"

    def _finish(self, reusable: bool) -> None:
        """The response ended in the read being parsed (so ``last_read`` is the time now)."""
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.upstream_done(reusable, self.last_read)

    def _fail(self, error: UpstreamError) -> None:
        sink, self.sink = self.sink, None
        self.close()
        if sink is not None:
            sink.upstream_failed(error, self.head_seen)

    def _upgraded(self, rest: bytes) -> None:
        if self.status != 101 or self.sink is None:
            self._fail(UpstreamProtocolError(f"upstream {self.endpoint} upgraded unasked"))
            return
        self.tunnel = True
        self.timer.cancel()  # a tunnel may be quiet for as long as its ends like
        if rest:
            self.sink.tunnel_data(rest)

    def _on_timer(self) -> None:
        if self.closed or self.tunnel:
            return
        settings = self.pool.settings
        now = monotonic()
        if self.sink is None:
            if now - self.idle_since >= settings.upstream_idle_timeout:
                self.close()
            else:  # timers may fire a hair early
                self.timer.arm(self.idle_since + settings.upstream_idle_timeout)
            return
        stalled = self.stalled_since
        if stalled:
            if now - stalled >= self.send_timeout:
                self._fail(
                    UpstreamTimeout(f"upstream {self.endpoint} took no request bytes for {self.send_timeout:g}s")
                )
                return
            self.timer.arm(stalled + self.send_timeout)
        if self.gate is not None and self.gate.paused:
            self.timer.arm(now + self.read_timeout)  # we paused it: the client is slow, not the upstream
            return
        if now - self.last_read >= self.read_timeout:
            self._fail(UpstreamTimeout(f"upstream {self.endpoint} sent nothing for {self.read_timeout:g}s"))
            return
        self.timer.arm(self.last_read + self.read_timeout)
