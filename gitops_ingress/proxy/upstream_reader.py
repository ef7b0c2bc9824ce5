"""Reading an upstream's response with httptools: what the connection's parser callbacks need besides.

Three parser details shape proxy/upstream.py. httptools cannot be told that a response answers a
HEAD request, so for HEAD the head callback raises ``HeadDone`` to stop the parser, and a fresh
parser takes over. It has no end-of-input call, so a response delimited by the connection
closing is completed in the connection's ``connection_lost``. And it reports headers one callback
per header, which was the largest single cost of a small response; so the connection has no
``on_header`` (httptools then skips that callback) and keeps the bytes received since the request
was sent until the head is complete: the head is then cut out of them whole (``head_bounds``: the
first empty line after the status line; llhttp is strict about CRLF, so that is unambiguous) and
forwarded as one block by ``ResponseHead``. httptools still validates and frames everything.

Only a request whose client takes trailers (``TE: trailers``, as gRPC and HTTP/2 clients say)
gets a parser over a ``TrailerReader`` instead, which has ``on_header`` and keeps the fields that
come after the head: the trailers of a chunked body, passed on by ``upstream_trailers`` before the
end. It is a class of its own, not a flag on the connection, so the plain parser never calls
``on_header`` at all.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from gitops_ingress.proxy.upstream import UpstreamConnection

_EMPTY_LINES: Final = re.compile(rb"[\r\n]*")  # what llhttp skips before a status line (any protocol name)


def head_bounds(received: bytes, head_from: int) -> tuple[int, int]:
    """Where the head that starts at ``head_from`` of ``received`` lies: its status line's start,
    and the end of its last field line (before the empty line). The head is complete in it."""
    skipped = _EMPTY_LINES.match(received, head_from)  # llhttp skips them before a head
    start = skipped.end() if skipped is not None else head_from  # (the pattern always matches)
    return start, received.find(b"\r\n\r\n", start) + 2


class TrailerReader:
    """The parser callbacks of a response whose trailers are wanted: the connection's own, and
    ``on_header`` for the fields after the head (those of the head are cut out whole as always)."""

    __slots__ = ("conn", "fields")

    def __init__(self, conn: UpstreamConnection) -> None:
        self.conn = conn
        self.fields: list[tuple[bytes, bytes]] = []

    def on_message_begin(self) -> None:
        self.fields = []
        self.conn.on_message_begin()

    def on_headers_complete(self) -> None:
        self.conn.on_headers_complete()

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.conn.head_seen:  # after the final head: a trailer field
            self.fields.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.conn.on_body(body)

    def on_message_complete(self) -> None:
        sink = self.conn.sink
        if self.fields and sink is not None and self.conn.head_seen:
            sink.upstream_trailers(self.fields)
        self.conn.on_message_complete()


class HeadDone(Exception):
    """Raised from the parser callback to end a response to HEAD after its head."""
