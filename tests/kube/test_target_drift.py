"""Issue 12, point 3: drift repair. The real engine (bare repository, Mirror, Store) with the
kubernetes target on the stand-in; the cluster is changed behind its back with real kubectl, or
the whole API server comes back empty. Every poll interval (and on start) the engine reconciles
the live objects against the last good state: what was deleted comes back, and a field another
field manager took over shows on the branch as a conflict instead of ``applied`` until it heals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from gitops_ingress.core.naming import preview_namespace
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.engine import EngineOptions
from tests.kube.conftest import KUBECTL
from tests.kube.target_kit import Reader, make_target, shop_remote
from tests.support.kubeapi import StandIn, run_stand_in
from tests.sync.conftest import WAIT, running

SETTINGS = Settings.build(None, {}, {})
INTERVAL = 0.3  # the poll interval, which drives the repair
OPTIONS = EngineOptions(poll_interval=INTERVAL, poll_jitter=0.0, debounce=0.01, retry_initial=0.05, retry_max=0.2)
FEATURE_NS = preview_namespace("{namespace}-{branch}", "shop", "feature")


async def kubectl(stand_in: StandIn, *args: str) -> str:
    """Real kubectl, run without blocking the loop the engine runs on; fails on a non-zero exit."""
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(stand_in.kubeconfig_path),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), WAIT + 5)
    finally:
        if proc.returncode is None:  # timed out: end it while the loop still runs
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return out.decode()


async def created(stand_in: StandIn, namespace: str, name: str = "shop") -> None:
    """Until the Ingress exists (kubectl's own wait on a watch, bounded by its timeout)."""
    await kubectl(stand_in, "wait", "--for=create", f"ingress/{name}", "-n", namespace, f"--timeout={WAIT:g}s")


def test_a_deleted_ingress_comes_back_after_one_interval(stand_in: StandIn, tmp_path: Path) -> None:
    remote, _work = shop_remote(tmp_path)
    read = Reader(stand_in)

    async def scenario() -> None:
        target = make_target(stand_in, SETTINGS)
        async with running(tmp_path, remote, SETTINGS, options=OPTIONS, target=target) as harness:  # type: ignore[arg-type]
            assert read.backend() == "web"
            await kubectl(stand_in, "delete", "ingress", "shop", "-n", "shop")
            assert "shop/shop" not in read.ingresses()
            await created(stand_in, "shop")
            assert read.backend() == "web"
            assert harness.engine.branch("main").state is SyncState.APPLIED  # type: ignore[union-attr]

    asyncio.run(scenario())


def test_a_field_taken_by_another_manager_shows_as_a_conflict_until_it_heals(stand_in: StandIn, tmp_path: Path) -> None:
    remote, _work = shop_remote(tmp_path)
    read = Reader(stand_in)
    patch = [{"op": "replace", "path": "/spec/rules/0/http/paths/0/backend/service/name", "value": "hotfix"}]

    async def scenario() -> None:
        target = make_target(stand_in, SETTINGS)
        async with running(tmp_path, remote, SETTINGS, options=OPTIONS, target=target) as harness:  # type: ignore[arg-type]
            engine, until = harness.engine, harness.wait_until
            applied = engine.branch("main")
            assert applied is not None and applied.state is SyncState.APPLIED
            await kubectl(stand_in, "patch", "ingress", "shop", "-n", "shop", "--type=json", "-p", json.dumps(patch))
            await until(lambda: engine.branch("main").state is SyncState.ERROR)  # type: ignore[union-attr]
            status = engine.branch("main")
            assert status is not None and "conflict" in status.message and "kubectl" in status.message
            assert "could not be repaired" in status.message
            assert read.backend() == "hotfix"  # reported, not forced (force_conflicts is off)
            # the edit is undone by deleting the object: the next round re-creates it and heals
            await kubectl(stand_in, "delete", "ingress", "shop", "-n", "shop")
            await until(lambda: engine.branch("main").state is SyncState.APPLIED)  # type: ignore[union-attr]
            healed = engine.branch("main")
            assert healed is not None and healed.message == applied.message
            assert read.backend() == "web"

    asyncio.run(scenario())


def test_an_api_server_restored_empty_gets_everything_back(stand_in: StandIn, tmp_path: Path) -> None:
    remote, _work = shop_remote(tmp_path, "feature")

    async def scenario() -> None:
        target = make_target(stand_in, SETTINGS)
        async with running(tmp_path, remote, SETTINGS, options=OPTIONS, target=target):  # type: ignore[arg-type]
            before = set(Reader(stand_in).ingresses())
            assert before == {"shop/shop", f"{FEATURE_NS}/shop"}
            stand_in.halt()
            with run_stand_in(port=stand_in.address[1]) as empty:  # the same address, no objects
                assert not Reader(empty).ingresses()
                await created(empty, "shop")
                await created(empty, FEATURE_NS)
                read = Reader(empty)
                assert set(read.ingresses()) == before
                assert {"shop", FEATURE_NS} <= set(read.namespaces())
                assert read.backend() == "web"

    asyncio.run(scenario())


def test_drift_while_the_control_plane_was_down_is_repaired_on_start(stand_in: StandIn, tmp_path: Path) -> None:
    """A restart hands the target only "keep what is live" from the store; the round on start
    rebuilds the applied commit, so an Ingress deleted while the engine was down comes back with
    the next poll far away."""
    remote, _work = shop_remote(tmp_path)
    far = EngineOptions(poll_interval=3600, debounce=0.01, retry_initial=0.05, retry_max=0.2)

    async def scenario() -> None:
        async with running(tmp_path, remote, SETTINGS, options=far, target=make_target(stand_in, SETTINGS)):  # type: ignore[arg-type]
            pass
        await kubectl(stand_in, "delete", "ingress", "shop", "-n", "shop")
        async with running(tmp_path, remote, SETTINGS, options=far, target=make_target(stand_in, SETTINGS)):  # type: ignore[arg-type]
            await created(stand_in, "shop")
        assert Reader(stand_in).backend() == "web"

    asyncio.run(scenario())
