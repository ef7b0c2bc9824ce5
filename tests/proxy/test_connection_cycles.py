"""A client connection, once closed, is freed by reference counting: none of its objects is left in
a reference cycle for the cyclic garbage collector (protocol.py's ``_let_go``, tlsconn.py's
``connection_lost``). Left to the collector, every connection's protocol, reader, parser, timer
and TLS objects lived on until the next collection, and its passes cost a TLS connection some 1 %
of its instructions (docs/proxy.md, Memory).

Each case runs real connections over loopback, plain and TLS, ended each way a connection ends:
the client's ``Connection: close``, the client closing a keep-alive connection, and a refusal
that lingers (proxy/linger.py). Then a collection with ``gc.DEBUG_SAVEALL`` lists everything it
found unreachable, and none of it may be the proxy's connection objects."""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitops_ingress.proxy.tls import CertificateStore
from tests.proxy.conftest import ProxyHarness, backends, make_state, route
from tests.proxy.rawclient import read_responses
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, CertificateAuthority, ca_fixture  # noqa: F401

pytestmark = pytest.mark.timeout(60)
GET = b"GET /x HTTP/1.1\r\nHost: shop.example.com\r\n"
# the types a closed connection leaves behind when a cycle holds it
CONNECTION_TYPES = {"ClientConnection", "RequestReader", "LazyTimer", "ReadGate", "TLSConnection", "Lingering"}


@pytest.fixture
def saved_garbage() -> Iterator[Callable[[], list[str]]]:
    """``found()``: the type names of the proxy's objects a collection finds unreachable."""
    gc.collect()  # what earlier tests left: not this test's
    gc.set_debug(gc.DEBUG_SAVEALL)

    def found() -> list[str]:
        gc.collect()
        return sorted(type(obj).__name__ for obj in gc.garbage if type(obj).__name__ in CONNECTION_TYPES)

    try:
        yield found
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.fixture(params=["plain", "tls"])
def proxy(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    ca: CertificateAuthority,
    make_proxy: Callable[..., ProxyHarness],
    start_upstream: Callable[[str], TestUpstream],
) -> tuple[ProxyHarness, Callable[[], socket.socket]]:
    upstream = start_upstream("echo")
    state = make_state([route("shop.example.com", "/", "web")])
    options = {}
    client_context = None
    if request.param == "tls":
        ca.secret(tmp_path / "tls", "shop-tls", "shop.example.com")
        options["ssl_context"] = CertificateStore(tmp_path / "tls").server_context
        client_context = ssl.create_default_context(cafile=str(ca.path))
    harness = make_proxy(state, backends({"web": [upstream.url]}), **options)

    def connect() -> socket.socket:
        sock = socket.create_connection((LOOPBACK, harness.port), timeout=WAIT)
        if client_context is None:
            return sock
        return client_context.wrap_socket(sock, server_hostname="shop.example.com")

    return harness, connect


def until_all_closed(harness: ProxyHarness) -> None:
    harness.loop.run(asyncio.wait_for(harness.server.state.until_idle(), WAIT))


def asked_to_close(connect: Callable[[], socket.socket]) -> None:
    for _ in range(3):
        with connect() as sock:
            sock.sendall(GET + b"Connection: close\r\n\r\n")
            assert read_responses(sock)[0].status == 200


def closed_by_the_client(connect: Callable[[], socket.socket]) -> None:
    with connect() as sock:  # a keep-alive connection
        for _ in range(3):
            sock.sendall(GET + b"\r\n")
            assert read_responses(sock, count=1)[0].status == 200


def refused_and_lingering(connect: Callable[[], socket.socket]) -> None:
    with connect() as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: shop.example.com\r\nBad Header: x\r\n\r\n")
        assert read_responses(sock)[0].status == 400


@pytest.mark.parametrize("end", [asked_to_close, closed_by_the_client, refused_and_lingering])
def test_a_closed_connection_leaves_no_cycle(
    proxy: tuple[ProxyHarness, Callable[[], socket.socket]],
    saved_garbage: Callable[[], list[str]],
    end: Callable[[Callable[[], socket.socket]], None],
) -> None:
    harness, connect = proxy
    end(connect)
    until_all_closed(harness)
    assert saved_garbage() == []
