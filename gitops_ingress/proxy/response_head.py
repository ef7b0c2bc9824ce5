"""Response heads: what an upstream's response keeps on its way to the client.

Responses get the mirror treatment of requests (proxy/forwarding.py), but from the raw head
block rather than header by header: the upstream connection takes no per-header callbacks (they
were the largest single cost of a small response), and one regex split over the block, already
validated by httptools, finds the few lines a proxy must drop or re-frame; the rest is forwarded
as it came. Compiled with the request path (setup.py).
"""

from __future__ import annotations

import re
from typing import Final

from gitops_ingress.proxy.forwarding import NO_TOKENS, ORDINARY_CONNECTION_TOKENS, connection_tokens, lines_without

# Response header lines the proxy drops or re-frames (RFC 9110 7.6.1, RFC 9112 6), found in the raw
# block by one regex pass. httptools (llhttp, strict) has validated the block before we look at
# it: CRLF line ends, no obs-fold, no space before the colon, no CR inside a value, so every
# header line is exactly "\r\n" name ":" OWS value, and a name can be matched right after the CRLF.
_RESPONSE_SPECIAL_LINE: Final = re.compile(
    rb"\r\n(content-length|transfer-encoding|connection|upgrade|keep-alive|te|trailer"
    rb"|proxy-connection|proxy-authenticate):[ \t]*([^\r]*)",
    re.IGNORECASE,
)
_DATE_LINE: Final = re.compile(rb"\r\ndate:", re.IGNORECASE)
_STATUS_LINE_OK: Final = b"HTTP/1.1 200 OK\r\n"
_CLOSE_OR_UPGRADE: Final = frozenset((b"close", b"upgrade"))


class ResponseHead:
    """An upstream response head, taken from its raw bytes, and how its body is framed.

    The head is forwarded as the block it came in, minus the hop-by-hop and framing lines: one
    regex split finds and removes those, instead of a parser callback, a lookup and a rendered
    line per header (that cost about 0.5 us per header, and a response carries five or more).
    Never changed once built (every attribute is Final, as in RequestHead), so one object may
    serve every response with the same head bytes (proxy/repeats.py)."""

    __slots__ = ("added", "chunked", "connection_tokens", "content_length", "fixed_length", "has_date",
        "length_head", "lines", "reason", "status", "upgrade")  # fmt: skip

    def __init__(self, block: bytes = _STATUS_LINE_OK, via: bytes = b"") -> None:
        """``block``: the status line and the header lines as received, each ending in CRLF,
        without the empty line that ends the head; ``via``: our Via pseudonym (empty: none)."""
        eol = block.find(b"\r\n")
        status_line = block[:eol].split(b" ", 2)
        status = int(status_line[1]) if status_line[1].isdigit() else 0
        content_length: bytes | None = None
        chunked = False
        tokens = NO_TOKENS
        upgrade: bytes | None = None
        framing = 0
        pieces = _RESPONSE_SPECIAL_LINE.split(block)
        if len(pieces) == 1:  # nothing to drop or re-frame
            lines = block[eol:]  # "\r\n" then the header lines, each ending in "\r\n"
        else:
            for index in range(1, len(pieces), 3):
                name, value = pieces[index].lower(), pieces[index + 1]
                if name == b"content-length":
                    content_length = value.strip()
                elif name == b"transfer-encoding":
                    chunked = chunked or b"chunked" in value.lower()
                    framing = -1
                elif name == b"connection":
                    tokens |= connection_tokens(value)
                elif name == b"upgrade":
                    upgrade = value
            lines = b"".join(pieces[0::3])[eol:]  # the status line is in pieces[0], untouched
            named = tokens - ORDINARY_CONNECTION_TOKENS
            if named:  # Connection names extra hop-by-hop headers: drop those too (rare)
                lines = b"\r\n".join(lines_without(lines.split(b"\r\n"), named))
        fixed_length = -1
        if (
            framing == 0
            and content_length is not None
            and content_length.isdigit()
            and len(content_length) <= 18
            and block.startswith(b"HTTP/1.1 ")
            and 200 <= status < 600
            and status not in (204, 304)
            and upgrade is None
            and not tokens & _CLOSE_OR_UPGRADE
        ):
            # a plain HTTP/1.1 response framed by its length alone, kept alive (upstream.py's
            # shortcut); anything else goes through the parser every time
            fixed_length = int(content_length)
        self.status: Final = status
        self.reason: Final = status_line[2] if len(status_line) == 3 else b""
        self.lines: Final = lines
        self.content_length: Final = content_length
        self.chunked: Final = chunked
        self.connection_tokens: Final = tokens
        self.upgrade: Final = upgrade
        self.fixed_length: Final = fixed_length
        # the lines the proxy adds: Via, with the protocol the upstream answered in (RFC 9110
        # 7.6.3); and Date when the upstream sent none (a proxy may add it, RFC 9110 6.6.1)
        version = block[5:8] if block.startswith(b"HTTP/1.") else b"1.1"
        self.added: Final = b"Via: " + version + b" " + via + b"\r\n" if via else b""
        self.has_date: Final = _DATE_LINE.search(block) is not None
        # what an HTTP/1.1 keep-alive client gets for a fixed_length head, the usual case
        # (exchange.py): built once per head here, not once per response; a head without Date
        # has none, the exchange adds this second's
        self.length_head: Final = (
            self.client_head(status, length=content_length, chunked=False, close=False, keep_alive_10=False)
            if fixed_length >= 0 and self.has_date
            else b""
        )

    def client_head(self, status: int, *, length: bytes | None, chunked: bool,
                    close: bool, keep_alive_10: bool, date: bytes = b"", added: bytes = b"") -> bytes:  # fmt: skip
        """The head for the client: framing decided by the caller, hop-by-hop headers gone, our
        Via added, ``date`` (a Date line, for a head without one) and ``added`` (lines a route's
        annotations add, proxy/annotated.py)."""
        if length is not None:
            framing = self.added + date + added + b"Content-Length: %b\r\n" % length
        elif chunked:
            framing = self.added + date + added + b"Transfer-Encoding: chunked\r\n"
        else:
            framing = self.added + date + added
        if status == 101 and self.upgrade is not None:
            framing += b"Connection: upgrade\r\nUpgrade: %b\r\n" % self.upgrade
        elif close:
            framing += b"Connection: close\r\n"
        elif keep_alive_10:
            framing += b"Connection: keep-alive\r\n"
        return b"HTTP/1.1 %d %b%b%b\r\n" % (status, self.reason, self.lines, framing)
