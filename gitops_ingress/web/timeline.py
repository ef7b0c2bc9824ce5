"""A branch's sync history as a small SVG chart: one bar per sync, oldest on the left.

Each bar's height is the sync's duration (on a square-root scale, so one slow sync does not flatten
the rest) and its class is the result (applied, unchanged, refused, error, removed), styled in
``static/style.css``; each bar has a ``<title>`` with the time, commit, environment, result and
duration, so the chart is readable by hovering and by a screen reader, and the history table
below it stays the full record. Server-rendered, like the route map (web/routemap.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup

from gitops_ingress.core.status import SyncRecord

BAR = 12  # px per bar, gap included
HEIGHT = 64  # px of the tallest bar
AXIS = 16  # px under the bars for the axis labels
MIN_BAR = 3  # px: an instant sync still shows


def timeline_svg(records: Sequence[SyncRecord]) -> Markup:
    """``records`` newest first (as the history gives them); empty for no history."""
    if not records:
        return Markup("")
    oldest_first = list(reversed(records))
    longest = max(math.sqrt(max(r.duration_ms, 0.0)) for r in oldest_first) or 1.0
    width = max(len(oldest_first) * BAR, 160)
    bars = []
    for index, record in enumerate(oldest_first):
        height = max(MIN_BAR, HEIGHT * math.sqrt(max(record.duration_ms, 0.0)) / longest)
        title = (
            f"{record.started_at} {record.commit[:10]} {record.environment or 'all environments'}: "
            f"{record.result} in {record.duration_ms:.1f} ms"
        )
        bars.append(
            Markup(
                '<rect class="sync result-{}" x="{}" y="{:.1f}" width="{}" height="{:.1f}"><title>{}</title></rect>'
            ).format(record.result, index * BAR + 1, HEIGHT - height, BAR - 3, height, title)
        )
    counts: dict[str, int] = {}
    for record in oldest_first:
        counts[record.result] = counts.get(record.result, 0) + 1
    summary = ", ".join(f"{count} {result}" for result, count in sorted(counts.items()))
    name = f"Sync timeline: {len(oldest_first)} syncs, oldest on the left ({summary}); bar height is the duration"
    total = HEIGHT + AXIS
    return Markup(
        '<svg class="timeline" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{}" height="{}" '
        'viewBox="0 0 {} {}"><title>{}</title>{}<line class="axis" x1="0" y1="{}" x2="{}" y2="{}"/>'
        '<text x="0" y="{}">oldest</text><text x="{}" y="{}" text-anchor="end">newest</text></svg>'
    ).format(
        name,
        width,
        total,
        width,
        total,
        name,
        Markup("").join(bars),
        HEIGHT + 0.5,
        width,
        HEIGHT + 0.5,
        total - 3,
        width,
        total - 3,
    )
