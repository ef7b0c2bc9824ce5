"""Reading HTTP/1.1 requests off one client connection: httptools' parser callbacks and limits.

proxy/protocol.py keeps the connection (its life, the queue of pipelined exchanges, writes, flow
control, its timer); this is how its bytes become requests. The parser reports a request in
pieces: the target (bounded by ``max_request_line``), each header (``max_header_bytes``,
``max_headers``), the end of the head, body pieces (``max_body``). When a head is complete an
Exchange is queued on the connection (``enqueue``), and the body pieces that follow go to it. A
limit passed raises ClientRequestError in the callback; httptools hands it back to the
connection's ``feed_data`` call as HttpParserCallbackError, and the connection refuses the
request. Trailers of a chunked request body are dropped, as the Trailer header is.

Two llhttp details are met here. ``request_parser`` lets it parse any HTTP/x.y version, so that
1.2 is read as 1.1 and 2.0 is answered 505 instead of llhttp's 400 for both. And it knows only
its own list of methods: a request with another token (RFC 9110 9.1) is parsed again with
``_STAND_IN`` shown in its place (``extension_method``), and its head gets the real method.

The parser is made at the first head that is not a known one (proxy/repeats.py): a client that
repeats its heads never needs one, and an idle connection holds 0.9 KiB less (docs/proxy.md).
Nor does one that sends only plain heads whole, one per read: in the compiled build those are read
in one C call (``read_whole``; proxy/native/headscan.c says what it takes and why that is safe),
and their pieces go through the callbacks below, as the parser's would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, cast

from httptools import HttpRequestParser

from gitops_ingress.proxy.errors import ClientRequestError
from gitops_ingress.proxy.exchange import Exchange
from gitops_ingress.proxy.forwarding import RequestHead, RequestHeadBuilder

if TYPE_CHECKING:
    from gitops_ingress.proxy.protocol import ClientConnection

# a request method is any token (RFC 9110 9.1, 5.6.2); llhttp knows only its own list (see
# RequestReader.extension_method), so this finds the token it refused
_METHOD: Final = re.compile(rb"[\r\n]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ")
_STAND_IN: Final = b"GET"  # what llhttp is shown instead of an extension method: no special framing


Scanned = tuple[bytes, bytes, list[bytes | None]]  # method, target, [name, value, line or None, ...]


def _head_scanner() -> Callable[[bytes], Scanned | None] | None:
    """proxy/native/headscan.c's ``scan_head`` where this process runs the compiled build; None in
    the source build, which is what a machine without a C compiler runs: there every head takes
    the parser."""
    from gitops_ingress.proxy import BUILD

    if BUILD.kind != "compiled":
        return None
    try:
        from gitops_ingress.proxy.native._headscan import scan_head
    except ImportError:  # compiled without it (an older build in place)
        return None
    return scan_head


SCAN_HEAD: Final = _head_scanner()


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


class RequestReader:
    """The parser's callbacks for one connection, and what it has read of the current request."""

    __slots__ = (
        "body_target",
        "conn",
        "head_bytes",
        "head_started",
        "last_block",
        "last_head",
        "last_keep_alive",
        "method",
        "parser",
        "parsing",
        "received",
        "settings",
    )  # fmt: skip
    __deletable__ = ("conn",)  # release(): a compiled class's attributes are not deletable otherwise

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.settings = conn.settings
        self.parser: HttpRequestParser | None = None  # made when first needed (the module docstring)
        self.method = b""  # an extension method llhttp was shown _STAND_IN for (the next head's)
        self.parsing: RequestHeadBuilder | None = None  # the head being parsed
        self.body_target: Exchange | None = None  # the exchange whose body is being parsed
        self.head_started = 0.0
        self.head_bytes = 0
        self.received = 0  # body bytes of body_target so far (for max_body)
        self.last_keep_alive = True  # the last request parsed let the connection live on
        # the last stored head (proxy/repeats.py) this connection sent, and its bytes: a client
        # repeating one request (a poller, a health check) is answered without a lookup
        self.last_block = b""
        self.last_head: RequestHead | None = None

    def fresh_parser(self) -> HttpRequestParser:
        """A new parser, at a message boundary, in place of the one there was."""
        parser = self.parser = request_parser(self)
        return parser

    def release(self) -> None:
        """The connection is done with this reader (ClientConnection._let_go): the parser (it holds
        our bound methods) and the connection (it holds us) are let go, so that none of the three
        is left in a reference cycle. No callback runs after this: nothing is fed any more."""
        self.parser = None
        del self.conn

    def extension_method(self, data: bytes) -> bytes | None:
        """llhttp refuses methods not in its list (``FOOBAR``, any valid token RFC 9110 allows):
        when the refused message is the first of ``data`` and begins with a token, the bytes to parse
        again with the fresh parser this makes, ``_STAND_IN`` in its place (its head gets the real
        method); None when it does not begin with a token.
        A pipelined request behind another one in the same read is not retried (a 400): finding
        where it starts would take a parser of our own."""
        match = _METHOD.match(data)
        if match is None:
            return None
        self.fresh_parser()
        self.parsing = None
        self.method = match.group(1)
        return data[: match.start(1)] + _STAND_IN + data[match.end(1) :]

    def on_message_begin(self) -> None:
        self.parsing = RequestHeadBuilder()
        self.head_bytes = 0
        conn = self.conn
        now = conn.last_read
        self.head_started = now
        conn.fresh = False
        conn.timer.arm(now + self.settings.header_timeout)

    def on_url(self, url: bytes) -> None:
        head = self.parsing
        if head is not None:
            head.target += url
            if len(head.target) > self.settings.max_request_line:
                raise ClientRequestError(414, f"request target longer than {self.settings.max_request_line} bytes")

    def on_header(self, name: bytes, value: bytes, line: bytes | None = None) -> None:
        """``line``: the header's whole line when it is name ": " value CRLF (the scanner's)."""
        head = self.parsing
        if head is None:
            return  # trailers of a chunked body: dropped, as the Trailer header is
        head.header_bytes += len(name) + len(value) + 4
        if head.header_bytes > self.settings.max_header_bytes:
            raise ClientRequestError(431, f"request headers larger than {self.settings.max_header_bytes} bytes")
        head.header_count += 1
        if head.header_count > self.settings.max_headers:
            raise ClientRequestError(431, f"more than {self.settings.max_headers} request headers")
        head.add(name, value, line)

    def read_whole(self, data: bytes) -> bool:
        """``data``, a read begun between messages, as one whole head that the scanner takes
        (``SCAN_HEAD``: no parser, the same callbacks); False when it declines, and then ``data``
        is the parser's. Raises ClientRequestError as the callbacks do."""
        if SCAN_HEAD is None:
            return False
        scanned = SCAN_HEAD(data)
        if scanned is None:
            return False
        method, target, fields = scanned
        self.on_message_begin()
        self.on_url(target)
        for at in range(0, len(fields), 3):
            self.on_header(cast(bytes, fields[at]), cast(bytes, fields[at + 1]), fields[at + 2])
        self.complete(method, True, True)  # HTTP/1.1 and no "close": the only heads it takes
        return True

    def on_headers_complete(self) -> None:
        if self.parsing is None:
            return
        parser = cast(HttpRequestParser, self.parser)  # the parser calling us
        method = self.method or parser.get_method()
        self.method = b""
        version = parser.get_http_version()
        http11 = version == "1.1"
        if not http11 and version != "1.0":
            http11 = _http_version(version)
        self.complete(method, http11, parser.should_keep_alive())

    def complete(self, method: bytes, http11: bool, keep_alive: bool) -> None:
        """The head read so far is whole: its exchange is queued on the connection."""
        parsing = self.parsing
        if parsing is None:
            return
        self.parsing = None
        head = parsing.finish(method, http11, keep_alive)
        limit = self.settings.max_body
        if limit is not None and head.content_length is not None and head.content_length > limit:
            raise ClientRequestError(413, f"request body larger than {limit} bytes")
        self.last_keep_alive = head.keep_alive
        exchange = Exchange(self.conn, head, self.conn.last_read)
        self.received = 0
        self.body_target = exchange if head.has_body else None
        self.conn.enqueue(exchange)

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
