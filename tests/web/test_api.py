"""Every JSON API endpoint, over real HTTP on loopback, against an in-memory view."""

from __future__ import annotations

import base64
import time

import pytest

from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.previewkeys import PreviewKeyPolicy
from gitops_ingress.core.settings import Settings
from gitops_ingress.web.options import WebOptions
from tests.web.dashboard_fakes import (
    SHA_BAD,
    FakeView,
    main_tables,
    open_client,
    sample_view,
)


@pytest.fixture
def view() -> FakeView:
    return sample_view()


def test_branches_lists_every_branch_stable_first_with_preview_urls(view: FakeView) -> None:
    with open_client(view) as client:
        page = client.get("/api/v1/branches").json()
    assert page["total"] == 3 and page["pages"] == 1
    names = [b["name"] for b in page["items"]]
    assert names == ["main", "broken", "feature/api-v2"]
    feature = page["items"][2]
    assert feature["state"] == "applied"
    assert feature["head"]["author"] == "Ada"
    assert any(p["stable_host"] == "shop.example.com" for p in feature["preview_urls"])


def test_branches_paginate_and_filter(view: FakeView) -> None:
    for index in range(120):
        view.add(f"team/branch-{index:03d}", main_tables())
    with open_client(view) as client:
        first = client.get("/api/v1/branches", params={"per_page": 50}).json()
        last = client.get("/api/v1/branches", params={"per_page": 50, "page": 3}).json()
        refused = client.get("/api/v1/branches", params={"state": "refused"}).json()
        named = client.get("/api/v1/branches", params={"q": "BRANCH-11"}).json()
        bad = client.get("/api/v1/branches", params={"per_page": 0})
    assert first["total"] == 123 and first["pages"] == 3 and len(first["items"]) == 50
    assert len(last["items"]) == 23
    assert [b["name"] for b in refused["items"]] == ["broken"]
    assert named["total"] == 10
    assert bad.status_code == 422


def test_branch_status_and_unknown_branch(view: FakeView) -> None:
    with open_client(view) as client:
        broken = client.get("/api/v1/branch", params={"branch": "broken"})
        missing = client.get("/api/v1/branch", params={"branch": "no/such"})
    assert broken.status_code == 200
    body = broken.json()
    assert body["state"] == "refused" and body["head"]["sha"] == SHA_BAD
    assert body["environments"][0]["findings"][0]["line"] == 12
    assert missing.status_code == 404 and "no/such" in missing.json()["detail"]


def test_routes_per_branch_and_environment(view: FakeView) -> None:
    with open_client(view) as client:
        every = client.get("/api/v1/routes", params={"branch": "feature/api-v2"}).json()
        staging = client.get("/api/v1/routes", params={"branch": "feature/api-v2", "environment": "staging"}).json()
        missing = client.get("/api/v1/routes", params={"branch": "gone"})
    assert [e["environment"] for e in every["environments"]] == ["production", "staging"]
    production = every["environments"][0]["routes"]
    assert {
        "host": "shop.example.com",
        "path": "/api/v2/new",
        "backend": "shop/catalog-api-v2:8080",
    }.items() <= production[2].items()
    assert [e["environment"] for e in staging["environments"]] == ["staging"]
    assert missing.status_code == 404


def test_diff_against_main_has_example_requests(view: FakeView) -> None:
    with open_client(view) as client:
        diff = client.get("/api/v1/diff", params={"branch": "feature/api-v2"}).json()
        stable = client.get("/api/v1/diff", params={"branch": "main"}).json()
    assert diff["base"] == "main"
    by_kind = {c["kind"]: c for c in diff["changes"]}
    assert by_kind["retargeted"]["request"] == "GET shop.example.com/api"
    assert by_kind["retargeted"]["before"] == "shop/catalog-api:8080"
    assert by_kind["retargeted"]["after"] == "shop/catalog-api-v2:8080"
    assert by_kind["added"]["path"] == "/api/v2/new"
    assert all(c["before"] != c["after"] and "detail" in c for c in diff["changes"])
    assert stable["changes"] == []


def test_history_per_branch_and_overall(view: FakeView) -> None:
    with open_client(view) as client:
        one = client.get("/api/v1/history", params={"branch": "broken"}).json()
        every = client.get("/api/v1/history", params={"limit": 2}).json()
        missing = client.get("/api/v1/history", params={"branch": "gone"})
    assert [r["result"] for r in one] == ["refused"]
    assert len(every) == 2 and every[0]["branch"] == "broken"
    assert missing.status_code == 404


def test_resolve_stable_preview_and_branch(view: FakeView) -> None:
    preview = preview_host("feature/api-v2", "shop.example.com", "preview.localhost")
    with open_client(view) as client:
        stable = client.get("/api/v1/resolve", params={"host": "SHOP.example.com:443", "path": "/api/x?q=1"}).json()
        via_preview = client.get("/api/v1/resolve", params={"host": preview, "path": "/api"}).json()
        on_branch = client.get(
            "/api/v1/resolve", params={"host": "shop.example.com", "path": "api", "branch": "feature/api-v2"}
        ).json()
        unknown = client.get("/api/v1/resolve", params={"host": "nobody--x.preview.localhost"}).json()
        nothing = client.get("/api/v1/resolve", params={"host": "other.example.org"}).json()
        missing = client.get("/api/v1/resolve", params={"host": "a", "branch": "gone"})
        # matched as the proxy matches it: dot-segments gone, the query untouched, unsafe is a 400
        traversal = client.get("/api/v1/resolve", params={"host": "shop.example.com", "path": "/x/%2e%2e/api/y?q=/../"})
        unsafe = client.get("/api/v1/resolve", params={"host": "shop.example.com", "path": "/x/..%2fapi"})
    assert traversal.json()["backend"] == "shop/catalog-api:8080" and traversal.json()["path"] == "/api/y?q=/../"
    assert unsafe.status_code == 400 and "refuses" in unsafe.json()["detail"]
    assert (
        stable["backend"] == "shop/catalog-api:8080"
        and stable["branch"] == "main"
        and stable["host"] == "shop.example.com"
    )
    assert via_preview["backend"] == "shop/catalog-api-v2:8080" and via_preview["branch"] == "feature/api-v2"
    assert via_preview["previewHost"] == preview
    assert on_branch["backend"] == "shop/catalog-api-v2:8080" and on_branch["path"] == "/api"
    assert on_branch["previewHost"] == preview
    assert unknown["unknownPreview"] is True and unknown["status"] == 404
    assert nothing["backend"] is None and nothing["status"] == 404
    assert missing.status_code == 404


def test_previews_and_markdown_summary(view: FakeView) -> None:
    options = WebOptions(public_url="https://dash.example.com")
    with open_client(view, options) as client:
        previews = client.get("/api/v1/previews", params={"branch": "feature/api-v2"}).json()
        summary = client.get("/api/v1/previews/summary.md", params={"branch": "feature/api-v2"})
        refused = client.get("/api/v1/previews/summary.md", params={"branch": "broken"}).text
        missing = client.get("/api/v1/previews", params={"branch": "gone"})
    assert previews["dashboardUrl"] == "https://dash.example.com/branches/feature%2Fapi-v2"
    assert len(previews["previewUrls"]) == 2
    assert summary.headers["content-type"].startswith("text/markdown")
    text = summary.text
    assert "http://feature-api-v2-1fac20--shop-example-com.preview.localhost:8080/" in text
    assert "GET shop.example.com/api" in text and "shop/catalog-api-v2:8080" in text
    assert "| error | environments/production/shop.yaml | 12 | api/path-invalid |" in refused
    assert "0 objects" not in refused
    assert missing.status_code == 404


def test_health_and_openapi_document(view: FakeView) -> None:
    with open_client(view) as client:
        spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    expected = {
        "/api/v1/branches",
        "/api/v1/branch",
        "/api/v1/routes",
        "/api/v1/diff",
        "/api/v1/history",
        "/api/v1/resolve",
        "/api/v1/previews",
        "/api/v1/previews/summary.md",
        "/api/v1/previews/publish",
        "/api/v1/events",
    }
    assert expected <= paths
    assert not any(p.startswith("/branches") for p in paths), "HTML pages stay out of the API document"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_reads_need_credentials_when_not_bound_to_loopback(view: FakeView) -> None:
    options = WebOptions(listen_host="0.0.0.0", bearer_token="s3cret", basic_user="ops", basic_password="pw")
    with open_client(view, options) as client:
        anonymous = client.get("/api/v1/branches")
        page = client.get("/", headers={"Accept": "text/html"})
        wrong = client.get("/api/v1/branches", headers={"Authorization": "Bearer nope"})
        bearer = client.get("/api/v1/branches", headers={"Authorization": "Bearer s3cret"})
        basic = client.get("/", headers=_basic("ops", "pw"))
        bad_basic = client.get("/", headers=_basic("ops", "wrong"))
        garbage = client.get("/", headers={"Authorization": "Basic %%%"})
    assert anonymous.status_code == 401 and "www-authenticate" in anonymous.headers
    assert page.status_code == 401
    assert wrong.status_code == 401 and "s3cret" not in wrong.text
    assert bearer.status_code == 200 and basic.status_code == 200
    assert bad_basic.status_code == 401 and garbage.status_code == 401


def test_reads_are_open_on_loopback_and_closed_elsewhere_without_credentials(view: FakeView) -> None:
    with open_client(view, WebOptions(listen_host="::1")) as client:
        assert client.get("/api/v1/branches").status_code == 200
    with open_client(view, WebOptions(listen_host="10.1.2.3")) as client:
        closed = client.get("/api/v1/branches")
    assert closed.status_code == 401 and "configure a token" in closed.json()["detail"]


def test_publish_needs_credentials_even_on_loopback(view: FakeView) -> None:
    with open_client(view) as client:
        answer = client.post("/api/v1/previews/publish", json={"branch": "feature/api-v2", "pullRequest": 7})
    assert answer.status_code == 403


def test_without_a_known_bind_address_the_arrival_address_decides() -> None:
    options = WebOptions()
    assert options.reads_open("127.0.0.1") and options.reads_open("::1")
    assert not options.reads_open("10.0.0.5") and not options.reads_open("")
    assert WebOptions(anonymous_read=True).reads_open("10.0.0.5")
    assert not WebOptions(listen_host="127.0.0.1", anonymous_read=False).reads_open("127.0.0.1")


def test_the_summary_links_changed_hosts_on_the_real_host_signed_when_a_secret_is_set(view: FakeView) -> None:
    with open_client(view) as client:
        plain = client.get("/api/v1/previews/summary.md", params={"branch": "feature/api-v2"}).text
    real = "http://shop.example.com:8080/?gitops-ingress-preview=feature-api-v2-1fac20"
    assert f"| [open on the real host]({real}) |" in plain
    assert "| staging | shop.staging.example.com |" in plain and plain.count("open on the real host") == 1
    view.settings = Settings.build(overrides={"preview_key_secret": "k", "preview_key_max_age": 600})
    with open_client(view) as client:
        signed = client.get("/api/v1/previews/summary.md", params={"branch": "feature/api-v2"}).text
    token = signed.split("?gitops-ingress-preview=", 1)[1].split(")", 1)[0]
    policy = PreviewKeyPolicy.from_settings(view.settings)
    assert policy.judge(token, time.time()).slug == "feature-api-v2-1fac20"
    view.settings = Settings.build(overrides={"preview_key_protected_hosts": ["shop.example.com"]})
    with open_client(view) as client:
        protected = client.get("/api/v1/previews/summary.md", params={"branch": "feature/api-v2"}).text
    assert "open on the real host" not in protected
