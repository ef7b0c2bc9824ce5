"""The ``Date`` header line (RFC 9110 6.6.1), formatted at most once a second.

An origin server with a clock must send Date on its final responses, and a proxy may add one to a
response that has none: the proxy does both, on its own pages (exchange.py) and on upstream
responses without a Date (response_head.ResponseHead.has_date). Formatting a date per response
would cost more than the rest of a small answer, so one ``HttpDate`` per server keeps the line of
the current second and reformats only when ``time()`` has moved on to another one.
"""

from __future__ import annotations

from time import gmtime, time
from typing import Final

_DAYS: Final = (b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun")
_MONTHS: Final = (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec")


def http_date_line(seconds: int) -> bytes:
    """``Date: Sun, 06 Nov 1994 08:49:37 GMT`` and its CRLF (the IMF-fixdate of RFC 9110 5.6.7)."""
    t = gmtime(seconds)
    return b"Date: %b, %02d %b %d %02d:%02d:%02d GMT\r\n" % (
        _DAYS[t.tm_wday], t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec,
    )  # fmt: skip


class HttpDate:
    """The Date line of the current second; one per server (the event loop's thread only)."""

    __slots__ = ("_line", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        now = int(time())
        if now != self._second:
            self._second = now
            self._line = http_date_line(now)
        return self._line
