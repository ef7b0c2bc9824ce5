"""A branch's sync history as a small SVG chart: per sync a push marker, a bar and a push-to-live dot.

One column per history row, oldest on the left, in three bands:

* the **push** marker (a small triangle) when the control plane noticed the push that brought the
  commit (``noticed_at``: the webhook delivery, else the fetch that found it);
* the **sync** bar: its height is the sync's duration (on a square-root scale, so one slow sync
  does not flatten the rest) and its class the result (applied, unchanged, refused, error,
  removed, held back), styled in ``static/style.css`` by shape as well as colour (solid, hollow,
  hatched, dashed), so no meaning is carried by colour alone;
* the **push to live** series: a dot per sync that went live, its height the time from the push
  being noticed to the routes going live (square root again), joined by a line.

Every element has a ``<title>`` in words (time, commit, environment, result, duration, push to
live), the ``<svg>`` has ``role="img"`` and an ``aria-label`` that says the whole chart in a
sentence, and ``push_to_live_summary`` is the one line shown beside it. The history table below
stays the full record. Server-rendered, like the route map (web/routemap.py); no inline styles
(the CSP forbids them).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from markupsafe import Markup

from gitops_ingress.core.status import SyncRecord

BAR = 12  # px per column, gap included
PUSH = 10  # px of the push band above the bars
HEIGHT = 64  # px of the tallest bar
GAP = 6  # px between the bars and the push-to-live band
LIVE = 28  # px of the push-to-live band
AXIS = 16  # px under the bands for the axis labels
MIN_BAR = 3  # px: an instant sync still shows
TOP = PUSH  # where the bars band starts
LIVE_TOP = TOP + HEIGHT + GAP  # where the push-to-live band starts
TOTAL = LIVE_TOP + LIVE + AXIS
HATCH = (
    '<defs><pattern id="timeline-hatch" patternUnits="userSpaceOnUse" width="4" height="4">'
    '<path class="hatch" d="M-1,1 l2,-2 M0,4 l4,-4 M3,5 l2,-2"/></pattern></defs>'
)


def milliseconds(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _syncs_live(records: Sequence[SyncRecord]) -> list[float]:
    """Push-to-live times, newest first, one per sync (a sync writes one row per environment)."""
    seen: set[tuple[str, str]] = set()
    times = []
    for record in records:
        key = (record.commit, record.started_at)
        if record.push_to_live_ms is not None and key not in seen:
            seen.add(key)
            times.append(record.push_to_live_ms)
    return times


def push_to_live_summary(records: Sequence[SyncRecord]) -> str:
    """ "push to live: median N ms, last M ms" over ``records`` (newest first); "" with none."""
    times = _syncs_live(records)
    if not times:
        return ""
    return f"push to live: median {milliseconds(statistics.median(times))}, last {milliseconds(times[0])}"


def _scaled(value: float, longest: float, span: float) -> float:
    return span * math.sqrt(max(value, 0.0)) / longest


def _title(record: SyncRecord) -> str:
    text = (
        f"{record.started_at} {record.commit[:10]} {record.environment or 'all environments'}: "
        f"{record.result} in {record.duration_ms:.1f} ms"
    )
    if record.noticed_at:
        text += f"; push noticed {record.noticed_at}"
    if record.push_to_live_ms is not None:
        text += f"; live {milliseconds(record.push_to_live_ms)} after the push"
    return text


def timeline_svg(records: Sequence[SyncRecord]) -> Markup:
    """``records`` newest first (as the history gives them); empty for no history."""
    if not records:
        return Markup("")
    oldest_first = list(reversed(records))
    longest = max(math.sqrt(max(r.duration_ms, 0.0)) for r in oldest_first) or 1.0
    live_times = [r.push_to_live_ms for r in oldest_first if r.push_to_live_ms is not None]
    longest_live = max((math.sqrt(max(t, 0.0)) for t in live_times), default=0.0) or 1.0
    width = max(len(oldest_first) * BAR, 160)
    parts: list[Markup] = []
    points: list[str] = []
    for index, record in enumerate(oldest_first):
        left, middle = index * BAR + 1, index * BAR + (BAR - 2) / 2
        if record.noticed_at:
            parts.append(
                Markup('<path class="push" d="M{:.1f},{} l-3.5,-6 h7 z"><title>push noticed {}</title></path>').format(
                    middle, PUSH - 1, record.noticed_at
                )
            )
        height = max(MIN_BAR, _scaled(record.duration_ms, longest, HEIGHT))
        parts.append(
            Markup(
                '<rect class="sync result-{}" x="{}" y="{:.1f}" width="{}" height="{:.1f}"><title>{}</title></rect>'
            ).format(record.result.replace(" ", "-"), left, TOP + HEIGHT - height, BAR - 3, height, _title(record))
        )
        if record.push_to_live_ms is not None:
            y = LIVE_TOP + LIVE - _scaled(record.push_to_live_ms, longest_live, LIVE - 3)
            points.append(f"{middle:.1f},{y:.1f}")
            parts.append(
                Markup('<circle class="live" cx="{:.1f}" cy="{:.1f}" r="2.5"><title>{}</title></circle>').format(
                    middle, y, f"{record.commit[:10]}: live {milliseconds(record.push_to_live_ms)} after the push"
                )
            )
    line = (
        Markup('<polyline class="live-line" points="{}"/>').format(" ".join(points)) if len(points) > 1 else Markup("")
    )
    counts: dict[str, int] = {}
    for record in oldest_first:
        counts[record.result] = counts.get(record.result, 0) + 1
    summary = ", ".join(f"{count} {result}" for result, count in sorted(counts.items()))
    live = push_to_live_summary(records)
    name = (
        f"Sync timeline: {len(oldest_first)} syncs, oldest on the left ({summary}); triangles mark when a push "
        f"was noticed, bar height is the sync's duration, dots below are the push-to-live times"
        + (f"; {live}" if live else "; no push-to-live time recorded")
    )
    return Markup(
        '<svg class="timeline" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{}" height="{}" '
        'viewBox="0 0 {} {}"><title>{}</title>{}{}{}<line class="axis" x1="0" y1="{}" x2="{}" y2="{}"/>'
        '<line class="axis" x1="0" y1="{}" x2="{}" y2="{}"/>'
        '<text x="0" y="{}">oldest</text><text x="{}" y="{}" text-anchor="end">newest</text></svg>'
    ).format(
        name,
        width,
        TOTAL,
        width,
        TOTAL,
        name,
        Markup(HATCH),
        line,
        Markup("").join(parts),
        TOP + HEIGHT + 0.5,
        width,
        TOP + HEIGHT + 0.5,
        LIVE_TOP + LIVE + 0.5,
        width,
        LIVE_TOP + LIVE + 0.5,
        TOTAL - 3,
        width,
        TOTAL - 3,
    )
