"""Per environment, what is live and why the head is not (issue 12, point 4), through real ``serve``.

A commit is one unit: a push to ``main`` that changes production validly and breaks only staging
is applied nowhere. ``gitops-ingress serve`` runs as a subprocess on a real bare repository with
real backends, the commit arrives by a real push and webhook, and the test reads what a user
reads: the proxy's answer for production's host (still the old backend), the JSON API's
environments (each names the head it is about, the commit live in it, and why the head is not:
the finding's file, line, rule and message, or which environment held it back) and the branch
page in Chromium driven by Playwright. A head not synced yet is shown pending, with no findings
claimed for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from gitops_ingress.core.status import SyncState
from tests.e2e.test_browser import SCREENSHOTS, browser_page
from tests.e2e.test_serve import ServeProcess, served_by, upstreams
from tests.support.gitrepos import make_remote
from tests.support.manifests import ingress, line_of, to_yaml
from tests.support.upstreams import TestUpstream
from tests.web.dashboard_fakes import main_tables, open_client, sample_view

PRODUCTION = "environments/production/shop.yaml"
STAGING = "environments/staging/shop.yaml"
GOOD_STAGING = to_yaml(ingress("shop", "staging.example.com", "web"))
BAD_STAGING = to_yaml(ingress("shop", "staging.example.com", "web", path="api"))  # a relative path
__all__ = ["upstreams"]  # the fixture, imported for its name


@pytest.fixture
def refused(tmp_path: Path, upstreams: dict[str, TestUpstream]) -> Iterator[tuple[ServeProcess, str, str]]:
    """``serve`` after a good ``main`` (commit one) and a push that breaks only staging (commit
    two, which also moves production to ``web-v2``): yields serve, commit one, commit two."""
    remote = make_remote(tmp_path)
    work = remote.clone()
    work.write({PRODUCTION: to_yaml(ingress("shop", "shop.example.com", "web")), STAGING: GOOD_STAGING})
    good = work.commit("good")
    work.push("main")
    serve = ServeProcess(tmp_path, remote.url, {f"{name}:80": up.url for name, up in upstreams.items()})
    try:
        serve.poll(lambda: applied_everywhere(serve, good), "commit one applied in both environments")
        work.write({PRODUCTION: to_yaml(ingress("shop", "shop.example.com", "web-v2")), STAGING: BAD_STAGING})
        bad = work.commit("production to web-v2, and a broken staging path")
        work.push("main")
        assert serve.webhook("main").status_code == 202
        serve.poll(lambda: main(serve)["state"] == "refused", "commit two refused")
        yield serve, good, bad
    finally:
        serve.stop()


def main(serve: ServeProcess) -> dict[str, Any]:
    answer = serve.http.get(f"{serve.api}/api/v1/branch", params={"branch": "main"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def applied_everywhere(serve: ServeProcess, commit: str) -> bool:
    envs = main(serve)["environments"]
    return len(envs) == 2 and all(e["state"] == "applied" and e["applied_commit"] == commit for e in envs)


@pytest.mark.slow
def test_a_commit_broken_in_staging_is_live_nowhere_and_the_api_says_why_per_environment(
    refused: tuple[ServeProcess, str, str], upstreams: dict[str, TestUpstream]
) -> None:
    serve, good, bad = refused
    status = main(serve)
    envs = {e["environment"]: e for e in status["environments"]}
    assert status["head"]["sha"] == bad and status["applied_commit"] == good
    # both environments are about the head, and both keep commit one live
    assert {name: (e["state"], e["commit"], e["applied_commit"]) for name, e in envs.items()} == {
        "production": ("refused", bad, good),
        "staging": ("refused", bad, good),
    }
    staging, production = envs["staging"], envs["production"]
    line = line_of(BAD_STAGING, "path:")
    errors = [f for f in staging["findings"] if f["severity"] == "error"]
    assert [(f["file"], f["line"], f["rule"]) for f in errors] == [(STAGING, line, "api/path-invalid")]
    assert "must be an absolute path" in errors[0]["message"]
    assert staging["reason"].startswith(f"refused here: {STAGING}:{line} api/path-invalid: ")
    assert staging["refused_by"] == ["staging"] and production["refused_by"] == ["staging"]
    assert production["findings"] == [] and "held back" in production["reason"] and "staging" in production["reason"]
    assert staging["route_count"] == production["route_count"] == 1
    # what the API says is what the proxy does: production's valid change did not go live
    for host, name in (("shop.example.com", "web"), ("staging.example.com", "web")):
        before = len(upstreams[name].stats.requests)
        assert served_by(upstreams[name], serve.get(host), before), host
    assert not upstreams["web-v2"].stats.requests


@pytest.mark.slow
@pytest.mark.browser
def test_the_branch_page_shows_each_environments_live_commit_and_the_refusal(
    refused: tuple[ServeProcess, str, str],
) -> None:
    serve, good, bad = refused
    line = line_of(BAD_STAGING, "path:")
    with browser_page() as page:
        page.goto(f"{serve.api}/branches/{quote('main', safe='')}")
        table = page.locator("table.environments")
        expect(table.locator("tbody tr")).to_have_count(2)
        staging = table.locator('tr[data-environment="staging"]')
        production = table.locator('tr[data-environment="production"]')
        for row in (staging, production):
            expect(row.locator(".state")).to_have_text("refused")
            expect(row.locator(".env-head")).to_contain_text(bad[:10])
            expect(row.locator(".env-live")).to_contain_text(good[:10])
        expect(staging.locator(".env-findings li")).to_have_count(1)
        expect(staging.locator(".env-findings li")).to_contain_text(f"{STAGING}:{line}")
        expect(staging.locator(".env-findings li")).to_contain_text("api/path-invalid")
        expect(staging.locator(".env-findings li")).to_contain_text("must be an absolute path")
        expect(production.locator(".env-reason")).to_contain_text("held back: the commit is refused in staging")
        expect(production.locator(".env-findings")).to_have_count(0)
        # the one applied commit of the branch is commit one, live in both
        expect(page.locator(".facts")).to_contain_text(good[:10])
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "branch-environments.png"), full_page=True)


def test_a_head_not_synced_yet_is_pending_with_no_findings_claimed() -> None:
    """The page says the head was not built rather than "No findings" (a view of the Protocol:
    the engine's side of it is tests/sync/test_units.py)."""
    view = sample_view()
    view.add("feature/waiting", main_tables(), state=SyncState.PENDING)
    with open_client(view) as client:
        page = client.get("/branches/" + quote("feature/waiting", safe="")).text
    assert 'class="state state-pending"' in page and "The head is not synced yet" in page
    assert "<p>No findings.</p>" not in page
