"""What the proxy knows of gRPC: deadlines, and failures said as gRPC statuses.

gRPC runs over HTTP/2 as ordinary requests (``content-type: application/grpc...``), so the proxy
forwards it like any other request; two things differ. A request may carry ``grpc-timeout``
(its deadline, e.g. ``250m``): the HTTP/2 upstream stream fails at that deadline even when the
read timeout is longer. And a gRPC client reads the outcome from ``grpc-status``, not from the
HTTP status, so when the proxy itself cannot get an answer it replies with a trailers-only
response (HTTP 200, ``grpc-status`` and ``grpc-message`` in the head, no body) instead of an
error page: UNAVAILABLE (14) for an upstream that failed, DEADLINE_EXCEEDED (4) for a timeout.

The outcome of each call is kept for the metrics and the access log (proxy/exchange.py): the
``grpc-status`` of the trailers, of a trailers-only head, or the one the proxy answered itself. A
value that is not a number counts as UNKNOWN (2), as a gRPC client reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from urllib.parse import quote

if TYPE_CHECKING:
    from gitops_ingress.proxy.forwarding import RequestHead

UNAVAILABLE: Final = 14
DEADLINE_EXCEEDED: Final = 4
UNKNOWN: Final = 2
GRPC_STATUS_LINE: Final = b"\r\ngrpc-status:"  # as a head from an HTTP/2 upstream has it (lower case)
_UNITS: Final = {b"H": 3600.0, b"M": 60.0, b"S": 1.0, b"m": 1e-3, b"u": 1e-6, b"n": 1e-9}


def grpc_timeout(fields: list[tuple[bytes, bytes]]) -> float | None:
    """Seconds of a ``grpc-timeout`` field (1 to 8 digits and a unit), None when absent or invalid."""
    for name, value in fields:
        if name == b"grpc-timeout":
            digits, unit = value[:-1], value[-1:]
            if 0 < len(digits) <= 8 and digits.isdigit() and unit in _UNITS:
                return int(digits) * _UNITS[unit]
            return None
    return None


def _code(value: bytes) -> int:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) <= 4 else UNKNOWN


def head_status(lines: bytes) -> int:
    """The ``grpc-status`` of a response head's header lines (CRLF before each), -1 when none."""
    start = lines.find(GRPC_STATUS_LINE)
    if start < 0:
        return -1
    start += len(GRPC_STATUS_LINE)
    end = lines.find(b"\r\n", start)
    return _code(lines[start:] if end < 0 else lines[start:end])


def trailer_status(fields: list[tuple[bytes, bytes]], default: int) -> int:
    """The ``grpc-status`` among trailer fields, ``default`` when there is none."""
    for name, value in fields:
        if name.lower() == b"grpc-status":
            return _code(value)
    return default


def is_grpc(head: RequestHead) -> bool:
    """Whether the request is a gRPC call (its content-type says so)."""
    content_type = head.header(b"content-type")
    return content_type is not None and content_type.lower().startswith(b"application/grpc")


def status_response(code: int, message: str, *, close: bool) -> bytes:
    """A trailers-only gRPC response: the status in the head, no body."""
    encoded = quote(message, safe=" !#$&'()*+,/:;=?@[]~").encode()  # grpc-message is percent-encoded
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ngrpc-status: %d\r\ngrpc-message: %b\r\n"
        b"content-length: 0\r\n%b\r\n" % (code, encoded, b"connection: close\r\n" if close else b"")
    )
