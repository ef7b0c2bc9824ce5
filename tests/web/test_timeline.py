"""The sync timeline: one bar per sync, oldest first, coloured by result, height by duration."""

from __future__ import annotations

from gitops_ingress.core.status import SyncRecord
from gitops_ingress.web.timeline import HEIGHT, MIN_BAR, timeline_svg


def record(index: int, result: str, duration_ms: float) -> SyncRecord:
    return SyncRecord(
        id=index,
        branch="feature/x",
        commit=f"{index:040d}",
        environment="production",
        started_at=f"2026-11-26T12:0{index}:00Z",
        duration_ms=duration_ms,
        result=result,
    )


def test_bars_run_oldest_to_newest_with_result_and_duration() -> None:
    newest_first = [record(3, "error", 0.0), record(2, "refused", 25.0), record(1, "applied", 100.0)]
    svg = timeline_svg(newest_first)
    results = [part.split('"', 1)[0] for part in svg.split('class="sync result-')[1:]]
    assert results == ["applied", "refused", "error"]
    assert f'height="{HEIGHT:.1f}"' in svg  # the longest sync is the tallest bar
    assert f'height="{HEIGHT / 2:.1f}"' in svg  # a quarter of the time: half the height (square root)
    assert f'height="{MIN_BAR:.1f}"' in svg  # an instant sync still shows
    assert "3 syncs" in svg and "1 applied, 1 error, 1 refused" in svg
    assert "refused in 25.0 ms" in svg


def test_no_history_draws_nothing() -> None:
    assert timeline_svg([]) == ""
