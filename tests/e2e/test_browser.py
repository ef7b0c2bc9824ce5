"""The dashboard in a real browser (Playwright driving Debian's Chromium) against the real engine:
``gitops-ingress serve`` as a subprocess on a real bare repository, with real backends.

Needs /usr/bin/chromium (``apt-get install chromium``; never ``playwright install``). Screenshots
are kept under ``test-artifacts/screenshots/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from gitops_ingress.cli.demo import FEATURE_FILE, FEATURE_YAML
from tests.support.gitrepos import WorkTree, make_sample_remote
from tests.support.manifests import ingress, to_yaml
from tests.support.processes import Child, poll
from tests.support.upstreams import refused_port as free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WAIT = 30.0
WAIT_MS = 30_000
SECRET = "browser-test-secret"
FEATURE = "feature/api-v2"
BAD_YAML = to_yaml(ingress("broken", "broken.example.com", "catalog-api", path="api", port=8080))  # a relative path
SERVICES = ("shop/storefront:http", "shop/catalog-api:8080", "shop/catalog-api-v2:8080")

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def named_backend(name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            # what a preview carries upstream (docs/previews.md), for tests/e2e/test_browser_previews.py
            carried = html.escape(f"{self.headers.get('x-preview-branch', '')} {self.headers.get('baggage', '')}")
            body = (
                f"<!doctype html><title>{name}</title><h1>backend {name}</h1><p>{self.path}</p>"
                f'<p class="carried">{carried}</p>'
            ).encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Stack:
    api: str
    proxy_port: int
    work: WorkTree

    def status(self, branch: str) -> dict[str, object] | None:
        answer = httpx.get(f"{self.api}/api/v1/branch", params={"branch": branch}, timeout=5)
        return answer.json() if answer.status_code == 200 else None

    def notify(self) -> None:
        answer = httpx.post(f"{self.api}/webhooks/generic", headers={"Authorization": f"Bearer {SECRET}"}, timeout=5)
        assert answer.status_code < 300, answer.text


@contextmanager
def running_stack(tmp_path: Path, env: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """``serve`` on the sample repository with a feature and a refused branch, every branch settled;
    ``env``: serve's whole environment, when given."""
    remote, work = make_sample_remote(tmp_path)
    work.branch(FEATURE)
    work.write({FEATURE_FILE: FEATURE_YAML})
    work.commit("Move the shop API to catalog-api-v2")
    work.push(FEATURE)
    work.branch("broken", "main")
    work.push("broken")
    work.write({"environments/production/storefront/broken.yaml": BAD_YAML})
    work.commit("<b>bad</b> path")
    work.push("broken")
    backends = {name: named_backend(name) for name in SERVICES}
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    api_port, proxy_port = free_port(), free_port()
    args = [
        "serve",
        "--repo",
        remote.url,
        "--listen",
        f"127.0.0.1:{api_port}",
        "--proxy-listen",
        f"127.0.0.1:{proxy_port}",
        "--state-dir",
        str(tmp_path / "state"),
        "--webhook-secret-file",
        str(secret),
        "--poll-interval",
        "30",
    ]
    for name, server in backends.items():
        args += ["--backend", f"{name}=http://127.0.0.1:{server.server_address[1]}"]
    serve = Child(args, wait=WAIT, env=env)
    stack = Stack(f"http://127.0.0.1:{api_port}", proxy_port, work)
    try:

        def settled() -> bool:
            if serve.proc.poll() is not None:
                raise AssertionError(f"serve exited with {serve.proc.returncode}:\n{serve.log()}")
            try:
                states = [stack.status(name) for name in ("main", FEATURE, "broken")]
            except httpx.HTTPError:  # not listening yet
                return False
            return all(s is not None and s["state"] in ("applied", "refused") for s in states)

        poll(settled, "serve to apply the branches", 60, logs=serve.log)
        yield stack
    finally:
        serve.stop()
        for server in backends.values():
            server.shutdown()
            server.server_close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path) as running:
        yield running


@contextmanager
def browser_page(width: int = 1280, height: int = 900, extra_args: tuple[str, ...] = ()) -> Iterator[Page]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with browser_page() as opened:
        yield opened


def test_overview_lists_branches_with_preview_links_that_reach_the_branch_backend(stack: Stack, page: Page) -> None:
    page.goto(stack.api + "/")
    rows = page.locator("tr[data-branch]")
    expect(rows).to_have_count(3)
    feature_row = page.locator(f'tr[data-branch="{FEATURE}"]')
    expect(feature_row.locator("a.preview").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)
    # phone-sized, for people to look at
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "overview-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    feature_row.get_by_role("link", name=FEATURE).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(FEATURE)
    try_link = page.locator("table.diff tr.change-retargeted a", has_text="try the preview").first
    expect(try_link).to_have_attribute(
        "href", f"http://feature-api-v2-1fac20--shop-example-com.preview.localhost:{stack.proxy_port}/api"
    )
    # serve's backend map has the three shop Services only: the others are marked, in words
    unserved = page.locator("p.unserved")
    expect(unserved).to_contain_text("503")
    expect(unserved.locator("code", has_text="shop/catalog-api-v2:8080")).to_have_count(0)
    expect(page.locator("svg.routemap .node.service.no-endpoint").first).to_be_visible()
    expect(
        page.locator("svg.routemap .node.service:not(.no-endpoint)", has_text="shop/catalog-api-v2:8080")
    ).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "branch.png"), full_page=True)
    try_link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("backend shop/catalog-api-v2:8080")
    page.screenshot(path=str(SCREENSHOTS / "preview.png"))


def test_branch_page_updates_without_a_reload_after_a_push(stack: Stack, page: Page) -> None:
    page.goto(stack.api + "/branches/" + FEATURE.replace("/", "%2F"))
    expect(page.locator("#live-status")).to_contain_text("on")
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("svg.routemap", has_text="/api/v3/beta")).to_have_count(0)
    stack.work.switch(FEATURE)
    stack.work.write({FEATURE_FILE: FEATURE_YAML.replace("/api/v2/recommendations", "/api/v3/beta")})
    stack.work.commit("Try v3")
    stack.work.push(FEATURE)
    stack.notify()
    expect(page.locator("svg.routemap .node.path.change-added", has_text="/api/v3/beta")).to_be_visible()
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    page.screenshot(path=str(SCREENSHOTS / "branch-after-push.png"), full_page=True)


def test_a_refused_branch_shows_its_findings(stack: Stack, page: Page) -> None:
    page.goto(stack.api + "/branches/broken")
    expect(page.locator(".facts .state")).to_have_text("refused")
    findings = page.locator("table.findings")
    expect(findings).to_contain_text("environments/production/storefront/broken.yaml:")
    expect(page.locator(".facts .message")).to_have_text("<b>bad</b> path")
    page.screenshot(path=str(SCREENSHOTS / "refused.png"), full_page=True)


def test_a_stable_host_is_tried_from_its_route_map_through_the_real_proxy(stack: Stack, page: Page) -> None:
    page.goto(stack.api + "/routes")
    # shop.example.com does not resolve here: the map's path links to the search page, which sends it
    page.locator('svg.routemap a[href="/search?host=shop.example.com&path=%2Fapi&send=1"]').click()
    answer = page.locator("section.tried")
    expect(answer).to_contain_text("200 OK")
    expect(answer.locator("pre")).to_contain_text("backend shop/catalog-api:8080")
    expect(page.get_by_role("heading", name="What the proxy answered")).to_contain_text(
        "GET http://shop.example.com/api"
    )
    page.screenshot(path=str(SCREENSHOTS / "tried.png"), full_page=True)
