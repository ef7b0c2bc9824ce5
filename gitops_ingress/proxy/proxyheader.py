"""The PROXY protocol (HAProxy's, versions 1 and 2): who the client is, said by the L4 balancer.

A cloud TCP load balancer in front of the proxy connects from its own address; with the PROXY
protocol on, it first sends one header naming the client's address, then the client's bytes
(TLS included) untouched. On a listener with ``proxy_protocol`` (docs/proxy.md) every
connection must start with a valid header: the address it names becomes the connection's
client (so ``trusted_proxies`` is then asked about that address, and the access log shows it),
and a connection without one is closed without an answer. A ``LOCAL`` header (v2) or
``UNKNOWN`` (v1), the balancer's own health check, keeps the TCP peer as the client.

The header is read off the socket *before* asyncio gets the connection (``PreambleListener``),
with reads that never go past its end, so the bytes after it reach the HTTP or TLS protocol as
if they were the first: the TLS handshake needs no help, and the request path does not change.
Limits: v1 is at most 107 bytes (the specification's own bound); v2 at most 16 bytes plus
``MAX_V2_PAYLOAD``; both within the listener's header timeout. TLVs are read past, never used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import struct
from collections.abc import Callable
from functools import partial
from typing import Final

from gitops_ingress.core.errors import GitopsIngressError
from gitops_ingress.proxy.tlsconn import listener_protocol

log = logging.getLogger("gitops_ingress.proxy")

V1_MAX: Final = 107
V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
MAX_V2_PAYLOAD: Final = 4096  # addresses (at most 216 bytes) plus TLVs; the balancers' are a few hundred
_V2_ADDRESSES: Final = {0x11: (4, "!4s4sHH"), 0x12: (4, "!4s4sHH"), 0x21: (16, "!16s16sHH"), 0x22: (16, "!16s16sHH")}


class BadProxyHeader(GitopsIngressError):
    """A connection on a PROXY protocol listener that did not start with a valid header."""


def parse_v1(line: bytes) -> bytes | None:
    """The client address of a v1 line (``PROXY TCP4 src dst sport dport`` and its CRLF), or
    None for ``PROXY UNKNOWN ...`` (keep the peer)."""
    if not line.endswith(b"\r\n") or len(line) > V1_MAX:
        raise BadProxyHeader("v1 header without CRLF within 107 bytes")
    parts = line[:-2].split(b" ")
    if len(parts) >= 2 and parts[:2] == [b"PROXY", b"UNKNOWN"]:
        return None
    if len(parts) != 6 or parts[0] != b"PROXY" or parts[1] not in (b"TCP4", b"TCP6"):
        raise BadProxyHeader(f"malformed v1 header {line[:60]!r}")
    try:
        source = ipaddress.ip_address(parts[2].decode("ascii"))
        ipaddress.ip_address(parts[3].decode("ascii"))
        ports = [int(port) for port in parts[4:]]
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadProxyHeader(f"malformed v1 address in {line[:60]!r}") from exc
    if source.version != (4 if parts[1] == b"TCP4" else 6) or any(not 0 <= p <= 65535 for p in ports):
        raise BadProxyHeader(f"v1 address does not fit {parts[1].decode()}")
    return str(source).encode()


def parse_v2(fixed: bytes, payload: bytes) -> bytes | None:
    """The client address of a v2 header (``fixed``: its 16 first bytes), or None for LOCAL, an
    unspecified family or a UNIX socket (keep the peer). TLVs after the addresses are ignored."""
    version_command, family = fixed[12], fixed[13]
    if version_command >> 4 != 2 or version_command & 0x0F > 1:
        raise BadProxyHeader(f"v2 header with version/command byte {version_command:#x}")
    if version_command & 0x0F == 0:  # LOCAL: the balancer speaking for itself
        return None
    known = _V2_ADDRESSES.get(family)
    if known is None:
        if family >> 4 in (0, 3):  # AF_UNSPEC, AF_UNIX: no IP to tell
            return None
        raise BadProxyHeader(f"v2 header with address family byte {family:#x}")
    size, layout = known
    if len(payload) < struct.calcsize(layout):
        raise BadProxyHeader("v2 header shorter than its addresses")
    source = struct.unpack_from(layout, payload)[0]
    address = ipaddress.IPv4Address(source) if size == 4 else ipaddress.IPv6Address(source)
    return str(address).encode()


async def read_header(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes | None:
    """Read one PROXY header off ``sock`` and not a byte more; its client address (None: keep
    the peer). Raises BadProxyHeader."""
    start = await _read_exactly(loop, sock, 5)
    if start == b"PROXY":
        line = start
        while not line.endswith(b"\r\n"):
            if len(line) >= V1_MAX:
                raise BadProxyHeader("v1 header without CRLF within 107 bytes")
            await _readable(loop, sock)
            peeked = _recv(sock, V1_MAX - len(line), socket.MSG_PEEK)
            end = peeked.find(b"\n")
            line += _recv(sock, end + 1 if end >= 0 else len(peeked))  # nothing past the header
        return parse_v1(line)
    if not V2_SIGNATURE.startswith(start):
        raise BadProxyHeader("no PROXY protocol header")
    fixed = start + await _read_exactly(loop, sock, len(V2_SIGNATURE) - len(start))
    if fixed[:12] != V2_SIGNATURE:
        raise BadProxyHeader("no PROXY protocol header")
    fixed += await _read_exactly(loop, sock, 4)
    length = struct.unpack_from("!H", fixed, 14)[0]
    if length > MAX_V2_PAYLOAD:
        raise BadProxyHeader(f"v2 header of {length} bytes (at most {MAX_V2_PAYLOAD})")
    return parse_v2(fixed, await _read_exactly(loop, sock, length))


async def _read_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        await _readable(loop, sock)
        data += _recv(sock, size - len(data))
    return data


def _recv(sock: socket.socket, size: int, flags: int = 0) -> bytes:
    try:
        data = sock.recv(size, flags)
    except BlockingIOError:
        return b""  # woken without data after all: the caller waits again
    if not data and size:
        raise BadProxyHeader("connection closed inside the PROXY header")
    return data


async def _readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    waiter: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        await waiter
    finally:
        loop.remove_reader(sock.fileno())


class PreambleListener:
    """A listening socket whose connections start with a PROXY header: reads it, then hands the
    connection to asyncio (``connect_accepted_socket``) with the protocol ``make(client_ip)``
    builds. Closes like an ``asyncio.Server`` (ProxyServer.shutdown)."""

    def __init__(
        self,
        sock: socket.socket,
        make: Callable[[bytes], asyncio.Protocol],
        ssl_context: ssl.SSLContext | None,
        timeout: float,
    ) -> None:
        self.sockets = [sock]
        self._make = make
        self._ssl = ssl_context
        self._timeout = timeout
        self._pending: set[asyncio.Task[None]] = set()
        self._accepting = asyncio.get_running_loop().create_task(self._accept(sock))

    async def _accept(self, listening: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listening)
            except OSError as exc:  # out of file descriptors, say: asyncio's own servers wait 1 s too
                log.warning("accept failed on a PROXY protocol listener: %s; retrying in 1 s", exc)
                await asyncio.sleep(1.0)
                continue
            conn.setblocking(False)
            task = loop.create_task(self._handshake(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _handshake(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            client = await asyncio.wait_for(read_header(loop, conn), self._timeout)
        except (BadProxyHeader, TimeoutError, OSError) as exc:
            log.info("closing a connection on a PROXY protocol listener: %s", exc or "no header in time")
            conn.close()
            return
        if client is None:
            peer = conn.getpeername()
            client = str(peer[0]).encode() if isinstance(peer, tuple) else b""
        factory = listener_protocol(self._ssl, partial(self._make, client), self._timeout)  # tlsconn.py
        try:
            await loop.connect_accepted_socket(factory, conn)
        except OSError as exc:
            log.info("closing a connection after its PROXY header: %s", exc)
            conn.close()

    def close(self) -> None:
        self._accepting.cancel()
        for task in self._pending:
            task.cancel()
        for sock in self.sockets:
            sock.close()

    async def wait_closed(self) -> None:
        await asyncio.gather(self._accepting, *self._pending, return_exceptions=True)
