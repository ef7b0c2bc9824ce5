"""Forwarding: what the upstream sees (path, Host, X-Forwarded-*, hop-by-hop headers), what the
client sees back, the built-in default backend, previews, redirects, and Host header variants."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitops_ingress.proxy import headerkinds
from gitops_ingress.proxy.forwarding import RequestHeadBuilder, RequestIds
from gitops_ingress.proxy.headerkinds import header_kind
from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import exchange

H = b"Host: shop.example.com\r\n"


def seen(response) -> dict:
    record = json.loads(response.body)
    record["names"] = {name.lower() for name, _ in record["headers"]}
    record["map"] = {name.lower(): value for name, value in record["headers"]}
    return record


@pytest.fixture
def routed(make_proxy, start_upstream):
    """shop.example.com -> web; api.example.com/v1 -> api; *.apps.example.com -> apps;
    host-less -> fallback; a preview of branch feature-x with shop.example.com -> web-v2."""
    names = ["web", "api", "apps", "fallback", "web-v2"]
    upstreams = {name: start_upstream("echo") for name in names}
    state = make_state(
        [
            route("shop.example.com", "/", "web"),
            route("api.example.com", "/v1", "api"),
            route("*.apps.example.com", "/", "apps"),
            route("", "/", "fallback"),
            route("files.example.com", "/", "resource:bucket"),
        ],
        previews={"feature-x": [route("shop.example.com", "/", "web-v2")]},
    )
    proxy = make_proxy(state, backends({name: [u.url] for name, u in upstreams.items()}))
    return proxy, {name: u.port for name, u in upstreams.items()}


def test_a_normal_path_and_the_query_are_forwarded_unchanged(echo_proxy) -> None:
    proxy, _ = echo_proxy
    target = b"/a%2Fb/c%20d;x?q=%20&r=/../x//y#"
    (response,) = exchange(proxy.port, b"GET " + target[:-1] + b" HTTP/1.1\r\n" + H + b"\r\n")
    assert seen(response)["path"] == target[:-1].decode()


def test_forwarded_headers_are_set_and_a_clients_are_not_believed(echo_proxy) -> None:
    proxy, _ = echo_proxy
    request = (
        b"GET / HTTP/1.1\r\nHost: shop.example.com:8080\r\nX-Forwarded-For: 203.0.113.7\r\n"
        b"X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 1\r\n\r\n"
    )
    record = seen(exchange(proxy.port, request)[0])
    headers = record["map"]
    assert headers["x-forwarded-for"] == "127.0.0.1"  # no trusted proxies: the client's is replaced
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "shop.example.com:8080"
    assert headers["x-forwarded-port"] == str(proxy.port)
    assert len(headers["x-request-id"]) == 32
    assert headers["host"] == "shop.example.com:8080"
    assert [n for n, _ in record["headers"]].count("X-Forwarded-Host") == 1


def test_request_ids_are_a_prefix_and_the_counter_in_32_hex_digits_across_table_boundaries() -> None:
    ids = RequestIds()
    made = [ids.next() for _ in range(700)]  # past 256 and 512, where the formatted part changes
    prefix = made[0][:16]
    assert made == [prefix + b"%016x" % number for number in range(1, 701)]
    assert RequestIds().next()[:16] != prefix  # another server, another prefix


def test_request_id_is_kept_when_sane(echo_proxy) -> None:
    proxy, _ = echo_proxy
    (ok,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"X-Request-Id: abc-123\r\n\r\n")
    (bad,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"X-Request-Id: a b<c>\r\n\r\n")
    assert seen(ok)["map"]["x-request-id"] == "abc-123"
    assert seen(bad)["map"]["x-request-id"] != "a b<c>"


def test_hop_by_hop_request_headers_are_removed(echo_proxy) -> None:
    proxy, _ = echo_proxy
    request = (
        b"GET / HTTP/1.1\r\n" + H + b"Connection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\n"
        b"Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nProxy-Authorization: Basic eA==\r\n"
        b"Proxy-Foo: 1\r\nUpgrade: h2c\r\nX-Kept: yes\r\n\r\n"
    )
    names = seen(exchange(proxy.port, request)[0])["names"]
    for gone in (
        "connection",
        "x-secret-hop",
        "keep-alive",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-foo",
        "upgrade",
    ):
        assert gone not in names
    assert "x-kept" in names


def test_header_names_are_sorted_out_in_any_case_and_forwarded_as_spelled(echo_proxy) -> None:
    """proxy/headerkinds.py looks names up as sent first: spellings outside its table must be
    sorted out as their lowercase form, and ordinary ones forwarded as they came."""
    proxy, _ = echo_proxy
    request = (
        b"GET / HTTP/1.1\r\nhOST: shop.example.com\r\nKEEP-ALIVE: timeout=5\r\nPROXY-authorization: Basic eA==\r\n"
        b"pRoXy-Foo: 1\r\nX-REAL-IP: 203.0.113.7\r\nX-Forwarded-FOR: 203.0.113.8\r\nUSER-AGENT: shouting\r\n"
        b"user-agent: quiet\r\nSec-Fetch-Mode: navigate\r\nx-preview-BRANCH: main\r\n\r\n"
    )
    record = seen(exchange(proxy.port, request)[0])
    assert {"keep-alive", "proxy-authorization", "proxy-foo", "x-preview-branch"}.isdisjoint(record["names"])
    assert (record["map"]["x-real-ip"], record["map"]["x-forwarded-for"]) == ("127.0.0.1", "127.0.0.1")
    assert [line for line in record["headers"] if line[0].lower() in ("user-agent", "sec-fetch-mode")] == [
        ["USER-AGENT", "shouting"],
        ["user-agent", "quiet"],
        ["Sec-Fetch-Mode", "navigate"],
    ]
    (two_hosts,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"HOST: b.example.com\r\n\r\n")
    smuggled = b"POST / HTTP/1.1\r\n" + H + b"TRANSFER-encoding: chunked\r\nContent-length: 3\r\n\r\n0\r\n\r\n"
    (both,) = exchange(proxy.port, smuggled)
    assert (two_hosts.status, both.status) == (400, 400)


def test_every_spelling_in_the_header_table_is_the_kind_of_its_lowercase_form() -> None:
    for spelling, kind in headerkinds._SPELLINGS.items():
        lowered = spelling.lower()
        assert kind == headerkinds._SPECIAL.get(lowered, headerkinds.ORDINARY), spelling
        assert header_kind(spelling) == header_kind(lowered) == header_kind(spelling.swapcase())
    assert header_kind(b"Proxy-Anything") == header_kind(b"PROXY-ANYTHING") == headerkinds.DROP


def _kind_by_lowercase(name: bytes) -> int:
    """What header_kind must say: the kind of the lowercase name, without its shortcuts."""
    lowered = name.lower()
    if lowered in headerkinds._SPECIAL:
        return headerkinds._SPECIAL[lowered]
    return headerkinds.DROP if lowered.startswith(b"proxy-") else headerkinds.ORDINARY


_TCHAR = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _respelled(name: bytes, upper: list[bool], tail: bytes) -> bytes:
    """``name`` with its letters in uppercase where ``upper`` says so (longer than any name), then ``tail``."""
    return (
        bytes(byte - 0x20 if up and 0x61 <= byte <= 0x7A else byte for byte, up in zip(name, upper, strict=False))
        + tail
    )


# token names (RFC 9110 5.6.2), and many near the special names: respelled, one byte longer
_NAMES = st.one_of(
    st.lists(st.sampled_from(_TCHAR), min_size=1, max_size=24).map(bytes),
    st.builds(
        _respelled,
        st.sampled_from(sorted(headerkinds._SPECIAL)),
        st.lists(st.booleans(), min_size=20, max_size=20),
        st.sampled_from((b"", b"x", b"-", b"@", b"[")),
    ),
)


@given(_NAMES)
def test_header_kind_is_the_kind_of_the_lowercase_name_for_any_token(name: bytes) -> None:
    """The shortcut past the lookup (a first byte and length no special name has) never misses a
    special name in any case, nor a Proxy-* one; bytes that lowercase onto letters only from
    A-Z (``@`` and ``[`` beside them) are no letters."""
    assert header_kind(name) == _kind_by_lowercase(name)


def test_hop_by_hop_response_headers_are_removed(echo_proxy) -> None:
    proxy, _ = echo_proxy
    (response,) = exchange(proxy.port, b"GET /hop HTTP/1.1\r\n" + H + b"\r\n")
    names = {name.lower() for name, _ in response.headers}
    assert {"x-drop-me", "keep-alive", "connection"}.isdisjoint(names)
    assert "content-type" in names


def test_chunked_trailers_reach_a_client_that_said_te_trailers(echo_proxy) -> None:
    proxy, _ = echo_proxy
    (asked,) = exchange(proxy.port, b"GET /trailers HTTP/1.1\r\n" + H + b"TE: trailers\r\n\r\n")
    (unasked,) = exchange(proxy.port, b"GET /trailers HTTP/1.1\r\n" + H + b"\r\n")
    assert asked.body == unasked.body == b"hello"
    assert asked.headers[-2:] == [("x-checksum", "abc123"), ("x-count", "5")]  # the collector lists trailers last
    assert "x-checksum" not in {name.lower() for name, _ in unasked.headers}


def test_hosts_route_to_their_services(routed) -> None:
    proxy, ports = routed
    with httpx.Client(base_url=proxy.url) as http:
        assert http.get("/", headers={"Host": "shop.example.com"}).json()["port"] == ports["web"]
        assert http.get("/v1/users", headers={"Host": "api.example.com"}).json()["port"] == ports["api"]
        assert http.get("/", headers={"Host": "x.apps.example.com"}).json()["port"] == ports["apps"]
        assert http.get("/", headers={"Host": "other.example.net"}).json()["port"] == ports["fallback"]
        # a host group, once chosen, never falls back to another group's paths
        assert http.get("/v2", headers={"Host": "api.example.com"}).status_code == 404


@pytest.mark.parametrize(
    "host",
    [b"shop.example.com:8443", b"SHOP.Example.COM", b"shop.example.com.", b"Shop.Example.Com.:80"],
)
def test_host_variants_match_the_stable_host(routed, host: bytes) -> None:
    proxy, ports = routed
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    record = seen(response)
    assert record["port"] == ports["web"]
    assert record["map"]["host"] == host.decode()  # forwarded as the client wrote it


@pytest.mark.parametrize("host", [b"127.0.0.1", b"127.0.0.1:8080", b"[::1]:80", b"[::1]"])
def test_ip_literal_host_matches_only_hostless_rules(routed, host: bytes) -> None:
    proxy, ports = routed
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert seen(response)["port"] == ports["fallback"]


@pytest.mark.parametrize(
    ("name", "request_bytes"),
    [
        ("missing", b"GET / HTTP/1.1\r\n\r\n"),
        ("empty", b"GET / HTTP/1.1\r\nHost: \r\n\r\n"),
        ("two", b"GET / HTTP/1.1\r\nHost: a.example.com\r\nHost: b.example.com\r\n\r\n"),
        ("300-characters", b"GET / HTTP/1.1\r\nHost: " + b"h" * 300 + b"\r\n\r\n"),
        ("bad-characters", b"GET / HTTP/1.1\r\nHost: shop.example.com/evil\r\n\r\n"),
        ("userinfo", b"GET / HTTP/1.1\r\nHost: user@shop.example.com\r\n\r\n"),
    ],
)
def test_bad_host_headers_are_400(routed, name: str, request_bytes: bytes) -> None:
    proxy, _ = routed
    (response,) = exchange(proxy.port, request_bytes)
    assert response.status == 400
    assert b"Host" in response.body


def test_preview_host_sends_stable_host_upstream(routed) -> None:
    proxy, ports = routed
    preview = b"feature-x--shop-example-com.preview.localhost"
    (response,) = exchange(proxy.port, b"GET /cart HTTP/1.1\r\nHost: " + preview + b":8080\r\n\r\n")
    record = seen(response)
    assert record["port"] == ports["web-v2"]
    assert record["map"]["host"] == "shop.example.com"
    assert record["map"]["x-forwarded-host"] == preview.decode() + ":8080"
    assert record["path"] == "/cart"


def test_unknown_preview_says_no_such_preview(routed) -> None:
    proxy, _ = routed
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: nobranch--shop-example-com.preview.localhost\r\n\r\n")
    assert response.status == 404
    assert b"No preview exists for nobranch--shop-example-com.preview.localhost" in response.body
    assert str(response.header("content-type")).startswith("text/plain")


def test_default_backend_404_is_html_for_browsers(make_proxy) -> None:
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({}))
    request = b"GET / HTTP/1.1\r\nHost: nothing.<b>example.com\r\nAccept: text/html,*/*\r\n\r\n"
    (bad,) = exchange(proxy.port, request)
    assert bad.status == 400  # '<' is not a host character
    (page,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: nothing.example.com\r\nAccept: text/html,*/*\r\n\r\n")
    assert page.status == 404
    assert str(page.header("content-type")).startswith("text/html")
    assert b"nothing.example.com" in page.body and b"No Ingress rule matched" in page.body
    (text,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: nothing.example.com\r\nAccept: */*\r\n\r\n")
    assert str(text.header("content-type")).startswith("text/plain")
    assert b"No Ingress rule matched host nothing.example.com" in text.body
    (last,) = exchange(
        proxy.port, b"GET / HTTP/1.1\r\nHost: nothing.example.com\r\nAccept: */*\r\nACCEPT: text/html\r\n\r\n"
    )
    assert str(last.header("content-type")).startswith("text/html")  # the last Accept line decides


def test_resource_backend_is_404(routed) -> None:
    proxy, _ = routed
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: files.example.com\r\n\r\n")
    assert response.status == 404


def test_plain_http_redirects_to_https_for_tls_hosts(make_proxy, start_upstream) -> None:
    upstream = start_upstream("echo")
    state = make_state([route("secure.example.com", "/", "web"), route("shop.example.com", "/", "web")])
    proxy = make_proxy(
        state, backends({"web": [upstream.url]}), tls_redirect_hosts=lambda host: host == "secure.example.com"
    )
    (redirect,) = exchange(
        proxy.port, b"POST /pay?x=1 HTTP/1.1\r\nHost: Secure.Example.com:80\r\nContent-Length: 0\r\n\r\n"
    )
    assert redirect.status == 308
    assert redirect.header("location") == "https://secure.example.com/pay?x=1"
    (plain,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"\r\n")
    assert plain.status == 200
    assert upstream.stats.requests and all(r["path"] == "/" for r in upstream.stats.requests)


def test_absolute_form_target_uses_its_authority(routed) -> None:
    proxy, ports = routed
    request = b"GET http://api.example.com/v1/x?y=1 HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"
    record = seen(exchange(proxy.port, request)[0])
    assert record["port"] == ports["api"]
    assert record["path"] == "/v1/x?y=1"


def test_observer_hears_kind_branch_host_and_status(routed) -> None:
    proxy, _ = routed
    exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: feature-x--shop-example-com.preview.localhost\r\n\r\n")
    exchange(proxy.port, b"GET /v2 HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
    assert proxy.loop.call(proxy.observer.counted) == {
        ("preview", "feature-x", "shop.example.com", "h1", "2xx"): 1,
        ("stable", "", "api.example.com", "h1", "4xx"): 1,
    }


def test_access_hook_gets_one_record_per_request(make_proxy, start_upstream) -> None:
    from gitops_ingress.proxy.config import ProxySettings

    upstream = start_upstream("echo")
    records: list[tuple] = []  # AccessRecord tuples (proxy/accesslog.py), one per answer
    proxy = make_proxy(
        make_state([route("shop.example.com", "/", "web")]),
        backends({"web": [upstream.url]}),
        ProxySettings(access_log=True),
        records.append,
    )
    exchange(proxy.port, b"GET /logged?a=1 HTTP/1.1\r\n" + H + b"X-Request-Id: rid-1\r\n\r\n")
    (record,) = proxy.loop.call(lambda: list(records))
    _client, protocol, method, target, _host, status, _seconds, _kind, _branch, _group, endpoint, rid, _end, grpc = (
        record
    )
    assert (protocol, method, target, status, rid, grpc) == ("h1", b"GET", b"/logged?a=1", 200, b"rid-1", -1)
    assert str(endpoint) == upstream.url


def test_absolute_form_with_bad_host_is_400(routed) -> None:
    proxy, _ = routed
    (response,) = exchange(
        proxy.port, b"GET http://sh\xc3\xb6p.example.com/ HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"
    )
    assert response.status == 400


def test_a_bug_in_routing_is_a_500_not_a_hung_connection(routed) -> None:
    """A route source that hands over a broken resolver must not take the connection down silently."""
    from gitops_ingress.proxy.snapshot import Snapshot

    proxy, _ = routed

    def broken(ref):
        raise RuntimeError("resolver bug")

    state = proxy.holder.current.state
    proxy.loop.call(proxy.holder.swap, Snapshot(state, broken, "test"))
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
    assert response.status == 500
    proxy.loop.run(asyncio.wait_for(proxy.server.state.until_idle(), 5))
    assert proxy.stat("in_flight") == 0


def test_resolution_stays_an_immutable_value() -> None:
    """core Resolution became a NamedTuple for speed (it is built per request): still immutable."""
    state = make_state([route("shop.example.com", "/", "web")], previews={"f": [route("shop.example.com", "/", "web")]})
    resolution = state.resolve("F--Shop-Example-Com.preview.localhost:80", "/x")
    assert (resolution.branch, resolution.upstream_host, resolution.is_preview) == (
        "f",
        "shop.example.com",
        True,
    )
    with pytest.raises(AttributeError):
        resolution.host = "other"  # type: ignore[misc]


def test_a_header_is_read_by_its_whole_name_in_any_case() -> None:
    builder = RequestHeadBuilder()
    for name, value in ((b"Host", b"shop.example.com"), (b"Accept-Language", b"en"), (b"accept", b"text/html "),
                        (b"X-Accept", b"no"), (b"ACCEPT", b"*/*"), (b"Content-Type", b"application/grpc+proto")):  # fmt: skip
        builder.add(name, value)
    head = builder.finish(b"GET", True, True)
    assert head.values(b"accept") == [b"text/html", b"*/*"]  # in order, not Accept-Language nor X-Accept
    assert head.header(b"accept") == b"text/html"
    assert head.header(b"accept-language") == b"en"
    assert head.header(b"content-type") == b"application/grpc+proto"
    assert head.header(b"host") is None  # not forwarded as a line: the proxy writes its own
    assert head.header(b"origin") is None and head.values(b"origin") == []
