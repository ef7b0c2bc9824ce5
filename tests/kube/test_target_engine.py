"""The kubernetes target under the real reconcile engine: a real bare repository, the real
Mirror and Store, the stand-in API server. API faults put the branch in ERROR with a message that
says what failed while the cluster keeps the last applied state; the engine's back-off then
completes the sync; a deleted branch's namespace goes away after the preview time-to-live."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gitops_ingress.core.naming import preview_namespace
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from tests.kube.target_kit import Reader, make_target, push_shop_backend, shop_remote
from tests.support.kubeapi import StandIn
from tests.sync.conftest import running

FEATURE_NS = preview_namespace("{namespace}-{branch}", "shop", "feature")


def test_faults_back_off_keep_the_last_state_and_say_so(stand_in: StandIn, tmp_path: Path) -> None:
    settings = Settings.build(None, {}, {"deleted_preview_grace": 0.2})
    remote, work = shop_remote(tmp_path, "feature")
    read = Reader(stand_in)
    backend = read.backend

    async def scenario() -> None:
        target = make_target(stand_in, settings)
        async with running(tmp_path, remote, settings, target=target) as harness:  # type: ignore[arg-type]
            engine, until = harness.engine, harness.wait_until
            assert backend() == "web" and FEATURE_NS in read.namespaces()
            stand_in.faults(fail_next=1000, status=500, verb="apply")
            push_shop_backend(work, "web-v2")
            await engine.refresh("main")
            await until(lambda: engine.branch("main").state is SyncState.ERROR)  # type: ignore[union-attr]
            status = engine.branch("main")
            assert status is not None and "answered 500 on patch" in status.message
            assert "last good routes keep serving" in status.message
            assert backend() == "web"
            stand_in.faults(reset=True)
            await until(lambda: engine.branch("main").state is SyncState.APPLIED)  # type: ignore[union-attr]
            assert backend() == "web-v2"
            work.delete_remote_branch("feature")
            await engine.refresh(None)
            await until(lambda: engine.branch("feature") is None)
            assert FEATURE_NS not in read.namespaces()

    asyncio.run(scenario())
