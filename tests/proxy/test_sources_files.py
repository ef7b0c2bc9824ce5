"""The file route source: the sample environment, reloads on change, and broken files refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.config import read_settings
from gitops_ingress.core.errors import SourceError
from gitops_ingress.core.routing import ServiceRef
from gitops_ingress.core.settings import SETTINGS_FILE, Settings
from gitops_ingress.proxy.snapshot import Snapshot
from gitops_ingress.proxy.sources.files import FileSource, FileSourceError
from tests.support.manifests import ingress, to_yaml

from .fixtures_ops import WAIT, write

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)


def sample_settings() -> Settings:
    settings, findings = read_settings({SETTINGS_FILE: (REPO / SETTINGS_FILE).read_bytes()})
    assert not findings
    return settings


def test_the_sample_production_environment_loads_and_routes() -> None:
    backends = BackendMap.from_options(
        ["payments/checkout:http=http://127.0.0.1:9001", "storefront:http=http://127.0.0.1:9002"]
    )
    source = FileSource([REPO / "environments" / "production"], backends, sample_settings())
    snapshot = source.load()
    state = snapshot.state
    checkout = state.resolve("shop.example.com", "/checkout/confirm").match
    assert checkout.backend == ServiceRef("payments", "checkout", "http")
    assert str(snapshot.endpoints(checkout.backend)[0]) == "http://127.0.0.1:9001"
    assert state.resolve("Shop.Example.COM:8080", "/checkoutx").match.backend == ServiceRef(
        "shop", "storefront", "http"
    )
    assert state.resolve("tools.apps.example.com", "/").match.backend == ServiceRef("platform", "apps-gateway", "http")
    assert snapshot.source == "files" and state.version == 1


async def follow(source: FileSource, scenario) -> None:  # type: ignore[no-untyped-def]
    snapshots: asyncio.Queue[Snapshot] = asyncio.Queue()
    task = asyncio.create_task(source.run(snapshots.put_nowait))
    try:
        await scenario(lambda: asyncio.wait_for(snapshots.get(), WAIT), snapshots)
    finally:
        task.cancel()


def test_a_changed_file_is_reloaded_and_published(tmp_path: Path) -> None:
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    source = FileSource([env], BackendMap(), Settings(), interval=0.02, debounce=0.02)

    async def scenario(next_snapshot, _queue):  # type: ignore[no-untyped-def]
        first = await next_snapshot()
        assert first.state.resolve("shop.example.com", "/").match.backend == ServiceRef("shop", "storefront", "80")
        write(env / "team" / "pay.yaml", to_yaml(ingress("pay", "pay.example.com", "checkout")))
        second = await next_snapshot()
        assert second.state.resolve("pay.example.com", "/").match.backend == ServiceRef("shop", "checkout", "80")
        assert second.state.version == first.state.version + 1
        (env / "shop.yaml").unlink()
        third = await next_snapshot()
        assert third.state.resolve("shop.example.com", "/").match.backend is None

    asyncio.run(follow(source, scenario))


def test_a_broken_file_keeps_the_last_good_table_until_fixed(tmp_path: Path) -> None:
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    refused: list[SourceError] = []
    said = asyncio.Event()

    def on_refused(exc: SourceError) -> None:
        refused.append(exc)
        said.set()

    source = FileSource([env], BackendMap(), Settings(), interval=0.02, debounce=0.02, on_refused=on_refused)

    async def scenario(next_snapshot, queue):  # type: ignore[no-untyped-def]
        await next_snapshot()
        write(env / "broken.yaml", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: [unclosed\n")
        await asyncio.wait_for(said.wait(), WAIT)
        assert f"{env.as_posix()}/broken.yaml:" in str(refused[0])
        assert source.last_error == str(refused[0])
        assert queue.empty()  # nothing was published: the last good table stays
        write(env / "broken.yaml", to_yaml(ingress("pay", "pay.example.com", "checkout")))
        fixed = await next_snapshot()
        assert fixed.state.resolve("pay.example.com", "/").match.backend is not None
        assert source.last_error == ""

    asyncio.run(follow(source, scenario))


def test_errors_at_the_first_load_name_file_and_line(tmp_path: Path) -> None:
    env = tmp_path / "production"
    write(env / "ok.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    write(env / "dup.yaml", to_yaml(ingress("shop-again", "shop.example.com", "other")))  # same host+path
    source = FileSource([env], BackendMap(), Settings())
    with pytest.raises(FileSourceError) as caught:
        source.load()
    finding = caught.value.findings[0]
    assert finding.rule == "cross/path-conflict"
    assert finding.file.startswith(env.as_posix()) and finding.line > 0
    assert f"{finding.file}:{finding.line}:" in str(caught.value)


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a folder"):
        FileSource([tmp_path / "nope"], BackendMap(), Settings()).load()


def test_a_source_that_dies_stops_the_worker_with_its_error(tmp_path: Path) -> None:
    from gitops_ingress.core.settings import Settings as CoreSettings
    from gitops_ingress.proxy.app import ProxyOptions, Worker, serve

    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    options = ProxyOptions(listen=("127.0.0.1", 0), settings=CoreSettings(), ingress_dirs=(str(env),))

    async def boom() -> None:
        raise RuntimeError("the watch broke")

    async def main() -> None:
        def ready(worker: Worker) -> None:
            worker._spawn(boom())  # what an unexpected bug in a source looks like

        await asyncio.wait_for(serve(options, asyncio.Event(), on_ready=ready), WAIT)

    with pytest.raises(SourceError, match="route source failed: RuntimeError: the watch broke"):
        asyncio.run(main())


def test_too_many_files_after_start_keeps_the_table(tmp_path: Path) -> None:
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    settings = Settings.build(overrides={"policy": {"limits": {"max_files": 2}}})
    said = asyncio.Event()
    source = FileSource([env], BackendMap(), settings, interval=0.02, debounce=0.02, on_refused=lambda exc: said.set())

    async def scenario(next_snapshot, queue):  # type: ignore[no-untyped-def]
        await next_snapshot()
        for index in range(3):
            write(env / f"more{index}.yaml", to_yaml(ingress(f"m{index}", f"m{index}.example.com", "web")))
        await asyncio.wait_for(said.wait(), WAIT)
        assert "more than 2 YAML files" in source.last_error
        assert queue.empty()

    asyncio.run(follow(source, scenario))
