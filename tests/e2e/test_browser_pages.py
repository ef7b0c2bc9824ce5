"""Every dashboard page in Chromium at a desktop and a phone size, against ``serve`` on the sample
repository: no console error, nothing fetched from any host but the app's own, no horizontal page
scroll on a phone, and axe-core (pinned in ``tests/a11y/package-lock.json``, installed by
``scripts/test``) finds no serious or critical violation. Screenshots of every page go to
``test-artifacts/screenshots/`` for people to look at.

One ``serve`` for the module: these tests only read, and a stack takes seconds to settle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.test_browser import FEATURE, SCREENSHOTS, Stack, browser_page, running_stack

AXE = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
PAGES = {
    "overview": "/",
    "routes": "/routes",
    "search": "/search?host=shop.example.com&path=/api",
    "search-sent": "/search?host=shop.example.com&path=/api&send=1",
    "branch-main": "/branches/main",
    "branch-feature": "/branches/" + FEATURE.replace("/", "%2F"),
    "branch-refused": "/branches/broken",
    "not-found": "/no-such-page",
    "api-docs": "/docs",
}
# Swagger UI's own markup is not the dashboard's: it is checked for errors and requests, not by axe.
OUR_MARKUP = set(PAGES) - {"api-docs"}
BLOCKING_IMPACTS = ("serious", "critical")

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("pages")) as running:
        yield running


def axe_violations(page: Page) -> list[str]:
    page.evaluate(AXE.read_text())
    results: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    assert results["testEngine"]["name"] == "axe-core", results.get("testEngine")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_is_self_contained_readable_and_accessible(stack: Stack, viewport: str) -> None:
    assert AXE.is_file(), "axe-core is not installed: run npm ci --prefix tests/a11y (scripts/test does)"
    own = urlsplit(stack.api).netloc
    width, height = VIEWPORTS[viewport]
    problems: list[str] = []
    with browser_page(width, height) as page:
        current = {"name": ""}

        def console(message: ConsoleMessage) -> None:
            # the 404 page's own status is logged as a failed load of the document itself
            expected = current["name"] == "not-found" and message.location.get("url") == page.url
            if message.type == "error" and not expected:
                problems.append(f"{current['name']}: console {message.type}: {message.text} ({message.location})")

        page.on("console", console)
        page.on("pageerror", lambda error: problems.append(f"{current['name']}: page error: {error}"))
        page.on(
            "request",
            lambda request: (
                problems.append(f"{current['name']}: request to {request.url}")
                if urlsplit(request.url).scheme in ("http", "https", "ws", "wss")
                and urlsplit(request.url).netloc != own
                else None
            ),
        )
        for name, url in PAGES.items():
            current["name"] = name
            page.goto(stack.api + url)
            if name == "api-docs":
                expect(page.locator(".swagger-ui .info .title")).to_contain_text("gitops-ingress")
            elif page.locator("[data-live]").count():
                expect(page.locator("#live-status")).to_have_text("on")
            else:
                expect(page.locator("#live-status")).to_have_count(0)
            if name == "branch-feature":  # the map comes first, with the branch's change to /api marked
                first = page.locator("main h2").first
                expect(first).to_have_text("Route map")
                expect(page.locator("svg.routemap .node.path.change-retargeted")).to_contain_text("/api")
                expect(page.locator(".ba-row.change-retargeted .ba-after")).to_contain_text("catalog-api-v2")
                try_api = page.locator("svg.routemap a", has_text="/api").first  # paths link to the preview
                expect(try_api).to_have_attribute("href", re.compile(r"^http://[^/]+\.preview\.localhost:\d+/api"))
                # close-ups of the map and the diff picture (docs/dashboard.md shows them)
                for section in ("map-h", "diff-h"):
                    close_up = SCREENSHOTS / f"{name}-{section.removesuffix('-h')}-{viewport}.png"
                    page.locator(f'section[aria-labelledby="{section}"]').screenshot(path=str(close_up))
            page.wait_for_load_state("networkidle")
            if viewport == "phone":
                overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
                if overflow > 0:
                    problems.append(f"{name}: the page scrolls sideways by {overflow} px at {width} px")
            if name in OUR_MARKUP:
                problems += [f"{name}: axe: {v}" for v in axe_violations(page)]
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{viewport}.png"), full_page=True)
    assert not problems, "\n".join(problems)
