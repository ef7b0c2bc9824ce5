"""The RFC 9110/9112 edges of point 3 of the edge issue, over real sockets: Upgrade in HTTP/1.0,
the asterisk-form, HTTP versions, extension methods, interim responses, Date, Via, the header
count limit and an upstream that breaks in the middle of a body."""

from __future__ import annotations

import email.utils
import json
import logging
import time

import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import connect, exchange, read_responses

H = b"Host: shop.example.com\r\n"
WS = b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"


def seen(response) -> dict:
    return json.loads(response.body)


def names(record: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in record["headers"]:
        found.setdefault(name.lower(), []).append(value)
    return found


def test_http10_upgrade_is_ignored_and_answered_as_an_ordinary_request(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    with connect(proxy.port) as sock:  # 1.1 on the same proxy would get the 101 (test_websocket.py)
        sock.sendall(b"GET /ws HTTP/1.0\r\n" + H + WS + b"\r\n")
        (response,) = read_responses(sock)
    assert response.status == 200
    record = seen(response)
    assert "upgrade" not in names(record) and record["method"] == "GET"
    assert len(upstream.stats.requests) == 1


def test_http10_upgrade_with_a_request_behind_it_parses_on(echo_proxy) -> None:
    proxy, _ = echo_proxy
    request = b"GET /one HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n" + H + b"\r\n"
    responses = exchange(proxy.port, request + b"GET /two HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n", count=2)
    assert [(r.status, seen(r)["path"]) for r in responses] == [(200, "/one"), (200, "/two")]


@pytest.mark.parametrize("method", [b"GET", b"POST", b"DELETE"])
def test_the_asterisk_form_is_only_for_options(echo_proxy, method) -> None:
    proxy, upstream = echo_proxy
    (response,) = exchange(proxy.port, method + b" * HTTP/1.1\r\n" + H + b"\r\n")
    assert response.status == 400
    assert not upstream.stats.requests


def test_options_asterisk_is_answered_by_the_proxy(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    with connect(proxy.port) as sock:
        sock.sendall(b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\nGET /after HTTP/1.1\r\n" + H + b"\r\n")
        first, second = read_responses(sock, 2)
    assert (first.status, first.body, first.header("Content-Length")) == (200, b"", "0")
    assert first.header("Connection") is None  # kept alive: the next request is answered
    assert seen(second)["path"] == "/after"
    assert [r["path"] for r in upstream.stats.requests] == ["/after"]


def test_http_1_2_is_treated_as_1_1(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    with connect(proxy.port) as sock:
        for _ in range(3):  # kept alive as 1.1 is; the repeats are the cached head (repeats.py)
            sock.sendall(b"GET /v HTTP/1.2\r\n" + H + b"\r\n")
            (response,) = read_responses(sock)
            assert response.status == 200 and response.header("Connection") is None
    assert [r["version"] for r in upstream.stats.requests] == ["1.1"] * 3


@pytest.mark.parametrize("version", [b"2.0", b"3.0", b"0.9"])
def test_another_major_version_is_505(echo_proxy, version) -> None:
    proxy, upstream = echo_proxy
    (response,) = exchange(proxy.port, b"GET / HTTP/" + version + b"\r\n" + H + b"\r\n")
    assert response.status == 505
    assert not upstream.stats.requests


def test_an_extension_method_is_forwarded_with_its_body(make_proxy, line_upstream) -> None:
    url, lines, _ = line_upstream
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [url]}))
    asked = [b"FOOBAR /m HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc"] * 3  # retried, then cached
    asked += [b"x-custom.v2 /m HTTP/1.1\r\n" + H + b"\r\n", b"\r\nGET /m HTTP/1.1\r\n" + H + b"\r\n"]
    with connect(proxy.port) as sock:
        for request in asked:
            sock.sendall(request)
            (response,) = read_responses(sock)
            assert response.status == 200
    assert lines == [b"FOOBAR /m HTTP/1.1|abc"] * 3 + [b"x-custom.v2 /m HTTP/1.1|", b"GET /m HTTP/1.1|"]


def test_an_extension_method_pipelined_behind_another_request_is_refused(make_proxy, line_upstream) -> None:
    url, lines, _ = line_upstream  # the documented limit (protocol.py, docs/proxy.md)
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [url]}))
    pipelined = b"GET /a HTTP/1.1\r\n" + H + b"\r\nFOOBAR /b HTTP/1.1\r\n" + H + b"\r\n"
    assert [r.status for r in exchange(proxy.port, pipelined, count=2)] == [200, 400]
    assert lines == [b"GET /a HTTP/1.1|"]


def test_a_method_that_is_no_token_is_still_400(echo_proxy) -> None:
    proxy, upstream = echo_proxy
    (response,) = exchange(proxy.port, b"FOO(BAR) / HTTP/1.1\r\n" + H + b"\r\n")
    assert response.status == 400
    assert not upstream.stats.requests


def test_early_hints_reach_http11_clients_and_not_http10_ones(make_proxy, raw_upstream) -> None:
    answer = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 2\r\n\r\nok"
    )
    state = make_state([route("shop.example.com", "/", "web"), route("old.example", "/", "old")])
    proxy = make_proxy(state, backends({"web": [raw_upstream([answer])], "old": [raw_upstream([answer])]}))
    hint, final = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"\r\n", count=2)
    assert (hint.status, hint.header("Link"), hint.header("Content-Length")) == (103, "</style.css>; rel=preload", None)
    assert (final.status, final.body) == (200, b"ok")
    responses = exchange(proxy.port, b"GET / HTTP/1.0\r\nHost: old.example\r\n\r\n", count=2)
    assert [r.status for r in responses] == [200]


def _date_is_now(value: str | None) -> bool:
    assert value is not None
    return abs(email.utils.parsedate_to_datetime(value).timestamp() - time.time()) < 5


def test_date_on_the_proxys_own_answers(echo_proxy) -> None:
    proxy, _ = echo_proxy
    for request in (b"GET /%00 HTTP/1.1\r\n" + H + b"\r\n", b"GET * HTTP/1.1\r\n" + H + b"\r\n"):
        (response,) = exchange(proxy.port, request)
        assert response.status == 400
        assert _date_is_now(response.header("Date"))


def test_date_is_added_when_the_upstream_sends_none_and_kept_when_it_does(make_proxy, raw_upstream) -> None:
    dated = raw_upstream([b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 2\r\n\r\nok"])
    undated = raw_upstream([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    state = make_state([route("shop.example.com", "/", "dated"), route("other.example", "/", "undated")])
    proxy = make_proxy(state, backends({"dated": [dated], "undated": [undated]}))
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"\r\n")
    assert [v for k, v in response.headers if k.lower() == "date"] == ["Sun, 06 Nov 1994 08:49:37 GMT"]
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: other.example\r\n\r\n")
    assert len([v for k, v in response.headers if k.lower() == "date"]) == 1
    assert _date_is_now(response.header("Date")) and response.body == b"ok"


def test_via_is_added_both_ways_after_the_clients_own(echo_proxy) -> None:
    proxy, _ = echo_proxy
    (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"Via: 1.1 lb.example\r\n\r\n")
    assert names(seen(response))["via"] == ["1.1 lb.example", "1.1 gitops-ingress"]
    assert response.header("Via") == "1.1 gitops-ingress"
    (response,) = exchange(proxy.port, b"GET / HTTP/1.0\r\n" + H + b"\r\n")
    assert names(seen(response))["via"] == ["1.0 gitops-ingress"]  # the protocol it came in with


def test_via_is_a_setting_and_can_be_off(make_proxy, start_upstream) -> None:
    upstream = start_upstream("echo")
    state, backend_map = make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]})
    named = make_proxy(state, backend_map, ProxySettings(via="edge-7"))
    (response,) = exchange(named.port, b"GET / HTTP/1.1\r\n" + H + b"\r\n")
    assert (names(seen(response))["via"], response.header("Via")) == (["1.1 edge-7"], "1.1 edge-7")
    off = make_proxy(state, backend_map, ProxySettings(via=""))
    (response,) = exchange(off.port, b"GET / HTTP/1.1\r\n" + H + b"\r\n")
    assert "via" not in names(seen(response)) and response.header("Via") is None


def test_max_headers_counts_every_header_line_host_included(make_proxy, start_upstream) -> None:
    upstream = start_upstream("echo")
    state = make_state([route("shop.example.com", "/", "web")])
    proxy = make_proxy(state, backends({"web": [upstream.url]}), ProxySettings(max_headers=100))
    for count, status in ((100, 200), (101, 431)):  # Host and 99 or 100 others
        lines = b"".join(b"X-H%d: v\r\n" % index for index in range(count - 1))
        (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + lines + b"\r\n")
        assert response.status == status, count
    assert len(upstream.stats.requests) == 1


def test_an_upstream_reset_in_the_middle_of_a_body_is_logged(make_proxy, start_upstream, caplog) -> None:
    upstream = start_upstream("reset")  # 7 of 100000 announced bytes, then a reset
    proxy = make_proxy(make_state([route("shop.example.com", "/", "web")]), backends({"web": [upstream.url]}))
    with caplog.at_level(logging.WARNING, logger="gitops_ingress.proxy"):
        (response,) = exchange(proxy.port, b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        proxy.loop.call(lambda: None)  # the log line is written on the proxy's loop: let it run
    assert response.status == 200 and len(response.body) < 100000
    (message,) = [r.getMessage() for r in caplog.records if "middle of the response" in r.getMessage()]
    assert str(upstream.port) in message and "status 200" in message
