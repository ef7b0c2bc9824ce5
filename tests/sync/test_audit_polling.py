"""Audit of issue 4's polling fallback: 60 s by default, and the jitter really spreads the polls
(a constant interval would make every control plane of a fleet poll the forge at once)."""

from __future__ import annotations

import random

from gitops_ingress.core.settings import Settings
from gitops_ingress.sync.engine import EngineOptions
from gitops_ingress.sync.watcher import NoticedMap, Watcher


async def _refresh(branch: str | None, noticed: NoticedMap) -> None:
    return None


def test_polling_defaults_to_60_seconds_with_jitter() -> None:
    assert Settings().poll_interval == 60.0
    assert EngineOptions().poll_interval is None and EngineOptions().poll_jitter > 0  # None: the setting


def test_poll_delays_vary_within_the_jitter_band() -> None:
    watcher = Watcher(_refresh, interval=60, jitter=0.1, retry_initial=1, retry_max=8, rng=random.Random(1))
    delays = [watcher.next_delay() for _ in range(200)]
    assert all(54 <= d <= 66 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100  # spread, not one fixed value
    assert min(delays) < 57 and max(delays) > 63  # uses the band on both sides
