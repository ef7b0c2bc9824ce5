"""``GET /api/branches`` in pages, from a real ``serve``: ``limit`` and the ``X-Continue`` token
walk every branch once, in the unpaginated answer's order, which stays as it was without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e import test_serve
from tests.e2e.test_serve import ServeProcess
from tests.kube.target_kit import shop_remote
from tests.support.upstreams import TestUpstream

upstreams = test_serve.upstreams  # the fixture
BRANCHES = [f"feature/p{n}" for n in range(7)]


@pytest.mark.slow
def test_pages_walk_every_branch_once_in_order(tmp_path: Path, upstreams: dict[str, TestUpstream]) -> None:
    remote, work = shop_remote(tmp_path, *BRANCHES)
    serve = ServeProcess(tmp_path, remote.url, {"web:80": upstreams["web"].url})
    try:
        with serve.states() as wait:
            wait(lambda s: set(BRANCHES) <= set(s.previews))
        url = f"{serve.api}/api/branches"
        whole = serve.http.get(url)
        assert "X-Continue" not in whole.headers  # unpaginated, as before
        everything = [b["name"] for b in whole.json()]
        assert everything == ["main", *sorted(BRANCHES)]

        walked, pages, token = [], 0, None
        while True:
            params = {"limit": 3} | ({"continue": token} if token else {})
            page = serve.http.get(url, params=params)
            assert page.status_code == 200
            walked += [b["name"] for b in page.json()]
            pages += 1
            token = page.headers.get("X-Continue")
            if token is None:
                assert "Link" not in page.headers
                break
            assert len(page.json()) == 3 and page.headers["Link"].endswith('>; rel="next"')
            assert (
                serve.http.get(page.headers["Link"][1:].split(">")[0]).json()
                == serve.http.get(url, params={"limit": 3, "continue": token}).json()
            )
        assert walked == everything and pages == 3

        # a branch deleted under the cursor still marks its place
        first = serve.http.get(url, params={"limit": 2})
        assert [b["name"] for b in first.json()] == ["main", "feature/p0"]
        with serve.states() as wait:
            work.delete_remote_branch("feature/p0")
            assert serve.webhook("feature/p0").status_code == 202
            wait(lambda s: "feature/p0" not in s.previews)
        serve.poll(lambda: "feature/p0" not in serve.branches(), "the branch gone from the API")
        rest = serve.http.get(url, params={"limit": 100, "continue": first.headers["X-Continue"]})
        assert [b["name"] for b in rest.json()] == sorted(BRANCHES)[1:]

        bad = serve.http.get(url, params={"limit": 2, "continue": "not-a-token"})
        assert bad.status_code == 400 and "continue" in bad.text
        assert serve.http.get(url, params={"limit": 0}).status_code == 422
        spec = serve.http.get(f"{serve.api}/openapi.json").json()["paths"]["/api/branches"]["get"]
        assert {p["name"] for p in spec["parameters"]} == {"limit", "continue"}
        assert "X-Continue" in spec["responses"]["200"]["headers"]
    finally:
        code = serve.stop()
    assert code == 0, serve.log()
