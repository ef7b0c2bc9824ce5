"""HTTP/2 frames as bytes (RFC 9113 sections 4 and 6): the numbers, the serialisers, the errors.

The frame layer is ours (h2wire.py drives it) rather than the ``h2`` library's, because its cost
per frame decided the proxy's HTTP/2 speed (docs/dev/architecture.md, "HTTP/2"): a frame here is
a 9-byte header packed with one ``struct`` call and a ``bytes`` payload, with no frame objects, so
mypyc compiles it to a few C calls. Header blocks are HPACK (RFC 7541): decoded by h2decode.py,
encoded by h2encode.py.

Two exceptions carry what RFC 9113 section 5.4 distinguishes: ``H2StreamError`` ends one stream with
RST_STREAM and the connection serves on; ``H2ConnectionError`` ends the connection with GOAWAY.
"""

from __future__ import annotations

from struct import Struct
from typing import Final

from gitops_ingress.proxy.errors import ProxyError

PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types (RFC 9113 6)
DATA: Final = 0x0
HEADERS: Final = 0x1
PRIORITY: Final = 0x2
RST_STREAM: Final = 0x3
SETTINGS: Final = 0x4
PUSH_PROMISE: Final = 0x5
PING: Final = 0x6
GOAWAY: Final = 0x7
WINDOW_UPDATE: Final = 0x8
CONTINUATION: Final = 0x9

# flags
END_STREAM: Final = 0x1
ACK: Final = 0x1
END_HEADERS: Final = 0x4
PADDED: Final = 0x8
PRIORITY_FLAG: Final = 0x20

# error codes (RFC 9113 7)
NO_ERROR: Final = 0x0
PROTOCOL_ERROR: Final = 0x1
INTERNAL_ERROR: Final = 0x2
FLOW_CONTROL_ERROR: Final = 0x3
STREAM_CLOSED: Final = 0x5
FRAME_SIZE_ERROR: Final = 0x6
REFUSED_STREAM: Final = 0x7
CANCEL: Final = 0x8
COMPRESSION_ERROR: Final = 0x9
ENHANCE_YOUR_CALM: Final = 0xB
ERROR_NAMES: Final = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
                      4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM",
                      8: "CANCEL", 9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM",
                      12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}  # fmt: skip

# settings (RFC 9113 6.5.2)
HEADER_TABLE_SIZE: Final = 0x1
ENABLE_PUSH: Final = 0x2
MAX_CONCURRENT_STREAMS: Final = 0x3
INITIAL_WINDOW_SIZE: Final = 0x4
MAX_FRAME_SIZE: Final = 0x5
MAX_HEADER_LIST_SIZE: Final = 0x6

DEFAULT_WINDOW: Final = 65_535
DEFAULT_FRAME_SIZE: Final = 16_384
MAX_WINDOW: Final = 2**31 - 1
MAX_FRAME_SIZE_LIMIT: Final = 2**24 - 1

_HEAD: Final = Struct(">IBI")  # length << 8 | type, flags, stream id: 9 bytes
_U32: Final = Struct(">I")
_SETTING: Final = Struct(">HI")
_GOAWAY: Final = Struct(">II")


class H2StreamError(ProxyError):
    """A stream error (RFC 9113 5.4.2): RST_STREAM ``code`` on ``stream_id``; the connection lives."""

    def __init__(self, stream_id: int, code: int, message: str) -> None:
        super().__init__(message)
        self.stream_id = stream_id
        self.code = code


class H2ConnectionError(ProxyError):
    """A connection error (RFC 9113 5.4.1): GOAWAY ``code``, then the connection closes."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return _HEAD.pack(len(payload) << 8 | kind, flags, stream_id) + payload


def frame_head(data: bytes, at: int) -> tuple[int, int, int, int]:
    """(length, type, flags, stream id) of the frame header at ``data[at:at + 9]``."""
    length_kind, flags, stream_id = _HEAD.unpack_from(data, at)
    return length_kind >> 8, length_kind & 0xFF, flags, stream_id & 0x7FFFFFFF


def u32(data: bytes, at: int) -> int:
    value: int = _U32.unpack_from(data, at)[0]
    return value


def settings_frame(settings: list[tuple[int, int]]) -> bytes:
    return frame(SETTINGS, 0, 0, b"".join([_SETTING.pack(key, value) for key, value in settings]))


def settings_of(payload: bytes) -> list[tuple[int, int]]:
    return [_SETTING.unpack_from(payload, at) for at in range(0, len(payload), 6)]


def window_update(stream_id: int, increment: int) -> bytes:
    return frame(WINDOW_UPDATE, 0, stream_id, _U32.pack(increment))


def rst_stream(stream_id: int, code: int) -> bytes:
    return frame(RST_STREAM, 0, stream_id, _U32.pack(code))


def goaway(last_stream_id: int, code: int) -> bytes:
    return frame(GOAWAY, 0, 0, _GOAWAY.pack(last_stream_id, code))


def header_frames(stream_id: int, block: bytes, end_stream: bool, max_frame: int) -> bytes:
    """A header block as HEADERS and as many CONTINUATION frames as ``max_frame`` asks for."""
    flags = END_STREAM if end_stream else 0
    if len(block) <= max_frame:
        return frame(HEADERS, flags | END_HEADERS, stream_id, block)
    pieces = [frame(HEADERS, flags, stream_id, block[:max_frame])]
    for at in range(max_frame, len(block), max_frame):
        last = at + max_frame >= len(block)
        pieces.append(frame(CONTINUATION, END_HEADERS if last else 0, stream_id, block[at : at + max_frame]))
    return b"".join(pieces)


def unpadded(payload: bytes, flags: int, stream_id: int) -> bytes:
    """A DATA or HEADERS payload without its padding (RFC 9113 6.1)."""
    if not flags & PADDED:
        return payload
    if not payload or payload[0] >= len(payload):
        raise H2ConnectionError(PROTOCOL_ERROR, f"padding longer than the frame on stream {stream_id}")
    return payload[1 : len(payload) - payload[0]]
