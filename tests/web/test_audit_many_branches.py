"""Audit of issue 6's "a repository with 1,000 branches": a real repository with 1,001 branches
synced by the real engine, the overview served by uvicorn: paginated, every branch reachable
through the pages. The page's time is printed, not asserted (speed is measured by benchmarks,
never by timed assertions): it was 391 ms when this was written."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from gitops_ingress.web.app import create_app
from tests.support.gitrepos import git
from tests.sync.conftest import running, seed
from tests.web.test_stream import serving

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
BRANCHES = 1000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_repository_with_1000_branches_is_paginated_and_complete(tmp_path: Path) -> None:
    remote, _work = seed(tmp_path)
    head = remote.head("main")
    names = [f"feature/team-{i % 7}/change-{i:04d}" for i in range(BRANCHES)]
    git(remote.path, "update-ref", "--stdin", input="".join(f"create refs/heads/{n} {head}\n" for n in names).encode())
    async with running(tmp_path, remote) as h:
        await h.engine.settle(120)
        assert len(h.engine.branches()) == BRANCHES + 1
        app = create_app(h.engine, h.engine)
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            await client.get("/")  # warm the template cache
            started = time.perf_counter()
            first = await client.get("/")
            elapsed = time.perf_counter() - started
            pages = [first] + [await client.get("/", params={"page": n}) for n in range(2, 22)]
            api = (await client.get("/api/v1/branches", params={"page": 3, "per_page": 500})).json()
    print(f"\noverview of {BRANCHES + 1} real branches: {elapsed * 1000:.1f} ms")
    assert first.status_code == 200
    shown = [name for page in pages for name in re.findall(r'<tr data-branch="([^"]+)"', page.text)]
    assert len(shown) == BRANCHES + 1 and len(set(shown)) == len(shown)
    assert first.text.count('<tr data-branch="') == 50
    assert (api["total"], api["pages"], len(api["items"])) == (BRANCHES + 1, 3, 1)
