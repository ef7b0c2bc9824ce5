"""The preview lifecycle against real git (sync/lifecycle.py): idle previews expire after
``preview_ttl`` from the last push and come back on the next one, ``preview_keep`` branches never
expire, ``max_previews`` caps the live previews (least recently pushed first) and capped branches
come back when room frees. Time is driven by a TTL of a fraction of a second, waited on events."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.engine import Engine
from gitops_ingress.sync.lifecycle import idle_words
from tests.support.manifests import ingress, to_yaml
from tests.sync.conftest import running, seed

pytestmark = pytest.mark.anyio


def state_of(engine: Engine, name: str) -> SyncState | None:
    status = engine.branch(name)
    return status.state if status is not None else None


def shop_preview(branch: str) -> str:
    return preview_host(branch, "shop.example.com", "preview.localhost")


async def test_idle_preview_expires_kept_one_stays_and_a_push_brings_it_back(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/idle")
    work.branch("keep/demo")
    work.push("keep/demo")
    settings = Settings(preview_ttl=0.3, preview_keep=("keep/*",))
    async with running(tmp_path, remote, settings) as h:
        await h.wait_until(lambda: state_of(h.engine, "feature/idle") is SyncState.EXPIRED)
        status = h.engine.branch("feature/idle")
        assert status is not None and status.message == "preview expired after 0.3s idle; push to bring it back"
        assert not status.preview_urls and h.resolve(shop_preview("feature/idle")) is None
        assert h.engine.history("feature/idle")[0].result == "expired"
        assert "feature/idle" in h.target.removed
        # kept, and the stable branch: never expire
        assert state_of(h.engine, "keep/demo") is SyncState.APPLIED
        assert h.resolve(shop_preview("keep/demo")) == "shop/web:80"
        assert state_of(h.engine, "main") is SyncState.APPLIED
        # a fetch of the same head changes nothing: only a push brings it back
        await h.refresh(None)
        assert state_of(h.engine, "feature/idle") is SyncState.EXPIRED
        work.switch("feature/idle")
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v2"))})
        work.commit("v2")
        work.push("feature/idle")
        await h.refresh("feature/idle")
        assert state_of(h.engine, "feature/idle") is SyncState.APPLIED
        assert h.resolve(shop_preview("feature/idle")) == "shop/web-v2:80"
        # and it expires again, counted from that push
        await h.wait_until(lambda: state_of(h.engine, "feature/idle") is SyncState.EXPIRED)


async def test_an_expired_preview_stays_expired_across_a_restart(tmp_path: Path) -> None:
    remote, _work = seed(tmp_path, branch="feature/idle")
    settings = Settings(preview_ttl=0.2)
    async with running(tmp_path, remote, settings) as h:
        await h.wait_until(lambda: state_of(h.engine, "feature/idle") is SyncState.EXPIRED)
    async with running(tmp_path, remote, settings) as h:
        assert state_of(h.engine, "feature/idle") is SyncState.EXPIRED
        assert h.target.applied == [] and h.resolve(shop_preview("feature/idle")) is None


async def test_max_previews_caps_the_least_recently_pushed_and_refills(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/old")
    settings = Settings(max_previews=1)
    async with running(tmp_path, remote, settings) as h:
        assert state_of(h.engine, "feature/old") is SyncState.APPLIED
        work.branch("feature/new")
        work.push("feature/new")
        await h.refresh(None)
        await h.wait_until(lambda: state_of(h.engine, "feature/old") is SyncState.CAPPED)
        old = h.engine.branch("feature/old")
        assert old is not None and old.message.startswith("preview refused: max_previews=1 reached")
        assert not old.preview_urls and h.resolve(shop_preview("feature/old")) is None
        assert (
            state_of(h.engine, "feature/new") is SyncState.APPLIED and state_of(h.engine, "main") is SyncState.APPLIED
        )
        assert h.engine.history("feature/old")[0].result == "capped"
        # room frees: the capped branch comes back
        work.delete_remote_branch("feature/new")
        await h.refresh(None)
        await h.wait_until(lambda: state_of(h.engine, "feature/old") is SyncState.APPLIED)
        assert h.resolve(shop_preview("feature/old")) == "shop/web:80"
        assert h.engine.branch("feature/new") is None


async def test_a_push_to_a_capped_branch_brings_it_back_and_caps_the_older(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, branch="feature/a")
    async with running(tmp_path, remote, Settings(max_previews=1)) as h:
        work.branch("feature/b")
        work.push("feature/b")
        await h.refresh(None)
        await h.wait_until(lambda: state_of(h.engine, "feature/a") is SyncState.CAPPED)
        work.switch("feature/a")
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v2"))})
        work.commit("a again")
        work.push("feature/a")
        await h.refresh("feature/a")
        await h.wait_until(lambda: state_of(h.engine, "feature/b") is SyncState.CAPPED)
        assert state_of(h.engine, "feature/a") is SyncState.APPLIED
        assert h.resolve(shop_preview("feature/a")) == "shop/web-v2:80"


def test_idle_words() -> None:
    assert [idle_words(s) for s in (0.3, 45, 90, 7200, 86400 * 3)] == ["0.3s", "45s", "1.5m", "2h", "3d"]
