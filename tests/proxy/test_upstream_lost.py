"""Upstream connections that are lost early, what they leave behind, and how many the pool keeps.

The backend here is a real listening socket whose accept loop closes every connection at once:
the proxy's connect succeeds (the kernel completed the handshake), and the close arrives while
the request is still on its way to being sent, often before. Every request must be answered
502 (gRPC: UNAVAILABLE) at once, never left waiting for the read timeout.
"""

from __future__ import annotations

import gc
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.h2upstream import H2UpstreamConnection
from gitops_ingress.proxy.h2upstream_stream import H2UpstreamStream
from gitops_ingress.proxy.observe import NullObserver
from gitops_ingress.proxy.pool import UpstreamPool
from gitops_ingress.proxy.upstream import UpstreamConnection
from tests.proxy.conftest import backends, make_state, route
from tests.support.upstreams import LOOPBACK, WAIT, listening

# the read timeout is far beyond the client's: a request left waiting for it fails the test
PATIENT = ProxySettings(connect_timeout=5, read_timeout=600, retries=0)


class Slammer:
    """Accepts every connection and closes it before reading a byte."""

    def __init__(self) -> None:
        self.listener = listening(128)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:  # closed: the test is over
                return
            self.accepted += 1
            sock.close()

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(5)


@pytest.fixture
def slammer() -> Iterator[Slammer]:
    server = Slammer()
    yield server
    server.close()


@pytest.mark.parametrize("scheme", ["http", "h2c"])
def test_a_connection_lost_before_the_request_is_sent_fails_at_once(make_proxy, slammer: Slammer, scheme: str) -> None:
    state = make_state([route("shop.example.com", "/", "web")])
    proxy = make_proxy(state, backends({"web": [f"{scheme}://{LOOPBACK}:{slammer.port}"]}), PATIENT)

    def call(n: int) -> tuple[int, str | None]:
        grpc = n % 4 == 0  # a gRPC client is told UNAVAILABLE (14) instead of a 502 page
        headers = {"Host": "shop.example.com", "Content-Type": "application/grpc" if grpc else "text/plain"}
        with httpx.Client(base_url=proxy.url, headers=headers, timeout=20) as http:
            got = http.post(f"/{n}", content=b"x")
        return got.status_code, got.headers.get("grpc-status")

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(48)))
    assert answers == [(200, "14") if n % 4 == 0 else (502, None) for n in range(48)]
    # HTTP/1.1: a connection per request (no retries); HTTP/2: requests share the one being opened
    assert slammer.accepted >= (48 if scheme == "http" else 1)


def _wait_for(condition: Callable[[], bool]) -> None:
    """Until ``condition()`` holds (checked on the proxy's loop), within the tests' wait."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_the_pool_keeps_what_was_busy_at_once_and_lost_connections_are_freed(make_proxy, start_upstream) -> None:
    """Twelve requests at once with a floor of 2: all twelve connections idle afterwards (the
    floor alone would close ten). The upstream then closes them: with the cyclic GC off, every
    connection object is freed as soon as it is lost."""
    upstream = start_upstream("echo")
    state = make_state([route("shop.example.com", "/", "web")])
    proxy = make_proxy(state, backends({"web": [upstream.url]}), PATIENT.with_changes(pool_max_idle=2))

    def call(n: int) -> int:
        with httpx.Client(base_url=proxy.url, headers={"Host": "shop.example.com"}, timeout=20) as http:
            return http.get(f"/hold?n={n}").status_code

    with ThreadPoolExecutor(12) as pool:
        answers = pool.map(call, range(12))
        _wait_for(lambda: len(upstream.stats.requests) == 12)  # all twelve are busy at once
        proxy.loop.call(upstream.release.set)
        assert list(answers) == [200] * 12
    assert proxy.loop.call(proxy.server.pool.idle_count) == 12
    gc.collect()
    gc.disable()
    try:
        assert _alive(UpstreamConnection) == 12
        proxy.loop.run(upstream.stop())
        _wait_for(lambda: proxy.loop.call(proxy.server.pool.idle_count) == 0)
        proxy.loop.call(lambda: None)  # a turn of the loop after the last connection_lost
        assert _alive(UpstreamConnection) == 0  # freed by reference counting, nothing left for the GC
    finally:
        gc.enable()


@pytest.mark.parametrize("served", [True, False], ids=["served-then-closed", "closed-mid-stream"])
def test_lost_h2c_connections_and_their_streams_are_freed_without_the_gc(make_proxy, start_h2, served: bool) -> None:
    """An h2c backend (two streams per connection) takes four requests at once on two
    connections, answers them (or not) and then closes both: with the cyclic GC off, every
    upstream connection and stream object is freed as soon as it is lost (their timers and
    transports point back at them, h2upstream.py)."""
    upstream = start_h2("echo", 2)
    state = make_state([route("shop.example.com", "/", "web")])
    proxy = make_proxy(state, backends({"web": [upstream.url()]}), PATIENT)

    def call(_: int) -> int:
        with httpx.Client(base_url=proxy.url, headers={"Host": "shop.example.com"}, timeout=20) as http:
            return http.get("/hold").status_code  # held by the upstream until its release is set

    gc.collect()
    gc.disable()
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = pool.map(call, range(4))
            proxy.loop.run(upstream.wait_streams(4))  # all four held at once, two per connection
            assert (_alive(H2UpstreamConnection), _alive(H2UpstreamStream)) == (2, 4)
            if served:
                proxy.loop.call(upstream.release.set)
                assert list(answers) == [200] * 4
                assert (_alive(H2UpstreamConnection), _alive(H2UpstreamStream)) == (2, 0)
            proxy.loop.call(upstream.drop_connections)
            if not served:
                assert list(answers) == [502] * 4
        _wait_for(lambda: proxy.loop.call(lambda: len(upstream.open)) == 0)
        _wait_for(lambda: _alive(H2UpstreamConnection) == 0)  # never, if a cycle kept one
        assert _alive(H2UpstreamStream) == 0
    finally:
        gc.enable()


def _alive(kind: type) -> int:
    """Objects of ``kind`` not yet freed, reachable or not (those in a cycle wait for the GC).
    Counted, not watched by weak references: compiled classes free without clearing those."""
    return sum(type(item) is kind for item in gc.get_objects())


def test_endpoint_connections_follow_demand_within_the_idle_timeout(loop_thread) -> None:
    """The stack's size over time, at chosen moments (time.monotonic() values), on real connection
    objects of a real pool: a peak is remembered for at least a window, then forgotten."""

    def scenario() -> list[int]:
        settings = ProxySettings(pool_max_idle=1, upstream_idle_timeout=10)
        pool = UpstreamPool(settings, NullObserver())
        endpoint = Endpoint(LOOPBACK, 1)
        conns = [UpstreamConnection(pool, endpoint) for _ in range(4)]
        group = pool.group(endpoint)
        sizes = []
        for conn in conns:  # four busy at once at t=100
            group.started(conn)
        for conn in conns:
            pool.release(conn, 101.0)
        sizes.append(pool.idle_count())  # 4: the peak, above the floor of 1
        for now in (112.0, 118.0):  # the next window: one at a time, the last window's peak still counts
            conn = pool.acquire(endpoint)
            assert isinstance(conn, UpstreamConnection)
            pool.release(conn, now)
            sizes.append(pool.idle_count())
        conn = pool.acquire(endpoint)  # two windows later: the peak is one, the floor one
        assert isinstance(conn, UpstreamConnection)
        pool.release(conn, 140.0)
        sizes.append(pool.idle_count())
        sizes.append(int(conn.closed))
        sizes.append(group.busy)
        pool.close()
        return sizes

    assert loop_thread.call(scenario) == [4, 4, 4, 3, 1, 0]
