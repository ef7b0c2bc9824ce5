"""Header handling in one pass: what a request keeps, what it loses, what the proxy adds.

``RequestHeadBuilder.add`` sees each request header once as the parser reports it: ordinary headers are
appended untouched (one dict lookup each for the usual spellings, proxy/headerkinds.py), the few that matter to a proxy are
sorted out on the spot, and the framing rules that defeat request smuggling are enforced before
anything could reach an upstream (one Content-Length value, Transfer-Encoding exactly
``chunked``, never both, one Host). ``upstream_request`` then writes the head for the upstream in
one join: hop-by-hop headers (RFC 9110 7.6.1: Connection and what it names, Keep-Alive, Proxy-*,
TE, Trailer, Upgrade unless upgrading) gone, X-Forwarded-*, X-Real-IP, Forwarded (whom to
believe: proxy/forwarded.py) and X-Request-Id set, and for preview hosts the stable Host restored.

Responses get the mirror treatment in proxy/response_head.py.
"""

from __future__ import annotations

import os
from typing import Final

from gitops_ingress.proxy.errors import ClientRequestError
from gitops_ingress.proxy.forwarded import ListenerForwarding
from gitops_ingress.proxy.headerkinds import (
    ACCEPT,
    BAGGAGE,
    CL,
    CONN,
    COOKIE,
    EXPECT,
    FORWARDED,
    HOST,
    HOST_TABLE,
    ORDINARY,
    PREVIEW_KEY,
    REAL_IP,
    REQUEST_ID_TABLE,
    TE,
    TE_FIELD,
    UPGRADE,
    XF_HOST,
    XF_PORT,
    XF_PROTO,
    XFF,
    XRID,
    header_kind,
    only,
)
from gitops_ingress.proxy.routingkey import LINK

MAX_HOST: Final = 253 + 1 + 6  # a DNS name, a trailing dot, ":65535"
ORDINARY_CONNECTION_TOKENS: Final = frozenset((b"close", b"keep-alive", b"upgrade"))
NO_TOKENS: Final[frozenset[bytes]] = frozenset()  # one object, not a frozenset() call per head
_BAGGAGE_NAME: Final = frozenset((b"baggage",))


_COMMON_CONNECTION: Final = {
    spelling: frozenset((spelling.lower(),))
    for spelling in (b"keep-alive", b"Keep-Alive", b"close", b"Close", b"upgrade", b"Upgrade")
}


def connection_tokens(value: bytes) -> frozenset[bytes]:
    """The lowercased tokens of a Connection header (the usual one-word values are not split)."""
    known = _COMMON_CONNECTION.get(value)
    if known is not None:
        return known
    return frozenset(token.strip().lower() for token in value.split(b","))


def valid_host(value: bytes) -> bool:
    """A Host value we route on: short enough for DNS, only name, IP-literal and port bytes."""
    return len(value) <= MAX_HOST and only(value, HOST_TABLE)


_LINK: Final = LINK  # a name of this module: compiled code reads it without a dict lookup


def _holds(data: bytes, part: bytes) -> bool:
    """``part in data``, at a third of the cost in CPython 3.11 (callgrind): ``in`` on bytes first
    tries ``part`` as an int and builds a TypeError to clear (2.2k instructions), find() parses its
    arguments the slow way (1.1k); partition() takes its one argument as it is (0.7k)."""
    return bool(data.partition(part)[1])


def links(query: bytes) -> bool:
    """Whether a target's query may hold the preview link parameter (proxy/routingkey.py)."""
    return _holds(query, _LINK)


class RequestHead:
    """One finished request head, as the proxy needs it; made by ``RequestHeadBuilder.finish``.

    Never changed once made: every attribute is Final, so mypy refuses a write and the compiled
    class has no setter at all. That is what lets proxy/repeats.py hand one object to every
    request with the same head bytes, and what sends per-request facts (decide.py's target
    rewritten from absolute-form) to the Exchange instead. ``RequestHead()`` is the empty head of
    an answer refused before its head was complete."""

    __slots__ = ("accept", "baggage", "chunked", "content_length", "cookie", "expect_continue", "forwarded",
        "forwarded_for", "forwarded_host", "forwarded_port", "forwarded_proto", "has_body", "headers", "host", "http11",
        "keep_alive", "keyed", "linked", "method", "path", "preview_key", "real_ip", "request_id", "target",
        "te_trailers", "upgrade")  # fmt: skip

    def __init__(
        self,
        method: bytes = b"",
        target: bytes = b"",
        http11: bool = True,
        keep_alive: bool = True,
        headers: bytes = b"",
        host: bytes = b"",
        content_length: int | None = None,
        chunked: bool = False,
        expect_continue: bool = False,
        upgrade: bytes | None = None,
        forwarded_for: bytes = b"",
        request_id: bytes = b"",
        accept: bytes = b"",
        forwarded: bytes = b"",
        forwarded_proto: bytes = b"",
        forwarded_host: bytes = b"",
        forwarded_port: bytes = b"",
        real_ip: bytes = b"",
        preview_key: bytes = b"",
        baggage: bytes = b"",
        cookie: bytes = b"",
        te_trailers: bool = False,
    ) -> None:
        self.method: Final = method
        self.target: Final = target
        self.http11: Final = http11
        self.keep_alive: Final = keep_alive
        self.headers: Final = headers  # the forwarded header lines, "Name: value\r\n" each, in one block
        self.host: Final = host  # b"" only for HTTP/1.0 without Host (and the empty head)
        self.content_length: Final = content_length
        self.chunked: Final = chunked
        self.expect_continue: Final = expect_continue
        self.upgrade: Final = upgrade  # only when Connection asks for it too
        self.forwarded_for: Final = forwarded_for
        self.request_id: Final = request_id
        self.accept: Final = accept  # the last Accept value (want_html)
        # what the client said about earlier hops, believed only from a trusted proxy (forwarded.py)
        self.forwarded: Final = forwarded
        self.forwarded_proto: Final = forwarded_proto
        self.forwarded_host: Final = forwarded_host
        self.forwarded_port: Final = forwarded_port
        self.real_ip: Final = real_ip
        # where a routing key may be (proxy/routingkey.py): the values as sent, several joined
        self.preview_key: Final = preview_key
        self.baggage: Final = baggage
        self.cookie: Final = cookie
        self.te_trailers: Final = te_trailers  # the client takes trailer fields (TE: trailers)
        self.has_body: Final = chunked or bool(content_length)  # an attribute: read several times per request
        # worked out once per head, not per request: a repeated head is shared (proxy/repeats.py),
        # and each bytes method call is a generic call in compiled code (decide.py reads these)
        path, mark, query = target.partition(b"?")
        self.path: Final = path  # what routing matches (no query)
        self.linked: Final = bool(mark) and links(query)  # the preview link parameter
        self.keyed: Final = bool(preview_key or baggage) or (
            bool(cookie) and _holds(cookie, _LINK)
        )  # may carry a routing key

    @property
    def want_html(self) -> bool:
        """The client takes HTML (the proxy's own pages); a property: most requests never ask."""
        return b"text/html" in self.accept

    def lines(self) -> list[bytes]:
        """The forwarded header lines one by one, each with its CRLF (no value holds one: llhttp
        and h2fields refuse CR and LF in values)."""
        return header_lines(self.headers)

    def values(self, name: bytes) -> list[bytes]:
        """The values of the forwarded header lines called ``name`` (lowercase), in order,
        without the whitespace around them. For the few readers off the usual path (annotated
        routes, gRPC errors, custom error pages); the proxy's own headers are read in ``add``."""
        size = len(name)
        return [line[size + 1 :].strip() for line in self.lines() if line[size : size + 1] == b":" and line[:size].lower() == name]  # fmt: skip

    def header(self, name: bytes) -> bytes | None:
        """The value of the first forwarded header line called ``name`` (lowercase), or None."""
        found = self.values(name)
        return found[0] if found else None

    @property
    def idempotent(self) -> bool:
        return self.method in (b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE")


class RequestHeadBuilder:
    """A request head while the parser reports it: the target in pieces, ``add`` per header, then
    ``finish`` for the RequestHead. Belongs to one connection's parse of one message."""

    __slots__ = ("accept", "baggage", "chunked", "connection_tokens", "content_length", "cookie", "expect_continue",
        "forwarded", "forwarded_for", "forwarded_host", "forwarded_port", "forwarded_proto", "header_bytes",
        "header_count", "headers", "host", "preview_key", "real_ip", "request_id", "target", "te_trailers",
        "upgrade")  # fmt: skip

    def __init__(self) -> None:
        self.target = b""
        # the forwarded lines' pieces (name, ": ", value, CRLF), joined once by finish: four
        # appends per line cost less than the three concatenations of a line of its own
        self.headers: list[bytes] = []
        self.host: bytes | None = None
        self.content_length: int | None = None
        self.chunked = False
        self.expect_continue = False
        self.upgrade: bytes | None = None
        self.connection_tokens = NO_TOKENS
        self.forwarded_for = b""
        self.forwarded = b""
        self.forwarded_proto = b""
        self.forwarded_host = b""
        self.forwarded_port = b""
        self.real_ip = b""
        self.te_trailers = False
        self.request_id = b""
        self.accept = b""
        self.header_bytes = 0
        self.header_count = 0  # every header line, Host and the others add() sorts out included
        self.preview_key = b""
        self.baggage = b""
        self.cookie = b""

    def add(self, name: bytes, value: bytes, line: bytes | None = None) -> None:
        """One header as parsed; raises ClientRequestError for what must be refused. ``line``: the
        header's line as sent when that is exactly name ": " value CRLF, the form ``keep`` gives
        it (proxy/native/headscan.c hands it over), so that it is kept whole."""
        kind = header_kind(name)
        if kind == ORDINARY:
            self.keep(name, value, line)
        elif kind == ACCEPT:
            self.accept = value  # for want_html, read only for the proxy's own pages
            self.keep(name, value, line)
        elif kind == HOST:
            if self.host is not None:
                raise ClientRequestError(400, "more than one Host header")
            if not valid_host(value):
                raise ClientRequestError(400, "invalid Host header")
            self.host = value
        elif kind == CL:
            value = value.strip()
            if not value.isdigit() or len(value) > 18:
                raise ClientRequestError(400, "invalid Content-Length")
            length = int(value)
            if self.content_length is not None and self.content_length != length:
                raise ClientRequestError(400, "conflicting Content-Length headers")
            self.content_length = length
        elif kind == TE:
            if self.chunked or value.strip().lower() != b"chunked":
                raise ClientRequestError(400, "unsupported Transfer-Encoding (only one 'chunked' is accepted)")
            self.chunked = True
        elif kind == CONN:
            self.connection_tokens |= connection_tokens(value)
        elif kind == EXPECT:
            if value.strip().lower() != b"100-continue":
                raise ClientRequestError(417, "unsupported Expect")
            self.expect_continue = True
        elif kind == UPGRADE:
            self.upgrade = value
        elif kind == XFF:
            self.forwarded_for = value if not self.forwarded_for else self.forwarded_for + b", " + value
        elif kind == FORWARDED:
            self.forwarded = value if not self.forwarded else self.forwarded + b", " + value
        elif kind == XF_PROTO:
            self.forwarded_proto = self.forwarded_proto or value  # the first of each: one hop wrote it
        elif kind == XF_HOST:
            self.forwarded_host = self.forwarded_host or value
        elif kind == XF_PORT:
            self.forwarded_port = self.forwarded_port or value
        elif kind == REAL_IP:
            self.real_ip = self.real_ip or value
        elif kind == COOKIE:
            self.cookie = value if not self.cookie else self.cookie + b"; " + value
            self.keep(name, value, line)
        elif kind == BAGGAGE:
            self.baggage = value if not self.baggage else self.baggage + b"," + value
            self.keep(name, value, line)
        elif kind == PREVIEW_KEY:
            self.preview_key = self.preview_key or value  # the first: as with X-Forwarded-Proto
        elif kind == TE_FIELD:  # hop-by-hop: not forwarded, but it says whether trailers may go back
            self.te_trailers = self.te_trailers or b"trailers" in value.lower()
        elif kind == XRID and len(value) <= 200 and only(value, REQUEST_ID_TABLE):
            self.request_id = value  # kept only when short and plain: it goes into logs

    def keep(self, name: bytes, value: bytes, line: bytes | None = None) -> None:
        """A header line to forward as it came (``line``: the same line in one piece)."""
        headers = self.headers
        if line is not None:
            headers.append(line)
            return
        headers.append(name)
        headers.append(b": ")
        headers.append(value)
        headers.append(b"\r\n")

    def finish(self, method: bytes, http11: bool, keep_alive: bool) -> RequestHead:
        """The finished head, after the checks that need every header: framing and Host."""
        if self.chunked and (self.content_length is not None or not http11):
            raise ClientRequestError(400, "Transfer-Encoding with Content-Length or in HTTP/1.0")
        host = self.host
        if not host:  # missing (None) or empty
            if http11:
                raise ClientRequestError(400, "missing or empty Host header")
            host = b""
        headers = b"".join(self.headers)
        if self.connection_tokens:
            named = self.connection_tokens - ORDINARY_CONNECTION_TOKENS
            if named:  # Connection names extra hop-by-hop headers: drop those too (rare)
                headers = b"".join(lines_without(header_lines(headers), named))
        upgrade = self.upgrade
        if upgrade is not None and (b"upgrade" not in self.connection_tokens or not http11):
            # without Connection: upgrade it is no request to upgrade; in HTTP/1.0 it is
            # ignored (RFC 9110 7.8), so the request is forwarded without it and never gets a 101
            upgrade = None
        return RequestHead(
            method,
            self.target,
            http11,
            keep_alive,
            headers,
            host,
            self.content_length,
            self.chunked,
            self.expect_continue,
            upgrade,
            self.forwarded_for,
            self.request_id,
            self.accept,
            self.forwarded,
            self.forwarded_proto,
            self.forwarded_host,
            self.forwarded_port,
            self.real_ip,
            self.preview_key,
            self.baggage,
            self.cookie,
            self.te_trailers,
        )


LAST_CHUNK: Final = b"0\r\n\r\n"


def last_chunk(trailers: list[tuple[bytes, bytes]] | None) -> bytes:
    """The end of a chunked body, carrying ``trailers`` when there are any (RFC 9112 7.1.2): of
    a response to an HTTP/1.1 client, or of a request to an HTTP/1.1 upstream."""
    if not trailers:
        return LAST_CHUNK
    return b"0\r\n" + b"".join([name + b": " + value + b"\r\n" for name, value in trailers]) + b"\r\n"


_HEX_PAIRS: Final = tuple(b"%02x" % value for value in range(256))


class RequestIds:
    """X-Request-Id values: a random per-server prefix and a counter, 32 hex digits. Unique
    without a system call per request (os.urandom showed up in profiles), and without formatting
    a number per request either (that showed up next): the counter's last byte comes from a
    table, the rest is formatted once per 256 ids."""

    __slots__ = ("_base", "_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex().encode()
        self._counter = 0
        self._base = b"%s%014x" % (self._prefix, 0)  # all but the counter's last byte

    def next(self) -> bytes:
        counter = self._counter = self._counter + 1
        low = counter & 0xFF
        if low == 0:
            self._base = b"%s%014x" % (self._prefix, counter >> 8)
        return self._base + _HEX_PAIRS[low]


def upstream_request(
    head: RequestHead,
    target: bytes,
    upstream_host: bytes,
    forwarded_host: bytes,
    client_ip: bytes,
    listener: ListenerForwarding,
    request_id: bytes,
    preview_lines: bytes = b"",
    dropped: frozenset[bytes] = NO_TOKENS,
) -> bytes:
    """The request head sent upstream (always HTTP/1.1, keep-alive unless upgrading): ``target``
    is the head's own or its origin-form (decide.py); ``listener`` writes the forwarded lines of
    the listener the request came in on (forwarded.py); ``preview_lines``, for a preview, are the
    X-Preview-Branch and baggage lines (proxy/routingkey.py), which replace the client's baggage;
    the client's lines named in ``dropped`` (lowercase) are left out (auth-response-headers,
    proxy/forwardauth.py, whose lines ride after the Host value)."""
    parts = [
        head.method, b" ", target, b" HTTP/1.1\r\nHost: ", upstream_host,
        listener.lines(head, forwarded_host, client_ip),
        b"\r\nX-Request-Id: ", request_id, b"\r\n", preview_lines,
    ]  # fmt: skip
    if preview_lines and head.baggage:
        parts += lines_without(head.lines(), _BAGGAGE_NAME | dropped)
    elif dropped:
        parts += lines_without(head.lines(), dropped)
    else:
        parts.append(head.headers)
    parts.append(listener.via11 if head.http11 else listener.via10)
    if head.chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif head.content_length is not None:
        parts.append(b"Content-Length: %d\r\n" % head.content_length)
    if head.upgrade is not None:
        parts += (b"Connection: upgrade\r\nUpgrade: ", head.upgrade, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def header_lines(block: bytes) -> list[bytes]:
    """The lines of a block of header lines, each with its CRLF (RequestHead.lines)."""
    return [line + b"\r\n" for line in block.split(b"\r\n")[:-1]]


def lines_without(lines: list[bytes], names: frozenset[bytes]) -> list[bytes]:
    """Header lines minus those whose (lowercased) name is in ``names``."""
    return [line for line in lines if line.split(b":", 1)[0].lower() not in names]
