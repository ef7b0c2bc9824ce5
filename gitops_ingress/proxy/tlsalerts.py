"""TLS alerts that reach the client: ``no_application_protocol`` for a ClientHello offering no
protocol we speak, read off the ClientHello's bytes.

Why. Python's ``ssl`` answers an ALPN list with nothing we speak by not acknowledging ALPN
(``SSL_TLSEXT_ERR_NOACK`` in CPython's ALPN callback); RFC 7301 section 3.2 wants a fatal
``no_application_protocol`` alert, and there is no public hook to fail the handshake. So the
record layer (proxy/tlsconn.py) keeps the ClientHello's bytes until the server's first flight is
written; if OpenSSL then selected no ALPN protocol, ``refusal`` reads the list the ClientHello
offered, and when it names none of ``ALPN`` the flight (not yet sent) is replaced by
``ALERT_RECORD``, a plaintext fatal alert. Every other alert of a failed handshake is OpenSSL's
own (``protocol_version`` for a client below TLS 1.2, above all), which the record layer sends
before closing (the event loops' SSL transports drop it: CPython gh-98078).

Cost on the handshake path: the ClientHello is parsed only when no ALPN protocol was selected (a
client without ALPN, or one offering none of ours), and then ``_may_hold_alpn`` rules most
clients without ALPN out without the walk.
"""

from __future__ import annotations

import ssl
import struct
from typing import Final

ALPN: Final = ("h2", "http/1.1")  # h2 first: a client offering both gets HTTP/2 (proxy/h2conn.py)
SPOKEN: Final = frozenset(name.encode() for name in ALPN)

NO_APPLICATION_PROTOCOL: Final = 120  # RFC 7301 section 3.2
# a fatal alert record in the clear (before any key exists): type 21, version 3.3, length 2
ALERT_RECORD: Final = b"\x15\x03\x03\x00\x02\x02" + bytes([NO_APPLICATION_PROTOCOL])
_HANDSHAKE_RECORD: Final = 22
_CLIENT_HELLO: Final = 1
_ALPN_EXTENSION: Final = 16
_ALPN_TYPE: Final = _ALPN_EXTENSION.to_bytes(2, "big")
_U16: Final = struct.Struct("!H")
_EXTENSION: Final = struct.Struct("!HH")  # type, length


def offered_alpn(records: bytes) -> tuple[bytes, ...] | None:
    """The ALPN protocol names a ClientHello offers, from the TLS records that carry it; None
    when it has no ALPN extension, or when the bytes are not a complete ClientHello (OpenSSL
    judges those itself)."""
    if not _may_hold_alpn(records):  # no walk for a client without ALPN (wrk, s_time, ...)
        return None
    hello = records[5 : 5 + _U16.unpack_from(records, 3)[0]] if len(records) >= 5 else b""
    at = 5 + len(hello)
    while at + 5 <= len(records) and records[at] == _HANDSHAKE_RECORD:  # a hello may span records
        size = _U16.unpack_from(records, at + 3)[0]
        hello += records[at + 5 : at + 5 + size]
        at += 5 + size
    if len(hello) < 4 + 2 + 32 + 1 or records[0] != _HANDSHAKE_RECORD or hello[0] != _CLIENT_HELLO:
        return None
    end = min(len(hello), 4 + int.from_bytes(hello[1:4], "big"))
    at = 4 + 2 + 32  # handshake header, legacy_version, random
    at += 1 + hello[at]  # legacy_session_id
    if at + 2 > end:
        return None
    at += 2 + _U16.unpack_from(hello, at)[0]  # cipher_suites
    if at >= end:
        return None
    at += 1 + hello[at]  # legacy_compression_methods
    if at + 2 > end:
        return None
    end = min(end, at + 2 + _U16.unpack_from(hello, at)[0])
    at += 2
    while at + 4 <= end:
        kind, size = _EXTENSION.unpack_from(hello, at)
        at += 4
        if kind == _ALPN_EXTENSION:
            return _protocol_names(hello[at : min(at + size, end)])
        at += size
    return None


def refusal(hello: bytes, selected: str | None) -> ssl.SSLError | None:
    """The error to refuse a handshake with when OpenSSL selected no ALPN protocol (``selected``)
    and the ClientHello (``hello``, its records) offered ALPN with none of ours in it."""
    if selected is not None:
        return None
    offered = offered_alpn(hello)
    if offered is None or not SPOKEN.isdisjoint(offered):
        return None
    return ssl.SSLError(
        NO_APPLICATION_PROTOCOL,
        f"no_application_protocol: the client offers {b', '.join(offered).decode(errors='replace')}",
    )


def _may_hold_alpn(records: bytes) -> bool:
    """Whether some place in ``records`` reads as an ALPN extension's header: its type, then a
    length 2 more than the list's length after it. False rules ALPN out without the walk."""
    at = records.find(_ALPN_TYPE)
    while 0 <= at <= len(records) - 6:
        size, listed = _EXTENSION.unpack_from(records, at + 2)
        if size == listed + 2:
            return True
        at = records.find(_ALPN_TYPE, at + 1)
    return False


def _protocol_names(extension: bytes) -> tuple[bytes, ...]:
    names: list[bytes] = []
    at = 2  # the list's own length
    while at < len(extension):
        size = extension[at]
        names.append(extension[at + 1 : at + 1 + size])
        at += 1 + size
    return tuple(names)
