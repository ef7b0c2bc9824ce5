"""The request path's shortcuts keep their promises: the per-snapshot route cache, response heads
forwarded as raw blocks (and cached), equal endpoints sharing one idle stack in the pool, and request heads seen before (immutable,
so one stored head serves every repeat).

Response heads are checked twice: through a real proxy and a raw-socket upstream that answers
exact bytes, and by feeding an UpstreamConnection byte pieces directly, which is the only way to
be sure a head arrives split across reads (TCP may merge what a server writes separately).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time

import pytest

from gitops_ingress.core.annotations.model import Cors, RouteEffects
from gitops_ingress.core.backends import Endpoint
from gitops_ingress.core.routing import ServiceRef
from gitops_ingress.proxy import BUILD
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.forwarding import RequestHead
from gitops_ingress.proxy.observe import NullObserver
from gitops_ingress.proxy.pool import UpstreamPool
from gitops_ingress.proxy.repeats import RequestHeads, ResponseHeads
from gitops_ingress.proxy.response_head import ResponseHead
from gitops_ingress.proxy.routecache import RouteCache
from gitops_ingress.proxy.snapshot import Snapshot
from gitops_ingress.proxy.upstream import UpstreamConnection
from tests.proxy.conftest import NS, backends, make_state, route
from tests.proxy.rawclient import connect, exchange, read_responses
from tests.support.upstreams import LoopThread

H = b"Host: shop.example.com\r\n"


# --- the route cache ---------------------------------------------------------------------------


def snapshot_to(service: str, hosts: tuple[str, ...] = ("shop.example.com",)) -> Snapshot:
    state = make_state([route(host, "/", service) for host in hosts])
    return Snapshot.from_backend_map(state, backends({service: ["http://127.0.0.1:9"]}))


SERVICE, RESOLUTION = 4, 7  # items of routecache.Routed
OBSERVER = NullObserver()


def test_route_cache_answers_from_memory_for_the_same_snapshot() -> None:
    cache, snapshot = RouteCache(), snapshot_to("web")
    first = cache.route(snapshot, b"shop.example.com", RequestHead(b"GET", b"/a?x=1").path, OBSERVER)
    assert first[SERVICE] == ServiceRef(NS, "web", "80")
    # the Resolution is made once per miss, so its identity tells a hit from a miss; the tuple
    # itself may be rebuilt on the way out of compiled code (setup.py)
    again = cache.route(snapshot, b"shop.example.com", RequestHead(b"GET", b"/a?y=2").path, OBSERVER)
    assert again[RESOLUTION] is first[RESOLUTION]  # the query plays no part
    assert len(cache) == 1
    other = cache.route(snapshot, b"SHOP.example.com:80", b"/a", OBSERVER)
    assert other[RESOLUTION] is not first[RESOLUTION]  # other raw bytes: an entry of their own


def test_distinct_paths_of_one_plain_route_share_its_answer_and_nothing_else_does() -> None:
    # every path a route without effects takes as sent gets the same answer: made once per route
    # and Host (RouteCache._per_route), however many paths miss the first table
    shop = make_state(
        [
            route("shop.example.com", "/", "web"),
            dataclasses.replace(
                route("shop.example.com", "/auth", "web"), effects=RouteEffects(cors=Cors(("https://a.example",)))
            ),
        ]
    )
    snapshot = Snapshot.from_backend_map(shop, backends({"web": ["http://127.0.0.1:9"]}))
    cache = RouteCache()
    first = cache.route(snapshot, b"shop.example.com", b"/products/1", OBSERVER)
    assert cache.route(snapshot, b"shop.example.com", b"/products/2", OBSERVER)[RESOLUTION] is first[RESOLUTION]
    assert len(cache) == 2  # each path has its entry; they share what it holds
    # a path that normalising changes carries its own forwarded path; another Host, its own names
    assert cache.route(snapshot, b"shop.example.com", b"/products/../3", OBSERVER)[RESOLUTION] is not first[RESOLUTION]
    assert cache.route(snapshot, b"SHOP.example.com", b"/products/4", OBSERVER)[RESOLUTION] is not first[RESOLUTION]
    # a route with effects may plan per path (rewrites, annotated.py): never shared
    auth = cache.route(snapshot, b"shop.example.com", b"/auth/1", OBSERVER)
    assert cache.route(snapshot, b"shop.example.com", b"/auth/2", OBSERVER)[RESOLUTION] is not auth[RESOLUTION]


def test_route_cache_is_invalidated_by_a_snapshot_swap() -> None:
    cache = RouteCache()
    first = cache.route(snapshot_to("web"), b"shop.example.com", b"/", OBSERVER)
    assert first[SERVICE] == ServiceRef(NS, "web", "80")
    # an equal-looking but new snapshot object routes the same host elsewhere: nothing old may leak
    moved = cache.route(snapshot_to("web-v2"), b"shop.example.com", b"/", OBSERVER)
    assert moved[SERVICE] == ServiceRef(NS, "web-v2", "80")
    assert len(cache) == 1


def test_route_cache_stays_bounded() -> None:
    cache = RouteCache(max_entries=8)
    snapshot = snapshot_to("web")
    for index in range(100):
        cache.route(snapshot, b"h%d.example.com" % index, b"/", OBSERVER)
        assert len(cache) <= 8


def test_swap_reroutes_a_host_whose_route_is_cached(make_proxy, start_upstream) -> None:
    old, new = start_upstream("echo"), start_upstream("echo")
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [old.url]}))
    request = b"GET /p HTTP/1.1\r\n" + H + b"\r\n"
    for _ in range(3):  # warm the cache
        assert exchange(proxy.port, request)[0].status == 200
    proxy.swap(make_state([route("shop.example.com", "/", "web-v2")], version=2), backends({"web-v2": [new.url]}))
    exchange(proxy.port, request)
    assert len(old.stats.requests) == 3
    assert len(new.stats.requests) == 1


# --- response heads as blocks ------------------------------------------------------------------


def test_response_head_drops_hop_by_hop_and_framing_lines() -> None:
    head = ResponseHead(
        b"HTTP/1.1 200  Fine  \r\nServer: t\r\nCONNECTION: keep-alive, X-Secret\r\nContent-Length:  12 \r\n"
        b"Keep-Alive: timeout=5\r\nx-secret: 1\r\nTE-Extra: kept\r\nConnection-Id: kept\r\nTrailer: x\r\n"
        b"Proxy-Authenticate: Basic\r\nProxy-Other: kept\r\nUpgrade: h2c\r\nSet-Cookie: a=b\r\n"
    )
    assert head.reason == b" Fine  "
    assert (head.content_length, head.chunked, head.upgrade) == (b"12", False, b"h2c")
    assert head.connection_tokens == {b"keep-alive", b"x-secret"}
    out = head.client_head(200, length=b"12", chunked=False, close=False, keep_alive_10=False)
    assert out == (
        b"HTTP/1.1 200  Fine  \r\nServer: t\r\nTE-Extra: kept\r\nConnection-Id: kept\r\nProxy-Other: kept\r\n"
        b"Set-Cookie: a=b\r\nContent-Length: 12\r\n\r\n"
    )


def test_response_head_without_headers_or_reason() -> None:
    head = ResponseHead(b"HTTP/1.1 204\r\n")
    assert head.reason == b""
    assert head.client_head(204, length=None, chunked=False, close=True, keep_alive_10=False) == (
        b"HTTP/1.1 204 \r\nConnection: close\r\n\r\n"
    )
    chunked = ResponseHead(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n")
    assert chunked.chunked and chunked.content_length is None


def test_length_head_is_the_keep_alive_client_head_built_once() -> None:
    date = b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
    head = ResponseHead(b"HTTP/1.1 200 OK\r\n" + date + b"Connection: x-secret\r\nX-Secret: 1\r\nContent-Length: 2\r\n")
    assert head.length_head == head.client_head(200, length=b"2", chunked=False, close=False, keep_alive_10=False)
    assert head.length_head == b"HTTP/1.1 200 OK\r\n" + date + b"Content-Length: 2\r\n\r\n"
    with_via = ResponseHead(b"HTTP/1.1 200 OK\r\n" + date + b"Content-Length: 2\r\n", b"edge")
    assert with_via.length_head == b"HTTP/1.1 200 OK\r\n" + date + b"Via: 1.1 edge\r\nContent-Length: 2\r\n\r\n"
    # without a Date, each response gets the Date of its second: no head built once
    assert ResponseHead(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n").length_head == b""
    assert ResponseHead(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n").length_head == b""
    assert ResponseHead(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n").length_head == b""


def test_response_heads_are_shared_by_bytes_and_bounded() -> None:
    heads = ResponseHeads(max_entries=4)
    block = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
    assert heads.parse(block) is heads.parse(bytes(bytearray(block)))
    big = b"HTTP/1.1 200 OK\r\nX: " + b"y" * heads.max_block + b"\r\n"
    assert heads.parse(big) is not heads.parse(big)  # too long to keep
    for index in range(20):
        heads.parse(b"HTTP/1.1 200 OK\r\nX: %d\r\n" % index)
        assert len(heads) <= 4


def test_request_heads_are_kept_at_their_second_sighting_and_found_by_their_whole_bytes() -> None:
    """repeats.RequestHeads: a head is stored the second time it is seen; a lookup answers only
    for the exact bytes (a block of a kept length, or with a kept block's digest, is no hit)."""
    heads = RequestHeads(max_entries=8)
    block = b"GET /a HTTP/1.1\r\nHost: a\r\nUser-Agent: " + b"x" * 80 + b"\r\n\r\n"
    head = RequestHead(b"GET", b"/a", host=b"a")
    heads.remember(block, head)
    assert heads.known(block) is None and len(heads) == 0  # seen once: only its digest noted
    heads.remember(bytes(bytearray(block)), head)
    assert heads.known(bytes(bytearray(block))) is head
    same_length = block.replace(b"/a", b"/b")  # the same length and the same last 64 bytes
    assert len(same_length) == len(block) and heads.known(same_length) is None
    other = RequestHead(b"GET", b"/b", host=b"a")
    heads.remember(same_length, other)  # its digest is that of ``block``: stored at once
    assert (heads.known(same_length), heads.known(block)) == (other, head)
    for index in range(20):  # bounded: emptied when full, and what was emptied is gone
        for _ in range(2):
            heads.remember(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % index, head)
        assert len(heads) <= 8
    assert heads.known(block) is None


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok",
        b"\r\nHTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok",
        b"\n\r\nHTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok",
        b"RTSP/1.0 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok",  # llhttp takes other protocol names
    ],
    ids=["continue", "early-hints", "leading-empty-line", "bare-line-feeds", "other-protocol"],
)
def test_final_head_is_found_after_interim_heads(make_proxy, raw_upstream, answer: bytes) -> None:
    url = raw_upstream([answer])
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [url]}))
    *interim, response = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"\r\n", count=2 if b" 103 " in answer else 1)
    assert (response.status, response.body, response.header("X-A"), response.header("Link")) == (200, b"ok", "1", None)
    # 103 Early Hints reaches the client first (test_rfc_edges.py has more); 100 Continue never does
    assert [(r.status, r.header("Link")) for r in interim] == ([(103, "</a>")] if b" 103 " in answer else [])


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def _upstream_reads(proxy) -> list[float]:
    """When the proxy's connections to upstreams last read, for every exchange waiting on one."""

    def reads() -> list[float]:
        queues = [conn.queue for conn in proxy.server.state.connections]
        return [ex.upstream.last_read for queue in queues for ex in queue if ex.upstream is not None]

    return proxy.loop.call(reads)


def _answer_in_pieces(proxy, upstream: socket.socket, answer: bytes, size: int) -> None:
    """Send ``answer`` ``size`` bytes at a time, each piece only once the proxy has read the one
    before (its upstream connection's last read moved on), so every cut is a read of its own."""
    for start in range(0, len(answer), size):
        before = _upstream_reads(proxy)
        upstream.sendall(answer[start : start + size])
        if start + size >= len(answer):
            return  # the last piece ends the response: the exchange is gone once it is read
        for _ in range(10_000):
            if _upstream_reads(proxy) != before:
                break
        else:
            pytest.fail(f"the proxy never read the piece at {start}")


@pytest.mark.parametrize("size", [1, 2, 7, 40])
def test_head_split_across_reads_is_whole(make_proxy, size: int) -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Made\r\nX-A: 1\r\nConnection: keep-alive\r\n"
        b"Content-Length: 5\r\n\r\nhello"
    )
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [url]}))
        with connect(proxy.port) as client:
            upstream = None
            for _ in range(2):  # twice on one upstream connection: the second head comes from the cache
                client.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
                if upstream is None:
                    upstream, _ = listener.accept()
                    upstream.settimeout(10)
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    head += upstream.recv(1)
                _answer_in_pieces(proxy, upstream, answer, size)
                [response] = read_responses(client)
                assert (response.status, response.body, response.header("X-A")) == (201, b"hello", "1")
                assert (response.header("Via"), response.header("Content-Length")) == ("1.1 gitops-ingress", "5")
            upstream.close()


def test_pool_finds_equal_endpoints_of_a_new_snapshot(loop_thread: LoopThread) -> None:
    async def run() -> None:
        pool = UpstreamPool(ProxySettings(), NullObserver())
        conn = UpstreamConnection(pool, Endpoint("127.0.0.1", 9))
        conn.connection_made(_Transport())
        pool.release(conn, asyncio.get_running_loop().time())
        assert pool.acquire(Endpoint("127.0.0.1", 9)) is conn  # another, equal object
        assert pool.acquire(Endpoint("127.0.0.1", 9)) is None
        conn.close()

    loop_thread.run(run())


# --- request heads seen before -------------------------------------------------------------------


def test_repeated_request_heads_are_answered_from_the_stored_head(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    request = b"GET /again?q=1 HTTP/1.1\r\n" + H + b"X-Request-Id: abc\r\nX-Kept: yes\r\n\r\n"
    stored = []
    with connect(proxy.port) as sock:
        for _ in range(3):  # one head per read: the proxy answers before the next is sent
            sock.sendall(request)
            (response,) = read_responses(sock)
            assert response.status == 200
            stored.append(proxy.loop.call(len, proxy.server.state.request_heads))
    assert stored == [0, 1, 1]  # kept the second time it is seen, used the third
    first, *rest = [(r["method"], r["path"], r["headers"]) for r in upstream.stats.requests]
    assert rest == [first, first]
    assert ("X-Kept", "yes") in first[2] and ("X-Request-Id", "abc") in first[2]


def test_a_connection_alternating_two_stored_heads_of_one_length_gets_each_its_own(echo_proxy) -> None:
    """The per-connection memo of the last stored head (protocol.py) compares the bytes, not their length."""
    proxy, upstream = echo_proxy
    heads = [b"GET /%s HTTP/1.1\r\n" % path + H + b"\r\n" for path in (b"aaaa", b"bbbb")]
    order = [0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1]
    with connect(proxy.port) as sock:
        for index in order:
            sock.sendall(heads[index])
            (response,) = read_responses(sock)
            assert response.status == 200
    assert proxy.loop.call(len, proxy.server.state.request_heads) == 2
    assert [r["path"] for r in upstream.stats.requests] == [("/aaaa", "/bbbb")[index] for index in order]


def test_an_upstream_alternating_two_heads_of_one_length_reaches_the_client_as_sent(make_proxy) -> None:
    """The upstream connection's memo of its last whole-read head (upstream.py) compares the
    bytes: two heads of one length and one framing, alternating, each reach the client as sent."""
    answers = [b"HTTP/1.1 200 OK\r\nX-A: %d\r\nContent-Length: 2\r\n\r\nok" % value for value in (1, 2)]
    order = [0, 0, 0, 1, 1, 0, 1, 1, 0]
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [url]}))
        seen = []
        with connect(proxy.port) as client:
            upstream = None
            for index in order:
                client.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
                if upstream is None:  # one upstream connection for all: the memo is per connection
                    upstream, _ = listener.accept()
                    upstream.settimeout(10)
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    head += upstream.recv(1)
                upstream.sendall(answers[index])  # one whole response in one read: the shortcut
                [response] = read_responses(client)
                seen.append((response.status, response.header("X-A"), response.body))
            upstream.close()
    assert seen == [(200, ("1", "2")[index], b"ok") for index in order]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\nok",
        b"GET / HTTP/1.0\r\n" + H + b"\r\n",
        b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
    ],
    ids=["body", "http10", "close"],
)
def test_heads_that_need_the_parser_are_not_stored(echo_proxy, request_bytes: bytes) -> None:
    proxy, _ = echo_proxy
    for _ in range(2):  # a head that may be kept is kept the second time it is seen
        assert exchange(proxy.port, request_bytes)[0].status == 200
    assert proxy.loop.call(len, proxy.server.state.request_heads) == 0


def test_a_read_holding_more_or_less_than_one_head_is_not_stored(echo_proxy) -> None:
    """protocol.py stores a read only when it was one whole head, told from the parser's state:
    two pipelined heads, a head and the start of the next, and the end of a head begun in an
    earlier read are parsed every time they come and never stored."""
    proxy, _ = echo_proxy
    first, second = b"GET /1 HTTP/1.1\r\n" + H + b"\r\n", b"GET /2 HTTP/1.1\r\n" + H + b"\r\n"
    for _ in range(2):  # a head that may be kept is kept the second time it is seen
        assert [r.status for r in exchange(proxy.port, first + second, count=2)] == [200, 200]
        with connect(proxy.port) as sock:
            sock.sendall(first + second[:10])
            wait_until_parsing(proxy)
            sock.sendall(second[10:])
            assert [r.status for r in read_responses(sock, 2)] == [200, 200]
    assert proxy.loop.call(len, proxy.server.state.request_heads) == 0
    for _ in range(2):
        assert exchange(proxy.port, first)[0].status == 200
    assert proxy.loop.call(len, proxy.server.state.request_heads) == 1  # one head alone: stored


@pytest.mark.skipif(BUILD.kind != "compiled", reason="the source build has mypy refuse the write (Final)")
def test_compiled_heads_refuse_changes() -> None:
    request, response = RequestHead(b"GET", b"/"), ResponseHead(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n")
    with pytest.raises(AttributeError):
        request.target = b"/elsewhere"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        response.length_head = b""  # type: ignore[misc]
    assert (request.target, response.fixed_length) == (b"/", 2)


def test_a_stored_absolute_form_head_is_rewritten_for_each_request(echo_proxy) -> None:
    """The origin-form of an absolute-form target belongs to the request, not to the shared head:
    each repeat is rewritten from the stored head's own target."""
    proxy, upstream = echo_proxy
    request = b"GET http://shop.example.com/abs?q=1 HTTP/1.1\r\n" + H + b"\r\n"
    stored = []
    with connect(proxy.port) as sock:
        for _ in range(3):
            sock.sendall(request)
            (response,) = read_responses(sock)
            assert response.status == 200
            stored.append(proxy.loop.call(len, proxy.server.state.request_heads))
    assert stored == [0, 1, 1]
    assert [r["path"] for r in upstream.stats.requests] == ["/abs?q=1"] * 3
    head = proxy.loop.call(proxy.server.state.request_heads.known, request)
    assert head.target == b"http://shop.example.com/abs?q=1"


def test_a_body_equal_to_a_known_head_stays_a_body(echo_proxy) -> None:
    """Bytes read while a body is expected are body bytes, whatever heads they look like."""
    proxy, upstream = echo_proxy
    known = b"GET /smuggled HTTP/1.1\r\n" + H + b"\r\n"
    exchange(proxy.port, known)
    exchange(proxy.port, known)
    assert proxy.loop.call(len, proxy.server.state.request_heads) == 1
    with connect(proxy.port) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(known)
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")  # the head was parsed: next read is body
        sock.sendall(known)
        (response,) = read_responses(sock)
    assert response.status == 200
    assert [(r["method"], r["path"], r["body_len"]) for r in upstream.stats.requests[2:]] == [
        ("POST", "/upload", len(known))
    ]


def wait_until_parsing(proxy, timeout: float = 10.0) -> None:
    """Until the proxy has read part of a head (each check is a round trip to its loop)."""
    deadline = time.monotonic() + timeout

    def busy() -> bool:
        return any(conn.reader.parsing is not None for conn in proxy.server.state.connections)

    while not proxy.loop.call(busy):
        assert time.monotonic() < deadline, "the proxy never read the partial head"


def test_a_head_completing_a_partial_read_is_parsed(echo_proxy) -> None:
    """A read equal to a known head is still parsed when it continues a head begun before."""
    proxy, upstream = echo_proxy
    known = b"GET /split HTTP/1.1\r\n" + H + b"\r\n"
    exchange(proxy.port, known)
    with connect(proxy.port) as sock:
        sock.sendall(b"GET /other HTTP/1.1\r\nX-A: ")
        wait_until_parsing(proxy)  # so the next bytes come in a read of their own
        sock.sendall(known)  # the rest of the /other head, though equal to a known head
        (response,) = read_responses(sock)
    assert response.status == 200
    last = upstream.stats.requests[-1]
    assert (last["path"], dict(last["headers"]).get("X-A")) == ("/other", "GET /split HTTP/1.1")


def test_a_head_knows_its_path_and_whether_it_may_carry_a_routing_key() -> None:
    """decide.py reads these instead of searching the target and headers on every request."""
    plain = RequestHead(b"GET", b"/a/b?x=1", cookie=b"theme=dark")
    assert (plain.path, plain.linked, plain.keyed) == (b"/a/b", False, False)
    link = RequestHead(b"GET", b"/a?x=1&gitops-ingress-preview=k")
    assert (link.path, link.linked, link.keyed) == (b"/a", True, False)
    in_path = RequestHead(b"GET", b"/gitops-ingress-preview=k")  # only the query holds the link
    assert (in_path.path, in_path.linked) == (b"/gitops-ingress-preview=k", False)
    for keyed in (
        RequestHead(b"GET", b"/", cookie=b"theme=dark; gitops-ingress-preview=k"),
        RequestHead(b"GET", b"/", baggage=b"userId=alice"),
        RequestHead(b"GET", b"/", preview_key=b"k"),
    ):
        assert keyed.keyed and keyed.path == b"/"
