"""Forge links and publishing through a local stand-in of the GitHub REST API (real HTTP)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gitops_ingress.web.forge import (
    COMMENT_MARKER,
    ForgeError,
    GitHubClient,
    repo_links,
)
from gitops_ingress.web.options import ForgeOptions, WebOptions
from tests.support.github_api import GitHubStandIn
from tests.web.dashboard_fakes import SHA_BAD, open_client, sample_view

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/routes.git", f"https://github.com/acme/routes/blob/{SHA}/environments/a.yaml#L3"),
        ("git@github.com:acme/routes.git", f"https://github.com/acme/routes/blob/{SHA}/environments/a.yaml#L3"),
        (
            "https://user:hunter2@gitlab.com/grp/sub/routes",
            f"https://gitlab.com/grp/sub/routes/-/blob/{SHA}/environments/a.yaml#L3",
        ),
        (
            "ssh://git@codeberg.org/acme/routes.git",
            f"https://codeberg.org/acme/routes/src/commit/{SHA}/environments/a.yaml#L3",
        ),
        (
            "https://gitea.internal.example/acme/routes",
            f"https://gitea.internal.example/acme/routes/src/commit/{SHA}/environments/a.yaml#L3",
        ),
    ],
)
def test_file_links_on_known_forges(url: str, expected: str) -> None:
    links = repo_links(url)
    assert links is not None
    assert links.file_url(SHA, "environments/a.yaml", 3) == expected
    assert "hunter2" not in links.web_url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/srv/git/routes.git",
        "https://example.com/acme/routes",
        "file:///tmp/x",
        "https://github.com/onlyowner",
        "javascript:alert(1)//github.com/a/b",
    ],
)
def test_no_links_for_unknown_places(url: str) -> None:
    assert repo_links(url) is None


def test_links_refuse_non_commits_and_quote_paths() -> None:
    links = repo_links("https://github.com/acme/routes")
    assert links is not None
    assert links.file_url("main", "a.yaml") == ""
    assert links.file_url(SHA, "environments/a b#c.yaml").endswith("/environments/a%20b%23c.yaml")


def test_client_posts_then_edits_one_comment_and_sets_status() -> None:
    with GitHubStandIn(token="t0k") as api:
        client = GitHubClient(ForgeOptions(api_url=api.url, repository="acme/routes", token="t0k"))
        first = asyncio.run(client.upsert_comment(12, "one"))
        second = asyncio.run(client.upsert_comment(12, "two"))
        asyncio.run(client.set_status(SHA, "success", "ok", "https://dash/branches/x"))
    assert first == second and first.endswith("#issuecomment-1001")
    assert [c["body"] for c in api.comments[12]] == [f"{COMMENT_MARKER}\ntwo"]
    assert api.statuses[SHA] == [
        {
            "state": "success",
            "description": "ok",
            "context": "gitops-ingress/preview",
            "target_url": "https://dash/branches/x",
        }
    ]
    assert [r.method for r in api.requests] == ["GET", "POST", "GET", "PATCH", "POST"]
    assert all(r.headers["authorization"] == "Bearer t0k" for r in api.requests)


def test_client_maps_http_errors_and_unreachable_forges() -> None:
    with GitHubStandIn(token="right") as api:
        wrong = GitHubClient(ForgeOptions(api_url=api.url, repository="acme/routes", token="wrong"))
        with pytest.raises(ForgeError, match="HTTP 401"):
            asyncio.run(wrong.upsert_comment(1, "x"))
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gone = GitHubClient(
        ForgeOptions(api_url=f"http://127.0.0.1:{port}", repository="acme/routes", token="t", timeout=2)
    )
    with pytest.raises(ForgeError, match="ConnectError"):
        asyncio.run(gone.set_status(SHA, "success", "x"))
    with pytest.raises(ForgeError, match="OWNER/NAME"):
        GitHubClient(ForgeOptions(repository="../../x", token="t"))


def test_publish_endpoint_posts_summary_and_failure_status() -> None:
    with GitHubStandIn(token="gh") as api:
        options = WebOptions(
            bearer_token="admin",
            public_url="https://dash.example.com",
            forge=ForgeOptions(api_url=api.url, repository="acme/routes", token="gh"),
        )
        with open_client(sample_view(), options) as client:
            anonymous = client.post("/api/v1/previews/publish", json={"branch": "broken", "pullRequest": 5})
            answer = client.post(
                "/api/v1/previews/publish",
                json={"branch": "broken", "pullRequest": 5},
                headers={"Authorization": "Bearer admin"},
            )
            missing = client.post(
                "/api/v1/previews/publish",
                json={"branch": "gone", "pullRequest": 5},
                headers={"Authorization": "Bearer admin"},
            )
        api.fail_with = 500
        with open_client(sample_view(), options) as client:
            failed = client.post(
                "/api/v1/previews/publish",
                json={"branch": "broken", "pullRequest": 5},
                headers={"Authorization": "Bearer admin"},
            )
    assert anonymous.status_code == 401
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"commentUrl": api.comments[5][0]["html_url"], "commit": SHA_BAD, "status": "failure"}
    body = api.comments[5][0]["body"]
    assert "api/path-invalid" in body and "https://dash.example.com/branches/broken" in body
    assert api.statuses[SHA_BAD][0]["target_url"] == "https://dash.example.com/branches/broken"
    assert missing.status_code == 404
    assert failed.status_code == 502 and "HTTP 500" in failed.json()["detail"]
    assert "gh" not in failed.json()["detail"].split("HTTP")[0]


def test_publish_without_a_forge_is_a_clear_conflict() -> None:
    with open_client(sample_view(), WebOptions(bearer_token="admin")) as client:
        answer = client.post(
            "/api/v1/previews/publish",
            json={"branch": "broken", "pullRequest": 5},
            headers={"Authorization": "Bearer admin"},
        )
    assert answer.status_code == 409 and "not configured" in answer.json()["detail"]
