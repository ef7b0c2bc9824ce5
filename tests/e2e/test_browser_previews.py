"""Previews on the real host in a real browser (docs/previews.md): the ``?gitops-ingress-preview=``
link on a stable host of the sample repository, through ``gitops-ingress serve`` as a subprocess.

Chromium resolves the stable host ``shop.example.com`` to 127.0.0.1 (``--host-resolver-rules``), so
the browser sends the real Host to the proxy, as it would in production. The sample backends show
what a preview carries upstream (``X-Preview-Branch`` and ``baggage``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import SCREENSHOTS, Stack, browser_page, running_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SLUG = "feature-api-v2-1fac20"
RESOLVE_STABLE_HOST = "--host-resolver-rules=MAP shop.example.com 127.0.0.1"
V2 = "backend shop/catalog-api-v2:8080"
STABLE = "backend shop/catalog-api:8080"


@contextmanager
def stack_and_page(tmp_path: Path, env: Mapping[str, str] | None = None) -> Iterator[tuple[Stack, Page]]:
    """serve, then the browser, closed in the other order (serve waits for open connections)."""
    with running_stack(tmp_path, env) as stack, browser_page(extra_args=(RESOLVE_STABLE_HOST,)) as page:
        yield stack, page


def real(stack: Stack, target: str) -> str:
    return f"http://shop.example.com:{stack.proxy_port}{target}"


def test_the_link_switches_the_real_host_to_the_branch_until_cleared(tmp_path: Path) -> None:
    with stack_and_page(tmp_path) as (stack, page):
        page.goto(real(stack, "/api/items"))
        expect(page.get_by_role("heading", level=1)).to_have_text(STABLE)
        page.goto(real(stack, f"/api/items?q=1&gitops-ingress-preview={SLUG}"))
        assert page.url == real(stack, "/api/items?q=1")  # redirected, without the parameter
        expect(page.get_by_role("heading", level=1)).to_have_text(V2)
        expect(page.locator("p.carried")).to_contain_text(f"{SLUG} gitops-ingress-preview={SLUG}")
        page.screenshot(path=str(SCREENSHOTS / "real-host-preview.png"))
        page.goto(real(stack, "/api/v2/recommendations"))  # the next page: still the branch
        expect(page.get_by_role("heading", level=1)).to_have_text(V2)
        page.goto(real(stack, "/api/items?gitops-ingress-preview="))  # cleared
        expect(page.get_by_role("heading", level=1)).to_have_text(STABLE)
        expect(page.locator("p.carried")).to_have_text(" ")
        # the refused branch keeps its last good commit, main's routes: nothing to overlay
        page.goto(real(stack, "/api/items?gitops-ingress-preview=broken"))
        expect(page.get_by_role("heading", level=1)).to_have_text(STABLE)
        # the dashboard's link does the same
        page.goto(stack.api + "/branches/feature%2Fapi-v2")
        link = page.locator("a.real-host").first
        expect(link).to_have_attribute("href", real(stack, f"/?gitops-ingress-preview={SLUG}"))


def test_signed_mode_refuses_an_unsigned_key_and_takes_the_dashboards_token(tmp_path: Path) -> None:
    env = dict(os.environ, GITOPS_INGRESS_PREVIEW_KEY_SECRET="browser-preview-secret")
    with stack_and_page(tmp_path, env) as (stack, page):
        page.goto(real(stack, f"/api/items?gitops-ingress-preview={SLUG}"))
        expect(page.get_by_role("heading", level=1)).to_have_text(STABLE)  # unsigned: ignored
        page.goto(stack.api + "/branches/feature%2Fapi-v2")
        page.locator("a.real-host").first.click()
        page.goto(real(stack, "/api/items"))
        expect(page.get_by_role("heading", level=1)).to_have_text(V2)
        expect(page.locator("p.carried")).to_contain_text(f"gitops-ingress-preview={SLUG}")
