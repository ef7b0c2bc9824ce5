"""Commit statuses on GitLab and Gitea/Forgejo, and GitHub deployments, each through a stand-in
of the forge's API (tests/support/forge_api.py, github_api.py) over real HTTP, which checks the
requests as the forge documents them; and the settings that choose the forge."""

from __future__ import annotations

import asyncio

import pytest

from gitops_ingress.web.forge import ForgeError, GitHubClient
from gitops_ingress.web.forgestatus import GiteaClient, GitLabClient, status_client
from gitops_ingress.web.options import ForgeOptions
from tests.support.forge_api import GiteaStandIn, GitLabStandIn
from tests.support.github_api import GitHubStandIn

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_gitlab_status_path_token_and_states() -> None:
    with GitLabStandIn(token="glpat-1", project="grp/sub/routes", project_id=7) as api:
        options = ForgeOptions(kind="gitlab", api_url=api.url + "/api/v4", repository="grp/sub/routes", token="glpat-1")
        client = status_client(options)
        assert isinstance(client, GitLabClient)
        for state in ("success", "failure", "error", "pending"):
            asyncio.run(client.set_status(SHA, state, f"it is {state}", "https://dash/branches/x"))
        by_id = GitLabClient(ForgeOptions(kind="gitlab", api_url=api.url + "/api/v4", repository="7", token="glpat-1"))
        asyncio.run(by_id.set_status(SHA, "success", "by id"))
        wrong = GitLabClient(ForgeOptions(kind="gitlab", api_url=api.url + "/api/v4", repository="7", token="nope"))
        with pytest.raises(ForgeError, match=r"GitLab API POST .*HTTP 401"):
            asyncio.run(wrong.set_status(SHA, "success", "x"))
    assert [s["state"] for s in api.statuses[SHA]] == ["success", "failed", "failed", "pending", "success"]
    assert api.statuses[SHA][0] == {
        "state": "success",
        "name": "gitops-ingress/preview",
        "description": "it is success",
        "target_url": "https://dash/branches/x",
    }
    assert api.requests[0].path == f"/api/v4/projects/grp%2Fsub%2Froutes/statuses/{SHA}"
    assert api.requests[0].headers["private-token"] == "glpat-1" and "authorization" not in api.requests[0].headers
    assert api.requests[4].path == f"/api/v4/projects/7/statuses/{SHA}"


def test_gitea_status_path_token_and_states() -> None:
    with GiteaStandIn(token="gt", repository="acme/routes") as api:
        options = ForgeOptions(kind="gitea", api_url=api.url + "/api/v1", repository="acme/routes", token="gt")
        client = status_client(options)
        assert isinstance(client, GiteaClient)
        asyncio.run(client.set_status(SHA, "error", "the preview expired", "https://dash/branches/x"))
        asyncio.run(client.set_status(SHA, "success", "ok"))
        other = GiteaClient(
            ForgeOptions(kind="gitea", api_url=api.url + "/api/v1", repository="acme/other", token="gt")
        )
        with pytest.raises(ForgeError, match="HTTP 404"):
            asyncio.run(other.set_status(SHA, "success", "x"))
    assert api.statuses[SHA] == [
        {
            "state": "error",
            "context": "gitops-ingress/preview",
            "description": "the preview expired",
            "target_url": "https://dash/branches/x",
        },
        {"state": "success", "context": "gitops-ingress/preview", "description": "ok"},
    ]
    assert api.requests[0].path == f"/api/v1/repos/acme/routes/statuses/{SHA}"
    assert api.requests[0].headers["authorization"] == "token gt"


def test_bad_input_is_refused_before_any_request() -> None:
    with pytest.raises(ForgeError, match="GROUP/PROJECT"):
        GitLabClient(ForgeOptions(kind="gitlab", api_url="http://127.0.0.1:1", repository="../x", token="t"))
    with pytest.raises(ForgeError, match="OWNER/NAME"):
        GiteaClient(ForgeOptions(kind="gitea", api_url="http://127.0.0.1:1", repository="a/b/c", token="t"))
    with pytest.raises(ForgeError, match="OWNER/NAME"):
        GiteaClient(ForgeOptions(kind="gitea", api_url="http://127.0.0.1:1", repository="../x", token="t"))
    client = GiteaClient(ForgeOptions(kind="gitea", api_url="http://127.0.0.1:1", repository="a/b", token="t"))
    with pytest.raises(ForgeError, match="bad commit"):
        asyncio.run(client.set_status("main", "success", "x"))
    with pytest.raises(ForgeError, match="bad commit"):
        asyncio.run(client.set_status(SHA, "warning", "x"))  # not a state of the dashboard's


def test_github_deployment_per_branch_then_inactive() -> None:
    with GitHubStandIn(token="gh") as api:
        client = GitHubClient(ForgeOptions(api_url=api.url, repository="acme/routes", token="gh"))
        first = asyncio.run(client.deploy("feature/x", SHA, "http://feature-x--shop.preview.localhost/", "live"))
        assert asyncio.run(client.deactivate("feature/x", "preview expired after 1s idle")) == first
        assert asyncio.run(client.deactivate("feature/none", "gone")) is None
    (deployment,) = api.deployments
    assert deployment["id"] == first and deployment["ref"] == SHA
    assert deployment["environment"] == "preview/feature/x"
    assert (deployment["transient_environment"], deployment["production_environment"]) == (True, False)
    assert deployment["required_contexts"] == [] and deployment["auto_merge"] is False
    assert api.deployment_statuses[first] == [
        {"state": "success", "environment_url": "http://feature-x--shop.preview.localhost/", "description": "live"},
        {"state": "inactive", "description": "preview expired after 1s idle"},
    ]
    assert all(r.headers["authorization"] == "Bearer gh" for r in api.requests)
