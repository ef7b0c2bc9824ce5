"""The sync timeline: per sync a push marker, a bar (result by class, height by duration) and a
push-to-live dot, oldest first, said in words for a screen reader."""

from __future__ import annotations

import re

from gitops_ingress.core.status import SyncRecord
from gitops_ingress.web.timeline import HEIGHT, MIN_BAR, push_to_live_summary, timeline_svg


def record(
    index: int,
    result: str,
    duration_ms: float,
    push_to_live_ms: float | None = None,
    *,
    environment: str = "production",
    noticed: bool = True,
) -> SyncRecord:
    return SyncRecord(
        id=index,
        branch="feature/x",
        commit=f"{index:040d}",
        environment=environment,
        started_at=f"2026-11-26T12:0{index}:00Z",
        duration_ms=duration_ms,
        result=result,
        noticed_at=f"2026-11-26T12:0{index - 1}:59Z" if noticed else "",
        push_to_live_ms=push_to_live_ms,
    )


def test_bars_run_oldest_to_newest_with_result_and_duration() -> None:
    newest_first = [record(3, "error", 0.0), record(2, "refused", 25.0), record(1, "applied", 100.0, 400.0)]
    svg = timeline_svg(newest_first)
    results = [part.split('"', 1)[0] for part in svg.split('class="sync result-')[1:]]
    assert results == ["applied", "refused", "error"]
    assert f'height="{HEIGHT:.1f}"' in svg  # the longest sync is the tallest bar
    assert f'height="{HEIGHT / 2:.1f}"' in svg  # a quarter of the time: half the height (square root)
    assert f'height="{MIN_BAR:.1f}"' in svg  # an instant sync still shows
    assert "3 syncs" in svg and "1 applied, 1 error, 1 refused" in svg
    assert "refused in 25.0 ms" in svg
    assert "style=" not in svg  # the CSP forbids inline styles: classes only


def test_each_push_is_marked_and_push_to_live_is_a_second_series() -> None:
    newest_first = [
        record(4, "applied", 5.0, 100.0),
        record(3, "refused", 5.0),  # noticed, never live: a marker, no dot
        record(2, "applied", 5.0, 400.0),
        record(1, "applied", 5.0, None, noticed=False),  # from before push times were kept
    ]
    svg = timeline_svg(newest_first)
    assert svg.count('class="push"') == 3 and "push noticed 2026-11-26T12:02:59Z" in svg
    dots = re.findall(r'<circle class="live" cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert len(dots) == 2 and float(dots[0][0]) < float(dots[1][0])  # oldest on the left
    assert float(dots[0][1]) < float(dots[1][1])  # 400 ms sits higher than 100 ms
    assert 'class="live-line"' in svg
    assert "live 400 ms after the push" in svg  # in the bar's title and the dot's
    assert "push to live: median 250 ms, last 100 ms" in svg  # the aria-label says it in words
    assert re.search(r'role="img" aria-label="[^"]*triangles mark when a push was noticed', svg)


def test_the_summary_counts_each_sync_once_and_says_when_there_is_nothing() -> None:
    # one sync writes a row per environment: the same time twice is one sync, not two
    newest_first = [
        record(3, "applied", 5.0, 30.0, environment="production"),
        record(3, "applied", 5.0, 30.0, environment="staging"),
        record(2, "applied", 5.0, 1500.0),
        record(1, "applied", 5.0, 2.5),
    ]
    assert push_to_live_summary(newest_first) == "push to live: median 30 ms, last 30 ms"
    assert push_to_live_summary([record(1, "refused", 5.0)]) == ""
    assert "no push-to-live time recorded" in timeline_svg([record(1, "refused", 5.0)])


def test_a_result_of_two_words_is_one_class() -> None:
    assert 'class="sync result-held-back"' in timeline_svg([record(1, "held back", 5.0)])


def test_no_history_draws_nothing() -> None:
    assert timeline_svg([]) == ""
