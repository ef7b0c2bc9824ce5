"""Trying a request from the search page: a real GET over loopback to the configured proxy (here
the suite's echo upstream standing in for the proxy: it shows what a proxy would receive)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from gitops_ingress.web.options import WebOptions
from gitops_ingress.web.tryout import MAX_BODY, acceptable, try_request
from tests.support.upstreams import LoopThread, TestUpstream, refused_port
from tests.web.dashboard_fakes import open_client, sample_view


@pytest.fixture(scope="module")
def echo() -> Iterator[TestUpstream]:
    thread = LoopThread()
    upstream = thread.run(TestUpstream("echo").start())
    yield upstream
    thread.run(upstream.stop())
    thread.stop()


def test_the_request_goes_to_the_proxy_with_the_host_in_the_host_header(echo: TestUpstream) -> None:
    tried = asyncio.run(try_request(echo.url, "shop.example.com", "/api/items?page=2"))
    assert tried.error == "" and tried.status == 200 and tried.url == "http://shop.example.com/api/items?page=2"
    seen = json.loads(tried.body)
    assert seen["method"] == "GET" and seen["path"] == "/api/items?page=2"
    assert dict(seen["headers"])["host"] == "shop.example.com"
    assert ("content-type", "application/json") in tried.headers and tried.elapsed_ms > 0


def test_a_long_answer_is_cut_and_a_silent_proxy_is_an_error_not_a_traceback(echo: TestUpstream) -> None:
    big = asyncio.run(try_request(echo.url, "shop.example.com", f"/big?size={MAX_BODY * 4}"))
    assert big.truncated and len(big.body) == MAX_BODY
    gone = asyncio.run(try_request(f"http://127.0.0.1:{refused_port()}", "shop.example.com", "/"))
    assert gone.status == 0 and "did not answer" in gone.error and "ConnectError" in gone.error


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("shop.example.com\r\nx: y", "/"),
        ("127.0.0.1:22", "/"),
        ("*.example.com", "/"),
        ("shop.example.com", "/a b"),
        ("shop.example.com", "/a\r\nX-Injected: 1"),
        ("shop.example.com", "http://elsewhere.example/"),
        ("shop.example.com", ""),
    ],
)
def test_hosts_and_paths_that_are_not_a_plain_request_are_refused_before_sending(
    echo: TestUpstream, host: str, path: str
) -> None:
    before = len(echo.stats.requests)
    tried = asyncio.run(try_request(echo.url, host, path))
    assert tried.error == acceptable(host, path) != "" and tried.status == 0
    assert len(echo.stats.requests) == before  # nothing reached the proxy


def test_the_search_page_sends_it_only_when_asked_and_only_to_the_configured_proxy(echo: TestUpstream) -> None:
    options = WebOptions(repo_url="https://github.com/acme/routes.git", proxy_url=echo.url)
    with open_client(sample_view(), options) as client:
        asked = client.get("/search", params={"host": "shop.example.com", "path": "/api"}).text
        assert "Send it through the proxy" in asked and 'class="tried"' not in asked
        before = len(echo.stats.requests)
        sent = client.get("/search", params={"host": "shop.example.com", "path": "/api", "send": "1"}).text
        assert len(echo.stats.requests) == before + 1
        answer = sent.split('<section class="tried"', 1)[1].split("</section>", 1)[0]
        assert "<strong>200 OK</strong>" in answer and "&#34;shop.example.com&#34;" in answer
        # a branch's routes are tried on its preview host, as a browser would reach them
        branch = client.get(
            "/search", params={"host": "shop.example.com", "path": "/api", "branch": "feature/api-v2", "send": "1"}
        ).text
        assert "--shop-example-com." in branch.split('<section class="tried"', 1)[1].split("</h3>", 1)[0]
        stable = client.get("/branches/main").text
        assert '<a href="/search?host=shop.example.com&amp;path=%2Fapi&amp;send=1">' in stable
    with open_client(sample_view()) as client:  # no proxy configured: nothing to send, nothing sent
        page = client.get("/search", params={"host": "shop.example.com", "path": "/api", "send": "1"}).text
        assert "Send it through the proxy" not in page and 'class="tried"' not in page
