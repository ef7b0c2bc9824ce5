"""ProxyServer: state counters, hot reload under load, graceful drain on shutdown."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading

import httpx

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import connect, is_closed, read_responses

H = b"Host: shop.example.com\r\n"


def test_state_counts_connections_and_requests(echo_proxy) -> None:
    proxy, _ = echo_proxy
    with connect(proxy.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\nGET / HTTP/1.1\r\n" + H + b"\r\n")
        read_responses(sock, 2)
        assert proxy.loop.call(lambda: len(proxy.server.state.connections)) == 1
    proxy.loop.run(asyncio.wait_for(proxy.server.state.until_idle(), 5))
    assert proxy.stat("total_requests") == 2
    assert proxy.stat("in_flight") == 0


def test_reload_under_load_fails_no_request(make_proxy, start_upstream) -> None:
    blue, green = start_upstream("echo"), start_upstream("echo")
    states = [
        (make_state([route("shop.example.com", "/", "blue")], version=v), backends({"blue": [blue.url]}))
        if v % 2
        else (
            make_state([route("shop.example.com", "/", "green")], version=v),
            backends({"green": [green.url]}),
        )
        for v in range(1, 301)
    ]
    proxy = make_proxy(*states[0])
    stop = threading.Event()
    failures: list[str] = []
    counts = [0]
    progress = threading.Semaphore(0)  # one release per answered request: paces the swaps

    def load() -> None:
        with httpx.Client(base_url=proxy.url, headers={"Host": "shop.example.com"}, timeout=10) as http:
            for _ in range(100_000):
                if stop.is_set():
                    return
                response = http.get("/")
                counts[0] += 1
                progress.release()
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text}")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        workers = [pool.submit(load) for _ in range(4)]
        for state, backend_map in states:  # each swap is a new table compiled off the loop
            for _ in range(3):  # a few requests between swaps, so swaps land mid-traffic
                assert progress.acquire(timeout=10)
            proxy.swap(state, backend_map)
        stop.set()
        for worker in workers:
            worker.result(30)
    assert failures == []
    assert counts[0] >= 900
    assert blue.stats.requests and green.stats.requests


def test_keep_alive_connection_survives_reload(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    with connect(proxy.port) as sock:
        sock.sendall(b"GET /one HTTP/1.1\r\n" + H + b"\r\n")
        assert read_responses(sock)[0].status == 200
        proxy.swap(make_state([route("shop.example.com", "/", "web")], version=9), backends({"web": [upstream.url]}))
        sock.sendall(b"GET /two HTTP/1.1\r\n" + H + b"\r\n")
        assert read_responses(sock)[0].status == 200


def test_request_in_flight_during_reload_uses_its_own_snapshot(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    with connect(proxy.port) as sock:
        sock.sendall(b"GET /hold HTTP/1.1\r\n" + H + b"\r\n")
        assert upstream.stats.request_seen.wait(5)
        proxy.swap(make_state([], version=2), backends({}))  # the route is gone now
        proxy.loop.call(upstream.release.set)
        assert read_responses(sock)[0].status == 200
        sock.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        assert read_responses(sock)[0].status == 404


def test_shutdown_drains_in_flight_and_closes_idle(make_proxy, start_upstream) -> None:
    upstream = start_upstream("echo")
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}))
    idle = connect(proxy.port)
    busy = connect(proxy.port)
    try:
        idle.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        assert read_responses(idle)[0].status == 200
        busy.sendall(b"GET /hold HTTP/1.1\r\n" + H + b"\r\n")
        assert upstream.stats.request_seen.wait(5)
        done = asyncio.run_coroutine_threadsafe(proxy.server.shutdown(10), proxy.loop.loop)
        assert is_closed(idle)  # idle keep-alive connection: closed at once
        refused = socket.socket()
        try:  # no longer accepting
            assert refused.connect_ex(("127.0.0.1", proxy.port)) != 0
        finally:
            refused.close()
        proxy.loop.call(upstream.release.set)
        (response,) = read_responses(busy)
        assert response.status == 200 and response.header("connection") == "close"
        done.result(5)
        assert proxy.stat("in_flight") == 0 and not proxy.loop.call(lambda: len(proxy.server.state.connections))
    finally:
        idle.close()
        busy.close()


def test_shutdown_gives_up_after_its_timeout(make_proxy, start_upstream) -> None:
    upstream = start_upstream("silent")
    settings = ProxySettings(read_timeout=30)
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}), settings)
    with connect(proxy.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        assert upstream.stats.request_seen.wait(5)
        proxy.loop.run(proxy.server.shutdown(0.2))
        assert is_closed(sock)
    assert proxy.loop.call(lambda: len(proxy.server.state.connections)) == 0


def test_settings_refuse_nonsense_with_our_error() -> None:
    import pytest

    from gitops_ingress.core.errors import ConfigError

    with pytest.raises(ConfigError, match="read_timeout"):
        ProxySettings(read_timeout=-1).validated()
    with pytest.raises(ConfigError, match="unknown proxy setting"):
        ProxySettings().with_changes(no_such_knob=1)
    with pytest.raises(ConfigError, match="low_water"):
        ProxySettings(low_water=10, high_water=5).validated()
    assert ProxySettings().with_changes(max_body=10).max_body == 10
    # 0 turns lingering off (proxy/linger.py); below 0 means nothing
    assert ProxySettings().with_changes(lingering_time=0, lingering_timeout=0).lingering_time == 0
    with pytest.raises(ConfigError, match="lingering_timeout=-1"):
        ProxySettings(lingering_timeout=-1).validated()


def test_the_write_buffer_marks_reach_the_client_and_upstream_transports(make_proxy, start_upstream) -> None:
    """high_water/low_water are set on the loop's own transports (uvloop's are no
    asyncio.WriteTransport, which an isinstance check missed), client side and upstream side."""
    upstream = start_upstream("echo")
    settings = ProxySettings(high_water=300_000, low_water=70_000)
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}), settings)
    with connect(proxy.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
        assert read_responses(sock)[0].status == 200

        def marks() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
            clients = [conn.transport.get_write_buffer_limits() for conn in proxy.server.state.connections]
            idle = [conn for group in proxy.server.pool._groups.values() for conn in group.idle]
            return clients, [conn.transport.get_write_buffer_limits() for conn in idle]

        clients, upstreams = proxy.loop.call(marks)
    assert clients == [(70_000, 300_000)] and upstreams == [(70_000, 300_000)]
