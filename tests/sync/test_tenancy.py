"""Issue 12, point 6, through the real engine on a real repository: a staging file that declares
production's host and path was applied, and production's requests went to staging's backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.core.build import build
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from gitops_ingress.core.tree import MemoryTree
from tests.support.manifests import ingress, line_of, to_yaml
from tests.sync.conftest import running, seed

pytestmark = pytest.mark.anyio

PROD = "environments/production/shop.yaml"
TAKEOVER = "environments/staging/takeover.yaml"


async def test_a_staging_file_cannot_take_a_production_host(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    async with running(tmp_path, remote) as h:
        assert h.resolve("shop.example.com") == "shop/web:80"
        work.write({TAKEOVER: to_yaml(ingress("takeover", "shop.example.com", "evil", namespace="staging"))})
        work.commit("staging claims production's host")
        work.push("main")
        await h.engine.refresh("main")
        await h.engine.settle(20.0)
        assert h.resolve("shop.example.com") == "shop/web:80"  # production's backend, still
        status = h.engine.branch("main")
        assert status is not None and status.state is not SyncState.APPLIED
        findings = [f for f in status.findings if f.rule == "cross/host-in-several-environments"]
        assert {f.file for f in findings} == {PROD, TAKEOVER}
        assert all(PROD in f.message and TAKEOVER in f.message for f in findings)


def test_the_finding_names_both_files_and_lines_and_policy_can_allow_it() -> None:
    prod = to_yaml(ingress("shop", "shop.example.com", "web"))
    staging = to_yaml(ingress("shop", "shop.example.com", "web-next"))
    files = {PROD: prod.encode(), "environments/staging/shop.yaml": staging.encode()}
    built = build(MemoryTree(files), Settings())
    for name, text in (("production", prod), ("staging", staging)):
        (finding,) = [f for f in built.environments[name].findings if f.rule == "cross/host-in-several-environments"]
        assert finding.line == line_of(text, "host:") and "production (" in finding.message
        assert "staging (" in finding.message
    allowed = Settings.build({"policy": {"shared_hosts": ["*.example.com"]}})
    assert all(env.ok for env in build(MemoryTree(files), allowed).environments.values())
    # one environment alone (validate --env) has nothing to compare with
    assert build(MemoryTree(files), Settings(), environment="staging").environments["staging"].ok
