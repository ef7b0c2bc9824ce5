"""The server-rendered dashboard: pages, links, 404s, escaping, traversal, headers, pagination."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest

from gitops_ingress.core.routing import RouteTable
from gitops_ingress.core.status import CommitInfo, SyncState
from gitops_ingress.web.options import WebOptions
from tests.web.dashboard_fakes import (
    SHA_BAD,
    FakeView,
    main_tables,
    open_client,
    route,
    sample_view,
)

HTML = {"Accept": "text/html"}
SCRIPT = "<script>alert(1)</script>"


def words(html: str) -> str:
    """The page without its soft line breaks (``<wbr>`` after dots and slashes)."""
    return html.replace("<wbr>", "")


@pytest.fixture
def view() -> FakeView:
    return sample_view()


def test_overview_lists_branches_by_environment_with_preview_links(view: FakeView) -> None:
    with open_client(view) as client:
        page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<a href="/branches/feature%2Fapi-v2">feature/api-v2</a>' in html
    assert 'href="http://feature-api-v2-1fac20--shop-example-com.preview.localhost:8080/"' in html
    assert '<th scope="col">production</th>' in html and '<th scope="col">staging</th>' in html
    assert html.index(">main</a>") < html.index(">broken</a>") < html.index(">feature/api-v2</a>")
    assert 'class="state state-refused"' in html


def test_branch_page_shows_routes_diff_findings_and_history(view: FakeView) -> None:
    with open_client(view) as client:
        feature = words(client.get("/branches/" + quote("feature/api-v2", safe="")).text)
        decoded = client.get("/branches/feature/api-v2")
        broken = words(client.get("/branches/broken").text)
    assert "GET shop.example.com/api</code>" in feature
    assert (
        'href="http://feature-api-v2-1fac20--shop-example-com.preview.localhost:8080/api/v2/new">try the preview'
        in feature
    )
    assert '<td data-label="Change">retargeted</td>' in feature and '<td data-label="Change">added</td>' in feature
    assert "https://github.com/acme/routes/blob/" + "b" * 40 + "/environments/production/shop.yaml#L30" in feature
    assert "12.5 ms" in feature
    assert decoded.status_code == 200 and ">feature/api-v2</h1>" in decoded.text
    # the refused branch: its findings, linked to the file and line at the refused commit
    assert "validation failed: 1 error" in broken and "api/path-invalid" in broken
    assert f"https://github.com/acme/routes/blob/{SHA_BAD}/environments/production/shop.yaml#L12" in broken
    assert "the last good commit keeps serving" in broken


def test_findings_are_plain_text_without_a_known_forge(view: FakeView) -> None:
    with open_client(view, WebOptions(repo_url="/srv/git/routes.git")) as client:
        broken = words(client.get("/branches/broken").text)
    assert "environments/production/shop.yaml:12" in broken and "github.com" not in broken


def test_unknown_branch_is_a_404_page(view: FakeView) -> None:
    with open_client(view) as client:
        missing = client.get("/branches/" + quote("no/such/branch", safe=""))
        other = client.get("/no-such-page", headers=HTML)
        api = client.get("/api/v1/nothing", headers=HTML)
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    assert "There is no branch named <code>no/such/branch</code>" in missing.text
    assert other.status_code == 404 and "<h1>Not found</h1>" in other.text
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "name",
    [
        "../../../../etc/passwd",
        "..%2F..%2Fpyproject.toml",
        "%2e%2e/%2e%2e/etc/passwd",
        "../static/../../api.py",
        "..\\..\\web\\api.py",
    ],
)
def test_path_traversal_through_branch_names_reaches_no_file(view: FakeView, name: str) -> None:
    with open_client(view) as client:
        for url in ("/branches/" + name, "/branches/" + quote(name, safe=""), "/static/" + quote(name, safe="")):
            answer = client.get(url, headers=HTML)
            assert answer.status_code == 404, url
            assert (
                "root:x:" not in answer.text and "[project]" not in answer.text and "def api_router" not in answer.text
            )


def test_hostile_names_messages_hosts_and_paths_are_escaped_everywhere(view: FakeView) -> None:
    hostile = f'feat/{SCRIPT}"onmouseover="x'
    tables = {
        "production": RouteTable(
            [
                route(f"{SCRIPT}.example.com", '/"><img src=x onerror=alert(2)>', f"svc{SCRIPT}"),
                route("shop.example.com", "/api", "catalog-api", "8080", file=f"environments/{SCRIPT}.yaml"),
            ]
        )
    }
    view.add(
        hostile,
        tables,
        head=CommitInfo(sha="d" * 40, author=SCRIPT, message=f"msg {SCRIPT}", time=SCRIPT),
        message=f"refused {SCRIPT}",
        state=SyncState.REFUSED,
    )
    with open_client(view) as client:
        pages = [
            client.get("/").text,
            client.get("/branches/" + quote(hostile, safe="")).text,
            client.get("/search", params={"host": f"{SCRIPT}.example.com", "path": "/", "branch": hostile}).text,
            client.get("/search", params={"host": SCRIPT, "branch": SCRIPT}).text,
            client.get("/branches/" + quote(SCRIPT, safe="")).text,
            client.get("/", params={"q": SCRIPT}).text,
        ]
        summary = client.get("/api/v1/previews/summary.md", params={"branch": hostile}).text
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
        assert 'onmouseover="x' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1]
    # markdown: hostile text only inside code spans (shown as written, never markup) or escaped
    outside_code = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", summary)
    assert "<script>alert" in summary and "<script" not in outside_code and "<img" not in outside_code


def test_only_http_links_are_rendered_from_preview_urls(view: FakeView) -> None:
    status = view.statuses["feature/api-v2"]
    bad = status.preview_urls[0].model_copy(update={"url": "javascript:alert(1)"})
    view.statuses["feature/api-v2"] = status.model_copy(update={"preview_urls": (bad,)})
    with open_client(view) as client:
        pages = [client.get("/").text, client.get("/branches/feature%2Fapi-v2").text]
    assert all('href="javascript:' not in html for html in pages)


def test_security_headers_and_no_inline_script(view: FakeView) -> None:
    with open_client(view) as client:
        page = client.get("/")
        api = client.get("/api/v1/branches")
        script = client.get("/static/live.js")
        style = client.get("/static/style.css")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and 'style="' not in page.text
    assert script.status_code == 200 and "EventSource" in script.text
    assert style.status_code == 200 and ":focus-visible" in style.text


def test_accessible_structure(view: FakeView) -> None:
    with open_client(view) as client:
        html = client.get("/").text
        search = client.get("/search").text
    assert '<html lang="en">' in html and 'name="viewport"' in html
    assert '<main id="main"' in html and '<nav aria-label="Main">' in html and 'href="#main"' in html
    for field in ("q", "state", "environment"):
        assert f'<label for="{field}">' in html
    for field in ("host", "path", "branch"):
        assert f'<label for="{field}">' in search


def test_stable_routes_page(view: FakeView) -> None:
    with open_client(view) as client:
        html = client.get("/routes").text
    assert "<h1>Stable routes</h1>" in html and "shop/catalog-api:8080" in html
    assert "catalog-api-v2" not in html


def test_route_search_answers_for_stable_preview_and_branch(view: FakeView) -> None:
    with open_client(view) as client:
        stable = client.get("/search", params={"host": "shop.example.com", "path": "/api/items"}).text
        branch = client.get(
            "/search", params={"host": "shop.example.com", "path": "/api", "branch": "feature/api-v2"}
        ).text
        preview = client.get(
            "/search", params={"host": "feature-api-v2-1fac20--shop-example-com.preview.localhost", "path": "/api"}
        ).text
        missing = client.get("/search", params={"host": "shop.example.com", "branch": "gone"})
        empty = client.get("/search").text
    assert "<code>shop/catalog-api:8080</code>" in stable
    assert "<code>shop/catalog-api-v2:8080</code>" in branch
    assert "<code>shop/catalog-api-v2:8080</code>" in preview and "preview host" in preview
    assert missing.status_code == 404 and "There is no branch named" in missing.text
    assert "Enter a host" in empty


def test_overview_with_1000_branches_is_paginated_and_fast() -> None:
    view = FakeView()
    view.add("main", main_tables())
    for index in range(1000):
        view.add(f"feature/team-{index % 7}/change-{index:04d}", main_tables())
    with open_client(view) as client:
        client.get("/")  # warm the template cache
        started = time.perf_counter()
        first = client.get("/")
        elapsed = time.perf_counter() - started
        last = client.get("/", params={"page": 21})
        beyond = client.get("/", params={"page": 99})
    print(f"\noverview of 1,001 branches (page 1 of 21): {elapsed * 1000:.1f} ms, {len(first.text)} bytes")
    assert first.status_code == 200 and "page 1 of 21" in first.text
    assert first.text.count('<tr data-branch="') == 50
    assert 'rel="next"' in first.text and 'href="/?page=2"' in first.text
    assert last.text.count('<tr data-branch="') == 1 and 'rel="prev"' in last.text
    assert beyond.status_code == 200 and beyond.text.count('<tr data-branch="') == 0


def test_api_docs_and_favicon_are_served_by_the_app_itself(view: FakeView) -> None:
    with open_client(view) as client:
        docs = client.get("/docs")
        script = client.get("/vendor/swagger-ui/swagger-ui-bundle.js")
        style = client.get("/vendor/swagger-ui/swagger-ui.css")
        icon = client.get("/favicon.ico")
        redoc = client.get("/redoc")
        page = client.get("/").text
    assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
    assert '"/vendor/swagger-ui/swagger-ui-bundle.js"' in docs.text and "cdn." not in docs.text
    assert '"validatorUrl": null' in docs.text
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
    assert style.status_code == 200 and ".swagger-ui" in style.text
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert redoc.status_code == 404  # the framework's CDN-loaded ReDoc page is gone
    assert '<a href="/docs">API docs</a>' in page and 'rel="icon" href="/static/favicon.svg"' in page


def test_live_update_status_is_only_offered_where_the_page_updates(view: FakeView) -> None:
    with open_client(view) as client:
        live = [client.get(url).text for url in ("/", "/routes", "/search", "/branches/main")]
        missing = client.get("/branches/gone").text
    for html in live:
        assert "data-live" in html and 'id="live-status"' in html
    assert "data-live" not in missing and 'id="live-status"' not in missing
    assert "Live updates: none on this page." in missing


def test_times_read_in_words_and_hosts_wrap_at_dots(view: FakeView) -> None:
    with open_client(view) as client:
        overview = client.get("/").text
        feature = client.get("/branches/feature%2Fapi-v2").text
    tooltip = '<time datetime="2026-11-25T10:00:00+00:00" title="2026-11-25T10:00:00+00:00">'
    assert tooltip in overview and " ago</time>" in overview
    synced = 'synced <time datetime="2026-11-26T12:00:00+00:00" title="2026-11-26T12:00:00+00:00">'
    assert synced in overview and synced in feature  # each branch's last sync age, in words
    assert "shop.<wbr>example.<wbr>com" in feature and "overflow-wrap: anywhere" not in feature


def test_the_branch_page_links_the_real_host_and_names_the_overlaid_hosts(view: FakeView) -> None:
    with open_client(view) as client:
        feature = words(client.get("/branches/feature/api-v2", headers=HTML).text)
        broken = words(client.get("/branches/broken", headers=HTML).text)
    assert (
        'href="http://shop.example.com:8080/?gitops-ingress-preview=feature-api-v2-1fac20">open on the real host'
        in (feature)
    )
    assert "these stable hosts are served by the branch: <code>shop.example.com</code>;" in feature
    assert "changes no stable host" in broken and "open on the real host" not in broken
