"""The forge notifier (web/forgenotify.py) following a real engine over a real git remote, with
the GitHub and Gitea stand-ins over real HTTP: a capped preview's deployment goes inactive and
its commit status says why; a failing forge is logged and the notifier goes on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from gitops_ingress.core.settings import Settings
from gitops_ingress.web.forgenotify import ForgeNotifier
from gitops_ingress.web.options import ForgeOptions, WebOptions
from tests.support.forge_api import ForgeStandIn, GiteaStandIn
from tests.support.github_api import GitHubStandIn
from tests.sync.conftest import WAIT, Harness, running, seed

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def notifying(harness: Harness, options: WebOptions) -> AsyncIterator[None]:
    task = asyncio.create_task(ForgeNotifier(harness.engine, options).run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def until(api: ForgeStandIn, condition: Callable[[], bool]) -> None:
    assert await asyncio.to_thread(api.wait_until, condition, WAIT), "the forge never saw it"


async def test_a_capped_preview_goes_inactive_on_github(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/old")
    with GitHubStandIn(token="gh") as api:
        forge = ForgeOptions(api_url=api.url, repository="acme/routes", token="gh")
        options = WebOptions(public_url="https://dash.example.com", forge=forge)
        async with running(tmp_path, remote, Settings(max_previews=1)) as h, notifying(h, options):
            # the notifier follows events from its start, after the harness settled: a new push
            work.write({"environments/production/extra.yaml": ""})
            work.commit("old again")
            work.push("feature/old")
            await h.refresh("feature/old")
            await until(api, lambda: bool(api.deployments))
            work.branch("feature/new")
            work.write({"environments/production/new.yaml": ""})
            work.commit("new")
            work.push("feature/new")
            await h.refresh(None)
            old = api.deployments[0]["id"]
            await until(api, lambda: any(s["state"] == "inactive" for s in api.deployment_statuses.get(old, [])))
            head = remote.head("feature/old")
            await until(api, lambda: any(s["state"] == "failure" for s in api.statuses.get(head, [])))
    assert api.deployments[0]["environment"] == "preview/feature/old"
    assert api.deployment_statuses[old][-1]["description"].startswith("preview refused: max_previews=1 reached")
    assert api.statuses[head][-1] == {
        "state": "failure",
        "description": "preview refused: max_previews reached",
        "context": "gitops-ingress/preview",
        "target_url": "https://dash.example.com/branches/feature%2Fold",
    }


async def test_a_failing_forge_is_logged_and_the_notifier_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    remote, work = seed(tmp_path, branch="feature/x")
    with GiteaStandIn(token="gt", fail_with=500) as api:
        forge = ForgeOptions(kind="gitea", api_url=api.url + "/api/v1", repository="acme/routes", token="gt")
        async with running(tmp_path, remote) as h, notifying(h, WebOptions(forge=forge)):
            work.write({"environments/production/extra.yaml": ""})
            first = work.commit("one")
            work.push("feature/x")
            await h.refresh("feature/x")
            await until(api, lambda: any(first in r.path for r in api.requests))
            api.fail_with = None
            work.write({"environments/production/more.yaml": ""})
            second = work.commit("two")
            work.push("feature/x")
            await h.refresh("feature/x")
            await until(api, lambda: any(s["state"] == "success" for s in api.statuses.get(second, [])))
    assert "forge: branch 'feature/x': Gitea API POST" in caplog.text and "HTTP 500" in caplog.text
