"""One HTTP/2 header block being assembled from HEADERS and its CONTINUATION frames (RFC 9113 6.10).

A HEADERS frame without END_HEADERS leaves its block open on its stream; h2wire.py then allows
nothing but CONTINUATION frames of that stream until one carries END_HEADERS, and hands the
joined block to the HPACK decoder (h2decode.py). What arrives meanwhile is bounded here, before
anything is decoded: at most ``MAX_CONTINUATIONS`` CONTINUATION frames and four times
``max_header_bytes`` of encoded block, so a client cannot make the proxy hold an endless block
(the CONTINUATION flood, CVE-2024-27316); past either bound the connection ends with
PROTOCOL_ERROR or ENHANCE_YOUR_CALM. At most one block is open per connection, so the wire keeps
one ``HeaderBlock`` and reuses it.
"""

from __future__ import annotations

from typing import Final

from gitops_ingress.proxy.h2frames import END_HEADERS, ENHANCE_YOUR_CALM, PROTOCOL_ERROR, H2ConnectionError

MAX_CONTINUATIONS: Final = 64


class HeaderBlock:
    __slots__ = ("ended", "frames", "max_octets", "octets", "parts", "stream")

    def __init__(self, max_header_bytes: int) -> None:
        self.max_octets = 4 * max_header_bytes
        self.parts: list[bytes] = []
        self.stream = 0  # a header block awaiting CONTINUATION on this stream; 0: none is open
        self.ended = False  # its HEADERS frame carried END_STREAM
        self.frames = 0  # CONTINUATION frames so far
        self.octets = 0

    def begin(self, sid: int, payload: bytes, ended: bool) -> None:
        """A HEADERS frame on ``sid`` without END_HEADERS: ``payload`` (unpadded) starts a block."""
        self.parts = [payload]
        self.stream = sid
        self.ended = ended
        self.frames = 0
        self.octets = len(payload)

    def add(self, sid: int, flags: int, payload: bytes) -> bytes | None:
        """A CONTINUATION frame: the whole block when it ends it, else None; raises
        H2ConnectionError for one without an open block, or past the bounds."""
        if not self.stream or sid != self.stream:
            raise H2ConnectionError(PROTOCOL_ERROR, f"CONTINUATION on stream {sid} without HEADERS")
        self.frames += 1
        self.octets += len(payload)
        if self.frames > MAX_CONTINUATIONS:
            raise H2ConnectionError(PROTOCOL_ERROR, f"more than {MAX_CONTINUATIONS} CONTINUATION frames")
        if self.octets > self.max_octets:
            raise H2ConnectionError(ENHANCE_YOUR_CALM, f"a header block over {self.max_octets} octets")
        self.parts.append(payload)
        if not flags & END_HEADERS:
            return None
        block, self.parts = b"".join(self.parts), []
        self.stream = 0
        return block
