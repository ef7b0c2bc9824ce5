"""ingress-nginx's rate limits, proxy-send-timeout and proxy-buffering through the real proxy and
real upstreams. ingress-nginx's e2e limitconnections.go is the model for ``limit-connections``
(a slow echo, more requests than the limit at once: exactly the limit answered 200, the rest
503); its limit-rps/-rpm have no e2e scenario beyond the configuration, so the requests here
follow nginx's ``limit_req burst=N nodelay`` arithmetic (core/annotations/rates.py)."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from gitops_ingress.core.annotations import PREFIX
from gitops_ingress.core.annotations.rates import RequestLimits
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.ratelimit import ClientLimiter
from tests.proxy.conftest import backends
from tests.proxy.fixtures_ops import WAIT, ProxyProcess, write
from tests.proxy.rawclient import connect, exchange, read_responses
from tests.proxy.test_annotations import get, state_of
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import LOOPBACK

P = PREFIX
HOST = "limit.foo.com"


def limited_proxy(make_proxy, start_upstream, annotations: dict[str, str], behavior: str = "echo", **settings):
    upstream = start_upstream(behavior)
    obj = ingress(host=HOST, annotations={P + key: value for key, value in annotations.items()})
    proxy = make_proxy(state_of(obj), backends({"web": [upstream.url]}), ProxySettings(**settings))
    return proxy, upstream


def statuses(port: int, count: int, client: str = "") -> list[int]:
    extra = f"X-Forwarded-For: {client}\r\n".encode() if client else b""
    return [get(port, HOST, "/", extra).status for _ in range(count)]


def test_limit_rpm_takes_a_burst_of_rate_times_multiplier_then_answers_503(make_proxy, start_upstream) -> None:
    """burst = 1 x 2: the first request and two more of the burst pass; the fourth is refused."""
    proxy, upstream = limited_proxy(make_proxy, start_upstream, {"limit-rpm": "1", "limit-burst-multiplier": "2"})
    assert statuses(proxy.port, 5) == [200, 200, 200, 503, 503]
    assert len(upstream.stats.requests) == 3  # a refused request never reaches the upstream


def test_the_default_burst_multiplier_is_five(make_proxy, start_upstream) -> None:
    proxy, _ = limited_proxy(make_proxy, start_upstream, {"limit-rpm": "2"})  # a minute's rate: no refill here
    assert statuses(proxy.port, 12) == [200] * 11 + [503]  # 2 x 5 + 1


def test_limit_rps_admits_the_burst_and_then_the_rate(make_proxy, start_upstream) -> None:
    """rps 1 x 5: six at once, then one more per second: bounded by the time the requests took."""
    proxy, _ = limited_proxy(make_proxy, start_upstream, {"limit-rps": "1"})
    started = time.monotonic()
    answered = statuses(proxy.port, 30)
    elapsed = time.monotonic() - started
    admitted = answered.count(200)
    assert set(answered) == {200, 503} and answered[:6] == [200] * 6
    assert admitted <= 6 + int(elapsed) + 1  # the refill over the run, and no more


def test_limits_are_per_client_address_as_trusted_proxies_decide(make_proxy, start_upstream) -> None:
    annotations = {"limit-rpm": "1", "limit-burst-multiplier": "1", "limit-allowlist": "10.9.0.0/16"}
    proxy, _ = limited_proxy(make_proxy, start_upstream, annotations, trusted_proxies=("127.0.0.1/32",))
    assert statuses(proxy.port, 3, "10.0.0.1") == [200, 200, 503]
    assert statuses(proxy.port, 3, "10.0.0.2") == [200, 200, 503]  # another client, its own bucket
    assert statuses(proxy.port, 5, "10.9.1.1") == [200] * 5  # limit-allowlist: not limited at all


def test_an_untrusted_peer_cannot_name_another_client(make_proxy, start_upstream) -> None:
    proxy, _ = limited_proxy(make_proxy, start_upstream, {"limit-rpm": "1", "limit-burst-multiplier": "1"})
    assert statuses(proxy.port, 1, "10.0.0.1") + statuses(proxy.port, 2, "10.0.0.2") == [200, 200, 503]


def test_limit_connections_answers_503_past_the_requests_in_progress(make_proxy, start_upstream) -> None:
    """e2e limitconnections.go: a slow backend, more requests than the limit at once."""
    limit, extra = 3, 5
    proxy, upstream = limited_proxy(make_proxy, start_upstream, {"limit-connections": str(limit)})
    held = []
    try:
        for _ in range(limit):
            upstream.stats.request_seen.clear()
            sock = connect(proxy.port)
            sock.sendall(f"GET /hold HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            held.append(sock)
            assert upstream.stats.request_seen.wait(5)  # in progress at the upstream
        refused = [
            exchange(proxy.port, f"GET /hold HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())[0] for _ in range(extra)
        ]
        assert [response.status for response in refused] == [503] * extra
        proxy.loop.call(upstream.release.set)
        assert [read_responses(sock)[0].status for sock in held] == [200] * limit
    finally:
        for sock in held:
            sock.close()
    assert statuses(proxy.port, limit + 1) == [200] * (limit + 1)  # each ended request was counted out


def test_the_limiter_forgets_the_longest_idle_client_past_its_bound() -> None:
    """A flood of addresses cannot grow the table: the least recently seen is evicted."""
    limiter = ClientLimiter(max_clients=100)
    limit = RequestLimits(rpm=1, burst_multiplier=1)
    assert [limiter.take(("shop/web", "10.0.0.1"), limit, 0.0) for _ in range(3)] == [True, True, False]
    for number in range(1000):
        limiter.take(("shop/web", f"10.1.{number // 256}.{number % 256}"), limit, 1.0)
    assert limiter.clients == 100
    assert limiter.take(("shop/web", "10.0.0.1"), limit, 2.0)  # forgotten: back with a full bucket
    assert limiter.take(("shop/web", "10.0.0.9"), RequestLimits(rps=1, burst_multiplier=1), 0.0)


def test_a_bucket_refills_at_the_rate() -> None:
    limiter, limit, key = ClientLimiter(), RequestLimits(rps=2, burst_multiplier=1), ("shop/web", "10.0.0.1")
    assert [limiter.take(key, limit, 10.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.take(key, limit, 10.5) and not limiter.take(key, limit, 10.5)  # half a second: one token


def _send_until_refused(sock: socket.socket, size: int) -> None:
    block = b"x" * 65536
    try:
        for _ in range(size // len(block)):
            sock.sendall(block)
    except OSError:  # the proxy answered and closed while we were still sending
        pass


def test_proxy_send_timeout_ends_a_request_the_upstream_stops_taking(make_proxy, start_upstream) -> None:
    """An upstream that reads nothing of a large upload: the route's 1 s between two successive
    writes ends it in 504, long before the proxy's own send and read timeouts (60 s)."""
    proxy, upstream = limited_proxy(make_proxy, start_upstream, {"proxy-send-timeout": "1"}, behavior="stall")
    size = 1 << 30
    sock = connect(proxy.port, timeout=20)
    try:
        sock.sendall(f"POST /upload HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {size}\r\n\r\n".encode())
        sender = threading.Thread(target=_send_until_refused, args=(sock, size), daemon=True)
        sender.start()
        (response,) = read_responses(sock)
        assert response.status == 504
        assert upstream.stats.requests == []  # it never read the request
    finally:
        sock.close()
    assert proxy.observer.errors.count("timeout") == 1


@pytest.mark.parametrize(
    ("buffering", "hold", "first_now"), [("off", None, True), ("on", None, False), ("on", 16, True)]
)
def test_proxy_buffering_holds_the_response_until_complete_or_the_hold_fills(
    make_proxy, start_upstream, buffering: str, hold: int | None, first_now: bool
) -> None:
    """off (ingress-nginx's default): the first chunk reaches the client while the upstream is
    still producing; on: nothing until the response is complete, unless it passes the hold."""
    settings = {"buffered_response": hold} if hold else {}
    proxy, upstream = limited_proxy(make_proxy, start_upstream, {"proxy-buffering": buffering}, **settings)
    sock = connect(proxy.port, timeout=10)
    try:
        sock.sendall(f"GET /trickle HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        sock.settimeout(5 if first_now else 1)
        try:
            early = sock.recv(65536)
        except TimeoutError:
            early = b""
        assert (b"first" in early) is first_now
        proxy.loop.call(upstream.release.set)
        sock.settimeout(10)
        received = early
        while not received.endswith(b"0\r\n\r\n"):
            received += sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 200") and b"first" in received and b"second" in received
    finally:
        sock.close()


def test_limits_and_affinity_in_the_proxy_process(tmp_path, start_upstream) -> None:
    """``gitops-ingress proxy`` over Ingress files: the limit and the sticky cookie as a user runs them."""
    first, second = start_upstream("echo"), start_upstream("echo")
    env = tmp_path / "production"
    limits = {P + "limit-rpm": "1", P + "limit-burst-multiplier": "1"}
    write(env / "limited.yaml", to_yaml(ingress("limited", HOST, annotations=limits)))
    write(env / "sticky.yaml", to_yaml(ingress("sticky", "sticky.foo.com", annotations={P + "affinity": "cookie"})))
    args = ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env), "--no-access-log", "--set", "send_timeout=30"]
    for upstream in (first, second):
        args += ["--backend", f"shop/web:80={upstream.url}"]
    with ProxyProcess(args) as proxy, httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
        assert [client.get("/", headers={"Host": HOST}).status_code for _ in range(3)] == [200, 200, 503]
        answer = client.get("/", headers={"Host": "sticky.foo.com"})
        cookie = answer.headers["set-cookie"].split(";")[0]
        ports = {client.get("/", headers={"Host": "sticky.foo.com", "Cookie": cookie}).json()["port"] for _ in range(4)}
        assert ports == {answer.json()["port"]}
