"""Upgrade (WebSocket) tunnelled both ways, with raw frames over real sockets."""

from __future__ import annotations

import base64
import os
import struct

from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import connect, exchange, is_closed

UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: shop.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n"
)


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A masked client frame (payload < 64 KiB)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    length = (
        bytes([0x80 | len(payload)]) if len(payload) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    )
    return bytes([0x80 | opcode]) + length + mask + masked


def read_frame(sock) -> tuple[int, bytes]:
    head = _read_exact(sock, 2)
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", _read_exact(sock, 2))[0]
    return head[0] & 0x0F, _read_exact(sock, length)


def _read_exact(sock, count: int) -> bytes:
    data = b""
    for _ in range(10_000):
        if len(data) >= count:
            break
        piece = sock.recv(count - len(data))
        assert piece, "connection closed"
        data += piece
    return data


def read_head(sock) -> bytes:
    data = b""
    for _ in range(10_000):
        if b"\r\n\r\n" in data:
            break
        piece = sock.recv(1)
        assert piece, "connection closed"
        data += piece
    return data


def open_tunnel(port: int):
    sock = connect(port)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(UPGRADE % key)
    head = read_head(sock)
    assert head.startswith(b"HTTP/1.1 101 "), head
    assert b"Upgrade: websocket" in head and b"Sec-WebSocket-Accept:" in head
    return sock


def test_websocket_frames_flow_both_ways(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    with open_tunnel(proxy.port) as sock:
        for text in (b"hello", b"x" * 1000, b"last"):
            sock.sendall(frame(text))
            assert read_frame(sock) == (0x1, text)
        sock.sendall(frame(b"", opcode=0x8))
        assert read_frame(sock)[0] == 0x8
        assert is_closed(sock)
    headers = {k.lower(): v for k, v in upstream.stats.requests[0]["headers"]}
    assert headers["upgrade"] == "websocket" and headers["connection"] == "upgrade"


def test_frames_sent_with_the_upgrade_request_are_delivered(echo_proxy) -> None:
    proxy, _ = echo_proxy
    with connect(proxy.port) as sock:
        key = base64.b64encode(os.urandom(16))
        sock.sendall(UPGRADE % key + frame(b"early"))
        assert read_head(sock).startswith(b"HTTP/1.1 101")
        assert read_frame(sock) == (0x1, b"early")


def test_tunnel_survives_a_route_table_swap(echo_proxy, make_proxy) -> None:
    proxy, upstream = echo_proxy
    with open_tunnel(proxy.port) as sock:
        sock.sendall(frame(b"before"))
        assert read_frame(sock) == (0x1, b"before")
        proxy.swap(make_state([route("other.example.com", "/", "web")], version=2), backends({"web": [upstream.url]}))
        sock.sendall(frame(b"after"))
        assert read_frame(sock) == (0x1, b"after")


def test_upstream_closing_the_tunnel_closes_the_client(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    with open_tunnel(proxy.port) as sock:
        proxy.loop.run(upstream.stop())
        assert is_closed(sock)


def test_upgrade_refused_by_upstream_is_a_normal_response(make_proxy, start_upstream) -> None:
    upstream = start_upstream("echo")
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}))
    request = b"GET /status/426 HTTP/1.1\r\nHost: shop.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    (response,) = exchange(proxy.port, request)
    assert response.status == 426
    assert response.header("connection") == "close"
