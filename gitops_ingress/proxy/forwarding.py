"""Header handling in one pass: what a request keeps, what it loses, what the proxy adds.

``RequestHead.add`` sees each request header once as the parser reports it: ordinary headers are
appended untouched (one ``lower()`` and one dict lookup each), the few that matter to a proxy are
sorted out on the spot, and the framing rules that defeat request smuggling are enforced before
anything could reach an upstream (one Content-Length value, Transfer-Encoding exactly
``chunked``, never both, one Host). ``upstream_request`` then writes the head for the upstream in
one join: hop-by-hop headers (RFC 9110 7.6.1: Connection and what it names, Keep-Alive, Proxy-*,
TE, Trailer, Upgrade unless upgrading) gone, X-Forwarded-* and X-Request-Id set, and for preview
hosts the stable Host restored. Responses get the mirror treatment in ``ResponseHead``.
"""

from __future__ import annotations

import itertools
import os

from gitops_ingress.proxy.errors import ClientRequestError

# request headers that are not forwarded as they came (value: what ``add`` does with them)
_HOST, _CL, _TE, _CONN, _EXPECT, _UPGRADE, _XFF, _XRID, _DROP, _ACCEPT = range(10)
_SPECIAL: dict[bytes, int] = {
    b"host": _HOST,
    b"content-length": _CL,
    b"transfer-encoding": _TE,
    b"connection": _CONN,
    b"expect": _EXPECT,
    b"upgrade": _UPGRADE,
    b"x-forwarded-for": _XFF,
    b"x-request-id": _XRID,
    b"keep-alive": _DROP,
    b"te": _DROP,
    b"trailer": _DROP,
    b"proxy-connection": _DROP,
    b"proxy-authorization": _DROP,
    b"x-forwarded-proto": _DROP,
    b"x-forwarded-host": _DROP,
    b"x-forwarded-port": _DROP,
    b"accept": _ACCEPT,
}
# bytes allowed in a Host value (reg-name, IPv6 literal brackets, port); others are a 400
_HOST_BYTES = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:[]"
_REQUEST_ID_BYTES = _HOST_BYTES + b"/+="
MAX_HOST = 253 + 1 + 6  # a DNS name, a trailing dot, ":65535"
_ORDINARY_CONNECTION_TOKENS = frozenset((b"close", b"keep-alive", b"upgrade"))


_COMMON_CONNECTION = {
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
    return len(value) <= MAX_HOST and not value.translate(None, _HOST_BYTES)


class RequestHead:
    """One parsed request head, as the proxy needs it."""

    __slots__ = (
        "chunked",
        "connection_tokens",
        "content_length",
        "expect_continue",
        "forwarded_for",
        "header_bytes",
        "headers",
        "host",
        "http11",
        "keep_alive",
        "method",
        "request_id",
        "target",
        "upgrade",
        "want_html",
    )  # fmt: skip

    def __init__(self) -> None:
        self.method = b""
        self.target = b""
        self.http11 = True
        self.headers: list[bytes] = []  # forwarded header lines, rendered "Name: value\r\n"
        self.host: bytes | None = None
        self.content_length: int | None = None
        self.chunked = False
        self.expect_continue = False
        self.upgrade: bytes | None = None
        self.connection_tokens: frozenset[bytes] = frozenset()
        self.forwarded_for = b""
        self.request_id = b""
        self.want_html = False
        self.keep_alive = True
        self.header_bytes = 0

    def add(self, name: bytes, value: bytes) -> None:
        """One header as parsed; raises ClientRequestError for what must be refused."""
        kind = _SPECIAL.get(name.lower())
        if kind is None:
            # Proxy-* is hop-by-hop; the first-byte test keeps the slice off the common path
            if name[0] | 0x20 != 0x70 or name[:6].lower() != b"proxy-":
                self.headers.append(name + b": " + value + b"\r\n")
        elif kind == _ACCEPT:
            self.want_html = b"text/html" in value
            self.headers.append(name + b": " + value + b"\r\n")
        elif kind == _HOST:
            if self.host is not None:
                raise ClientRequestError(400, "more than one Host header")
            if not valid_host(value):
                raise ClientRequestError(400, "invalid Host header")
            self.host = value
        elif kind == _CL:
            value = value.strip()
            if not value.isdigit() or len(value) > 18:
                raise ClientRequestError(400, "invalid Content-Length")
            if self.content_length is not None and self.content_length != int(value):
                raise ClientRequestError(400, "conflicting Content-Length headers")
            self.content_length = int(value)
        elif kind == _TE:
            if self.chunked or value.strip().lower() != b"chunked":
                raise ClientRequestError(
                    400, "unsupported Transfer-Encoding (only one 'chunked' is accepted)"
                )
            self.chunked = True
        elif kind == _CONN:
            self.connection_tokens |= connection_tokens(value)
        elif kind == _EXPECT:
            if value.strip().lower() != b"100-continue":
                raise ClientRequestError(417, "unsupported Expect")
            self.expect_continue = True
        elif kind == _UPGRADE:
            self.upgrade = value
        elif kind == _XFF:
            self.forwarded_for = value if not self.forwarded_for else self.forwarded_for + b", " + value
        elif kind == _XRID and len(value) <= 200 and not value.translate(None, _REQUEST_ID_BYTES):
            self.request_id = value  # kept only when short and plain: it goes into logs

    def finish(self) -> None:
        """Checks that need every header: framing and Host."""
        if self.chunked and (self.content_length is not None or not self.http11):
            raise ClientRequestError(400, "Transfer-Encoding with Content-Length or in HTTP/1.0")
        if self.host is None or not self.host:
            if self.http11:
                raise ClientRequestError(400, "missing or empty Host header")
            self.host = b""
        if self.connection_tokens:
            named = self.connection_tokens - _ORDINARY_CONNECTION_TOKENS
            if named:  # Connection names extra hop-by-hop headers: drop those too (rare)
                self.headers = _without(self.headers, named)
        if self.upgrade is not None and b"upgrade" not in self.connection_tokens:
            self.upgrade = None  # an Upgrade header without Connection: upgrade is not a request to upgrade

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    @property
    def idempotent(self) -> bool:
        return self.method in (b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE")


class RequestIds:
    """X-Request-Id values: a random per-server prefix and a counter, 32 hex digits. Unique
    without a system call per request (os.urandom showed up in profiles)."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex().encode()
        self._counter = itertools.count(1)

    def next(self) -> bytes:
        return b"%s%016x" % (self._prefix, next(self._counter))


def upstream_request(
    head: RequestHead,
    *,
    upstream_host: bytes,
    forwarded_host: bytes,
    client_ip: bytes,
    scheme: bytes,
    port: bytes,
    request_id: bytes,
) -> bytes:
    """The request head sent upstream (always HTTP/1.1, keep-alive unless upgrading)."""
    forwarded_for = head.forwarded_for + b", " + client_ip if head.forwarded_for else client_ip
    parts = [
        head.method, b" ", head.target, b" HTTP/1.1\r\nHost: ", upstream_host,
        b"\r\nX-Forwarded-For: ", forwarded_for,
        b"\r\nX-Forwarded-Proto: ", scheme,
        b"\r\nX-Forwarded-Host: ", forwarded_host,
        b"\r\nX-Forwarded-Port: ", port,
        b"\r\nX-Request-Id: ", request_id, b"\r\n",
    ]  # fmt: skip
    parts += head.headers
    if head.chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif head.content_length is not None:
        parts.append(b"Content-Length: %d\r\n" % head.content_length)
    if head.upgrade is not None:
        parts += (b"Connection: upgrade\r\nUpgrade: ", head.upgrade, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def _without(lines: list[bytes], names: frozenset[bytes]) -> list[bytes]:
    """Header lines minus those whose (lowercased) name is in ``names``."""
    return [line for line in lines if line.split(b":", 1)[0].lower() not in names]


# response headers the proxy drops or re-frames (RFC 9110 7.6.1, RFC 9112 6): name -> what it is
_R_DROP, _R_LENGTH, _R_TE, _R_CONN, _R_UPGRADE = range(5)
_RESPONSE_SPECIAL: dict[bytes, int] = {
    b"content-length": _R_LENGTH,
    b"transfer-encoding": _R_TE,
    b"connection": _R_CONN,
    b"upgrade": _R_UPGRADE,
    b"keep-alive": _R_DROP,
    b"te": _R_DROP,
    b"trailer": _R_DROP,
    b"proxy-connection": _R_DROP,
    b"proxy-authenticate": _R_DROP,
}


class ResponseHead:
    """An upstream response head being collected, and how its body is framed."""

    __slots__ = ("chunked", "connection_tokens", "content_length", "headers", "upgrade")

    def __init__(self) -> None:
        self.headers: list[bytes] = []  # rendered lines, as in RequestHead
        self.content_length: bytes | None = None
        self.chunked = False
        self.connection_tokens: frozenset[bytes] = frozenset()
        self.upgrade: bytes | None = None

    def add(self, name: bytes, value: bytes) -> None:
        kind = _RESPONSE_SPECIAL.get(name.lower())
        if kind is None:
            self.headers.append(name + b": " + value + b"\r\n")
        elif kind == _R_LENGTH:
            self.content_length = value.strip()
        elif kind == _R_TE:
            self.chunked = self.chunked or b"chunked" in value.lower()
        elif kind == _R_CONN:
            self.connection_tokens |= connection_tokens(value)
        elif kind == _R_UPGRADE:
            self.upgrade = value

    def client_head(self, status: int, reason: bytes, *, length: bytes | None, chunked: bool,
                    close: bool, keep_alive_10: bool) -> bytes:  # fmt: skip
        """The head for the client: framing decided by the caller, hop-by-hop headers gone."""
        named = self.connection_tokens - _ORDINARY_CONNECTION_TOKENS
        parts = [b"HTTP/1.1 %d " % status, reason, b"\r\n"]
        parts += _without(self.headers, named) if named else self.headers
        if length is not None:
            parts += (b"Content-Length: ", length, b"\r\n")
        elif chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        if status == 101 and self.upgrade is not None:
            parts += (b"Connection: upgrade\r\nUpgrade: ", self.upgrade, b"\r\n")
        elif close:
            parts.append(b"Connection: close\r\n")
        elif keep_alive_10:
            parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)
