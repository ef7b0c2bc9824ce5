"""TLS alerts that reach the client: ``no_application_protocol`` and every alert OpenSSL writes
when a handshake fails (``protocol_version`` for a client below TLS 1.2, above all).

Why this module exists. Two things stand between OpenSSL's alerts and the client when the
handshake runs inside asyncio's or uvloop's SSL transport (both drive an ``ssl.SSLObject`` over
memory BIOs):

1. Python's ``ssl`` answers an ALPN list with nothing we speak by not acknowledging ALPN
   (``SSL_TLSEXT_ERR_NOACK`` in CPython's ALPN callback); RFC 7301 section 3.2 wants a fatal
   ``no_application_protocol`` alert, and there is no public hook to fail the handshake.
2. When OpenSSL does fail a handshake it writes the alert into the outgoing memory BIO and
   raises ``SSLError``; the transports then force-close the socket without writing that BIO
   out (CPython gh-98078; uvloop's sslproto.pyx copies the same code), so the client reads EOF.

What is done instead, with no change to either transport. ``ServerContext.wrap_bio`` (the one
call both transports make per connection) hands them a ``HandshakeObject``, an ``SSLObject``
whose ``do_handshake``:

* keeps the bytes of the ClientHello as they arrive (read from the incoming BIO and written
  back, so OpenSSL sees them unchanged) until the server's first flight is written; if OpenSSL
  then selected no ALPN protocol and the ClientHello did offer ALPN with none of ``ALPN`` in it,
  the flight (not yet sent) is replaced by a plaintext fatal ``no_application_protocol`` record;
* turns a failed handshake that left an alert in the outgoing BIO into ``SSLWantReadError``
  once, so the transport writes the BIO out as it does for any handshake flight; the failure is
  kept and raised on the next call, which comes when the client, having read the alert, closes
  (EOF) or sends more, or the handshake timeout closes the connection.

Cost on the handshake path: one Python frame per ``do_handshake`` call and a read and write of
the incoming BIO until the ClientHello is answered; the ClientHello is parsed only when no ALPN
protocol was selected (a client without ALPN, or one offering none of ours). Nothing changes
after the handshake: reads and writes go straight to ``SSLObject``'s own methods.
"""

from __future__ import annotations

import ssl
import struct
from typing import Final, Protocol

ALPN: Final = ("h2", "http/1.1")  # h2 first: a client offering both gets HTTP/2 (proxy/h2conn.py)
SPOKEN: Final = frozenset(name.encode() for name in ALPN)

NO_APPLICATION_PROTOCOL: Final = 120  # RFC 7301 section 3.2
# a fatal alert record in the clear (before any key exists): type 21, version 3.3, length 2
_ALERT_RECORD: Final = b"\x15\x03\x03\x00\x02\x02" + bytes([NO_APPLICATION_PROTOCOL])
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


_FORWARDED: Final = ("read", "write", "pending", "getpeercert", "cipher", "compression", "selected_alpn_protocol")


class _TLSConnection(Protocol):
    """What is used here of ``_ssl._SSLSocket``, the C object under ``ssl.SSLObject`` (unstubbed)."""

    def do_handshake(self) -> None: ...
    def read(self, size: int, buffer: bytearray | memoryview = ..., /) -> int | bytes: ...
    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...
    def pending(self) -> int: ...


class HandshakeObject(ssl.SSLObject):
    """An ``SSLObject`` whose failed handshakes send their alert first (see the module's docstring)."""

    _sslobj: _TLSConnection  # set by ssl.SSLObject._create
    _incoming: ssl.MemoryBIO
    _outgoing: ssl.MemoryBIO
    _hello: bytes | None  # the ClientHello's bytes so far; None once answered
    _failure: ssl.SSLError | None  # a failed handshake whose alert is on its way

    @classmethod
    def _create(  # ssl.SSLObject._create: private, so not in the stubs
        cls,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
        context: ssl.SSLContext | None = None,
    ) -> HandshakeObject:
        self: HandshakeObject = super()._create(  # type: ignore[misc]
            incoming, outgoing, server_side, server_hostname, session, context
        )
        self._incoming, self._outgoing, self._hello, self._failure = incoming, outgoing, b"", None
        # The transports call read, write and pending for every record, and the others once per
        # handshake; ssl.SSLObject's own methods only forward to the C object (every caller
        # passes read's size), so the C methods are bound in their place: a Python frame less.
        tls = self._sslobj
        self.__dict__.update({name: getattr(tls, name) for name in _FORWARDED})
        return self

    def do_handshake(self) -> None:
        if self._failure is not None:
            raise self._failure
        hello = self._hello
        if hello is not None:
            arrived = self._incoming.read()
            self._incoming.write(arrived)
            hello += arrived
        try:
            self._sslobj.do_handshake()  # ssl.SSLObject's own method only forwards to it
        except ssl.SSLWantReadError:
            if hello is None:
                raise
            if not self._outgoing.pending:
                self._hello = hello  # the ClientHello is not complete yet
                raise
            self._hello = None
            if self.selected_alpn_protocol() is None:
                offered = offered_alpn(hello)
                if offered is not None and SPOKEN.isdisjoint(offered):
                    self._outgoing.read()  # our flight, unsent: the alert goes instead
                    self._outgoing.write(_ALERT_RECORD)
                    self._failure = ssl.SSLError(
                        NO_APPLICATION_PROTOCOL,
                        f"no_application_protocol: the client offers {b', '.join(offered).decode(errors='replace')}",
                    )
            raise
        except (ssl.SSLWantWriteError, ssl.SSLSyscallError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            raise
        except ssl.SSLError as exc:
            if not self._outgoing.pending:
                raise
            self._failure = exc
            raise ssl.SSLWantReadError("the handshake failed; its alert is sent first") from exc
        self._hello = None


class ServerContext(ssl.SSLContext):
    """The server context whose connections are ``HandshakeObject``s."""

    sslobject_class = HandshakeObject
