"""The proxy's own TLS record layer: one object per client connection that is the protocol of
its TCP transport and, once the handshake is done, the transport of the HTTP protocol above it.

Why not the event loop's SSL transport (``create_server(ssl=...)``). uvloop's and asyncio's drive
the same ``ssl.SSLObject`` over two memory BIOs, but around it they keep a state machine, a
second transport object, a write backlog, a context copy per write and a shutdown that waits for
the peer's close_notify under a timer; and they lose the alert of a failed handshake (CPython
gh-98078). Here the TCP transport stays the loop's (accept, buffering and flow control in C), and
between it and the HTTP protocol there is only this object, the ``_ssl`` object and its BIOs:

* incoming: ``data_received`` writes the bytes to the incoming BIO and reads the plaintext out
  (partial records stay in the BIO until the rest arrives), all of it handed up in one call;
* outgoing: every ``write`` seals its bytes at once and hands the records to the TCP transport
  in one write, so nothing is buffered here: the TCP transport's buffer is the only one, its
  high- and low-water marks are the ones the HTTP protocol sets, and its ``pause_writing`` and
  ``resume_writing`` are passed up as they come (a slow reader holds back the upstream);
* reading paused by the HTTP protocol pauses the TCP transport; what was read already stays in
  the incoming BIO (at most one read of the TCP transport) until reading resumes;
* closing sends close_notify once and closes the TCP transport after its buffer is written, as
  nginx does; it does not wait for the client's close_notify. A client's close_notify closes
  the connection the same way; a TCP EOF without one closes it too (no truncation is hidden:
  HTTP framing says whether a message was whole). ``write_eof`` is the half-close of a
  lingering close (proxy/linger.py): close_notify and the TCP half-close, and records are
  still read (OpenSSL reads after its own close_notify) until the client's close_notify or EOF.

The handshake. OpenSSL's alerts reach the client: a failed handshake writes its alert to the
outgoing BIO, which is sent before the socket closes (RFC 8446's ``protocol_version`` for a client
below TLS 1.2, above all); and a ClientHello whose ALPN list names nothing we speak gets a fatal
``no_application_protocol`` in place of the server's flight (RFC 7301 section 3.2; tlsalerts.py
says why Python's ``ssl`` cannot refuse it itself). Client-initiated renegotiation is refused
(tls.py sets ``OP_NO_RENEGOTIATION``). A handshake not done within the timeout is aborted.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any, Final, Protocol, cast

from gitops_ingress.proxy.tlsalerts import ALERT_RECORD, refusal

log = logging.getLogger("gitops_ingress.proxy.tls")

# plaintext asked of OpenSSL per read: one whole record (RFC 8446 5.1: at most 2^14 bytes); the
# loop in _read takes the rest. Not more: ``read(n)`` allocates n bytes before it shrinks them, and
# at 256 KiB that was an mmap, a page fault per page touched, an mremap and a munmap per read
READ_SIZE: Final = 16 * 1024
HELLO_LIMIT: Final = 64 * 1024  # ClientHello bytes kept for the ALPN check; past it OpenSSL judges


class TLSObject(Protocol):
    """What is used of ``_ssl._SSLSocket``, the C object under ``ssl.SSLObject`` (unstubbed)."""

    context: ssl.SSLContext

    def do_handshake(self) -> None: ...
    def read(self, size: int, /) -> bytes: ...
    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...
    def pending(self) -> int: ...
    def shutdown(self) -> object: ...
    def selected_alpn_protocol(self) -> str | None: ...


class _WrapBio(Protocol):
    def __call__(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, server_side: bool, /) -> TLSObject: ...


class TLSConnection(asyncio.Transport):
    """One TLS client connection: the protocol of its TCP transport (duck-typed: one base class
    only, as mypyc compiles it) and the transport of ``make_app()``'s protocol, built when the
    handshake is done. The ``_ssl`` object is made without an owner, so the SNI callback (tls.py)
    is handed that object itself and switches the certificate on it."""

    __slots__ = (
        "_app",
        "_closing",
        "_hello",
        "_incoming",
        "_make_app",
        "_outgoing",
        "_paused",
        "_tcp",
        "_timeout",
        "_timer",
        "_tls",
    )

    def __init__(self, context: ssl.SSLContext, make_app: Callable[[], asyncio.Protocol], timeout: float) -> None:
        self._make_app = make_app
        self._timeout = timeout
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        wrap = cast(_WrapBio, context._wrap_bio)  # type: ignore[attr-defined]
        self._tls = wrap(self._incoming, self._outgoing, True)
        self._tcp: asyncio.Transport | None = None
        self._app: asyncio.Protocol | None = None
        self._hello: bytes | None = b""  # the ClientHello so far; None once answered
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False
        self._closing = False

    # --- protocol of the TCP transport ---
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._tcp = cast(asyncio.Transport, transport)
        self._timer = asyncio.get_running_loop().call_later(self._timeout, self._handshake_timed_out)

    def data_received(self, data: bytes) -> None:
        self._incoming.write(data)
        if self._app is not None or self._handshake(data):
            self._read()

    def eof_received(self) -> bool | None:
        return None  # the TCP transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        app, self._app = self._app, None  # it holds us as its transport: no cycle left behind
        if app is not None:
            app.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._app is not None:
            self._app.pause_writing()

    def resume_writing(self) -> None:
        if self._app is not None:
            self._app.resume_writing()

    # --- the handshake ---
    def _handshake(self, data: bytes) -> bool:
        """Advance the handshake with what arrived; True once it is done and the app is up."""
        hello = self._hello
        if hello is not None:
            hello = hello + data if len(hello) < HELLO_LIMIT else None
        tls = self._tls
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            if hello is not None and self._outgoing.pending:  # the ClientHello is answered
                self._hello = None
                refused = refusal(hello, tls.selected_alpn_protocol())
                if refused is not None:
                    log.debug("tls: %s", refused)
                    self._outgoing.read()  # our flight, unsent: the alert goes instead
                    self._outgoing.write(ALERT_RECORD)
                    self._fail()
                    return False
            else:
                self._hello = hello
            self._flush()
            return False
        except (ssl.SSLError, OSError) as exc:
            log.debug("tls: handshake failed: %s", exc)
            self._fail()
            return False
        self._hello = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._flush()  # the last flight; TLS 1.3's session ticket
        app = self._make_app()
        self._app = app
        app.connection_made(self)
        return not self._closing

    def _fail(self) -> None:
        """OpenSSL gave up (a handshake, a bad record): send what it wrote (its alert), close."""
        self._closing = True
        self._flush()
        if self._tcp is not None:
            self._tcp.close()

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self._app is None and self._tcp is not None:
            log.debug("tls: no handshake within %.0f s", self._timeout)
            self._closing = True
            self._tcp.abort()

    # --- records in and out ---
    def _read(self) -> None:
        """Hand up every whole record the incoming BIO holds (unless reading is paused)."""
        if self._paused or self._closing:
            return
        tls, incoming = self._tls, self._incoming
        chunks: list[bytes] = []
        ended = False
        try:
            while incoming.pending or tls.pending():
                chunk = tls.read(READ_SIZE)
                if not chunk:  # the client's close_notify
                    ended = True
                    break
                chunks.append(chunk)
        except ssl.SSLWantReadError:  # a partial record: the rest comes with the next read
            pass
        except ssl.SSLZeroReturnError:  # the client's close_notify after ours (write_eof)
            ended = True
        except (ssl.SSLError, OSError) as exc:
            log.debug("tls: bad record: %s", exc)
            self._fail()
            return
        if self._outgoing.pending:  # post-handshake messages (a key update's answer)
            self._flush()
        app = self._app
        if chunks and app is not None:
            app.data_received(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if ended:
            self.close()

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data and self._tcp is not None:
            self._tcp.write(data)

    # --- transport of the HTTP protocol ---
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        tls = self._tls
        written = tls.write(data)  # OpenSSL seals all of it into the memory BIO, in records
        if written < len(data):  # never seen; kept so that a short write loses nothing
            view = memoryview(data)[written:]
            while view:
                view = view[tls.write(view) :]
        self._flush()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return self._tcp is not None and self._tcp.can_write_eof()

    def write_eof(self) -> None:
        """close_notify, then the TCP half-close: the end of what we send, while what the client
        still sends is read (proxy/linger.py). Nothing may be written after it (as for TCP)."""
        if self._closing or self._tcp is None:
            return
        try:
            self._tls.shutdown()  # writes close_notify; the client's is read by _read when it comes
        except (ssl.SSLError, OSError):
            pass
        self._flush()
        self._tcp.write_eof()  # after its buffer is written

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._app is not None:
            try:
                self._tls.shutdown()  # writes close_notify; the client's is not waited for
            except (ssl.SSLError, OSError):
                pass
            self._flush()
        if self._tcp is not None:
            self._tcp.close()  # after its buffer is written

    def abort(self) -> None:
        self._closing = True
        if self._tcp is not None:
            self._tcp.abort()

    def is_closing(self) -> bool:
        return self._closing or self._tcp is None or self._tcp.is_closing()

    def pause_reading(self) -> None:
        if not self._paused:
            self._paused = True
            if self._tcp is not None:
                self._tcp.pause_reading()

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            if self._tcp is not None:
                self._tcp.resume_reading()
            if self._incoming.pending or self._tls.pending():  # records read before the pause
                asyncio.get_running_loop().call_soon(self._read)  # _read minds a new pause

    def is_reading(self) -> bool:
        return not self._paused

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._tcp is not None:
            self._tcp.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._tcp.get_write_buffer_size() if self._tcp is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._tcp.get_write_buffer_limits() if self._tcp is not None else (0, 0)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._app = cast(asyncio.Protocol, protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return cast(asyncio.BaseProtocol, self._app)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self._tls
        if name == "sslcontext":
            return self._tls.context
        return self._tcp.get_extra_info(name, default) if self._tcp is not None else default


def listener_protocol(
    context: ssl.SSLContext | None, make_app: Callable[[], asyncio.Protocol], timeout: float
) -> Callable[[], asyncio.Protocol]:
    """The protocol factory of a listener whose connections speak ``make_app()``'s protocol: over
    this record layer when the listener has a TLS context, straight on TCP when it has none."""
    if context is None:
        return make_app
    return lambda: cast(asyncio.Protocol, TLSConnection(context, make_app, timeout))
