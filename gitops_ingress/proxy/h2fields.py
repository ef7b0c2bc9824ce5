"""HTTP/2 header fields to and from the proxy's HTTP/1.1 heads (RFC 9113 section 8).

A request from an HTTP/2 client becomes the same ``RequestHead`` an HTTP/1.1 request makes, so
routing (decide.py), forwarding (forwarding.py) and the upstream pool never learn which protocol
the client spoke: ``:authority`` (or Host) plays Host, ``:method`` and ``:path`` the request line,
cookies split over several fields are joined with "; " (RFC 9113 8.2.3), and a body without a
content-length is sent upstream chunked. What RFC 9113 calls malformed raises ``MalformedRequest``,
which the connection answers with RST_STREAM PROTOCOL_ERROR (a stream error: the connection and
its other streams carry on): uppercase names, pseudo-header fields that are unknown, repeated,
missing or after a regular field, connection-specific fields (8.2.2: Connection, Keep-Alive,
Proxy-Connection, Transfer-Encoding, Upgrade, and TE other than "trailers"), values with NUL, CR,
LF or surrounding whitespace, an empty ``:path`` or one not starting with "/", a Host that is
not the ``:authority``, and ``:protocol`` (extended CONNECT, RFC 8441: we never send
SETTINGS_ENABLE_CONNECT_PROTOCOL, so a client must not use it). What an HTTP/1.1 request would be
refused for (two content-lengths, a bad Host) is refused the same way, as ClientRequestError.

Trailers of a request (``request_trailers``) follow the same rules as its head, minus the fields
that only frame or route a message; they are forwarded with the end of the body.

Responses go the other way: the status line becomes ``:status``, names are lowercased, and the
framing lines ``ResponseHead`` already removed stay removed (content-length comes back when the
upstream sent one). The proxy's own pages (pages.py, whole HTTP/1.1 responses) are split the same
way, so there is one set of pages for both protocols.
"""

from __future__ import annotations

from typing import Final

from gitops_ingress.proxy.errors import ClientRequestError
from gitops_ingress.proxy.forwarding import RequestHead, RequestHeadBuilder
from gitops_ingress.proxy.response_head import ResponseHead

Fields = list[tuple[bytes, bytes]]

_CONNECTION_SPECIFIC: Final = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
_PSEUDO: Final = frozenset((b":method", b":scheme", b":authority", b":path"))
_BAD_VALUE_BYTES: Final = (b"\x00", b"\r", b"\n")
_UPPER: Final = bytes(range(ord("A"), ord("Z") + 1))
_WHITESPACE: Final = b" \t"
# never forwarded from an HTTP/2 request: the proxy sends the body at once, without 100-continue
_DROPPED: Final = frozenset((b"expect",))
# request trailer fields that mean nothing after the body (RFC 9110 6.5.1), dropped
_NOT_IN_TRAILERS: Final = frozenset((b"content-length", b"host", b"te", b"trailer", b"expect", b"cookie"))
# response lines dropped on the way to an HTTP/2 client besides those ResponseHead removes
_RESPONSE_DROPPED: Final = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
                                      b"upgrade", b"te", b"trailer"))  # fmt: skip


class MalformedRequest(Exception):
    """A request RFC 9113 calls malformed: answered with RST_STREAM PROTOCOL_ERROR."""


class CheckedFields:
    """The (name, value) pairs of one connection's requests that passed ``_check_field``.

    Clients repeat most fields on every request of a connection (browsers their user-agent,
    accept and cookie lines, gRPC clients everything but the path), and the decoder hands back
    the same tuples for indexed fields; checking each field of each request again was about a
    sixth of the event loop's time under h2load. What is remembered is only what depends on the
    field alone (its name's case, the bytes of its value, RFC 9113 8.2.2's connection-specific
    names), so a hit can never let through what a miss refuses: the checks that depend on the
    other fields of the request (pseudo-header order and repeats, counts and sizes, Host against
    :authority, :path) run on every request. Bounded in octets (RFC 9113 6.5.2's accounting):
    emptied when full, like the decoder's Huffman cache.
    """

    __slots__ = ("known", "limit", "octets")

    def __init__(self, limit: int = 8192) -> None:
        self.limit = limit
        self.octets = 0
        self.known: set[tuple[bytes, bytes]] = set()

    def keep(self, field: tuple[bytes, bytes]) -> None:
        size = len(field[0]) + len(field[1]) + 32
        if self.octets + size > self.limit:
            if size > self.limit:
                return  # one field larger than the whole cache: checked every time
            self.known.clear()
            self.octets = 0
        self.known.add(field)
        self.octets += size


def _check_field(name: bytes, value: bytes) -> None:
    """What RFC 9113 8.2 refuses in one request field whatever the others are."""
    if not name or name.translate(None, _UPPER) != name:
        raise MalformedRequest("an empty or uppercase header name")
    if any(bad in value for bad in _BAD_VALUE_BYTES) or (value and (value[0] in _WHITESPACE or
                                                                    value[-1] in _WHITESPACE)):  # fmt: skip
        raise MalformedRequest(f"invalid value of {name.decode('latin-1')}")
    if name[0] == 0x3A:  # ":"
        if name not in _PSEUDO:
            raise MalformedRequest(f"pseudo-header {name.decode('latin-1')} not allowed in a request")
    elif name in _CONNECTION_SPECIFIC or (name == b"te" and value != b"trailers"):
        raise MalformedRequest(f"connection-specific header {name.decode('latin-1')} (RFC 9113 8.2.2)")


def request_head(
    fields: Fields, end_stream: bool, max_headers: int, max_header_bytes: int, checked: CheckedFields
) -> RequestHead:
    """The RequestHead of one HTTP/2 request; raises MalformedRequest or ClientRequestError.
    ``checked``: the connection's fields known to pass ``_check_field``, which grows here."""
    pseudo: dict[bytes, bytes] = {}
    builder = RequestHeadBuilder()
    cookies: list[bytes] = []
    host = b""
    regular = 0
    for field in fields:
        name, value = field
        if field not in checked.known:
            _check_field(name, value)
            checked.keep(field)
        if name[0] == 0x3A:  # ":"
            if regular or name in pseudo:
                raise MalformedRequest(f"pseudo-header {name.decode('latin-1')} repeated or after a regular one")
            pseudo[name] = value
            continue
        regular += 1
        if regular > max_headers:
            raise ClientRequestError(431, f"more than {max_headers} request headers")
        builder.header_bytes += len(name) + len(value) + 32  # RFC 9113 6.5.2's per-field overhead
        if builder.header_bytes > max_header_bytes:
            raise ClientRequestError(431, f"request headers larger than {max_header_bytes} bytes")
        if name == b"cookie":
            cookies.append(value)
        elif name == b"host":
            host = value
        elif name not in _DROPPED:
            builder.add(name, value)
    method = pseudo.get(b":method")
    if not method:
        raise MalformedRequest("no :method")
    authority = pseudo.get(b":authority", b"")
    if host and authority and host != authority:
        raise MalformedRequest("Host differs from :authority")
    if method == b"CONNECT":
        if b":path" in pseudo or b":scheme" in pseudo or not authority:
            raise MalformedRequest("CONNECT with :path or :scheme or without :authority")
        target = authority
    else:
        target = pseudo.get(b":path", b"")
        if b":scheme" not in pseudo or not (target[:1] == b"/" or (target == b"*" and method == b"OPTIONS")):
            raise MalformedRequest("no :scheme, or :path empty or not starting with '/'")
    builder.add(b"host", authority or host)
    builder.target = target
    if cookies:
        builder.add(b"cookie", b"; ".join(cookies))
    if not end_stream and builder.content_length is None:
        builder.chunked = True  # a body of unknown length: chunked to the HTTP/1.1 upstream
    return builder.finish(method, True, True)


def request_trailers(fields: Fields) -> Fields:
    """The trailers of an HTTP/2 request, as forwarded upstream; raises MalformedRequest for what
    RFC 9113 8.1 and 8.2 call malformed in any field section: a pseudo-header (none belongs in
    trailers), and whatever ``_check_field`` refuses in a head's field. Fields
    that frame or route a message (content-length, host, te: trailers) mean nothing after the body
    (RFC 9110 6.5.1) and are dropped."""
    kept: Fields = []
    for name, value in fields:
        if name[:1] == b":":
            raise MalformedRequest(f"pseudo-header {name.decode('latin-1')} in trailers")
        _check_field(name, value)  # the same per-field rules as the head's (RFC 9113 8.2)
        if name not in _NOT_IN_TRAILERS:
            kept.append((name, value))
    return kept


def response_fields(status: int, head: ResponseHead, body_allowed: bool) -> Fields:
    """The HEADERS of an upstream response head for an HTTP/2 client."""
    fields: Fields = [(b":status", b"%d" % status)]
    for line in head.lines.split(b"\r\n"):
        colon = line.find(b":")
        if colon <= 0:
            continue
        name = line[:colon].lower()
        if name not in _RESPONSE_DROPPED:
            fields.append((name, line[colon + 1 :].strip(_WHITESPACE)))
    if head.content_length is not None and not head.chunked and (body_allowed or status not in (204, 304)):
        fields.append((b"content-length", head.content_length))
    return fields


def page_fields(page: bytes) -> tuple[Fields, bytes]:
    """One of the proxy's own pages (a whole HTTP/1.1 response, pages.py) as HEADERS and body."""
    end = page.find(b"\r\n\r\n")
    head, body = page[:end], page[end + 4 :]
    cut = head.find(b"\r\n")
    fields: Fields = [(b":status", head[9:12])]
    if cut >= 0:
        fields += line_fields(head[cut + 2 :])
    return fields, body


def line_fields(lines: bytes) -> Fields:
    """Header lines (CRLF-separated, as pages.py and proxy/annotated.py write them) as fields."""
    fields: Fields = []
    for line in lines.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.lower()
        if name and name not in _RESPONSE_DROPPED:
            fields.append((name, value.strip(_WHITESPACE)))
    return fields


def trailer_fields(trailers: Fields) -> Fields:
    """Trailers from an upstream as trailing HEADERS: lowercased, no pseudo or framing fields."""
    return [
        (name.lower(), value)
        for name, value in trailers
        if name[:1] != b":" and name.lower() not in _RESPONSE_DROPPED and name.lower() != b"content-length"
    ]
