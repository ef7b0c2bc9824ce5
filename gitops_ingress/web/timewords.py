"""Times in words for people ("2 minutes ago"), with the exact ISO time kept for a tooltip.

Rendered on the server (the page works without JavaScript); a live page re-renders on every
control-plane event, so the words stay fresh where things happen. ``in_words`` is pure: the
caller passes "now", so the same instant always reads the same way in a test.
"""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup

_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; a naive time is taken as UTC), or None if it is not one."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def in_words(when: datetime, now: datetime) -> str:
    seconds = int((now - when).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    # the largest unit that fits; under a minute (45-59 s) reads as one minute
    unit, size = next(((unit, size) for unit, size in _UNITS if seconds >= size), _UNITS[-1])
    count = max(1, round(seconds / size))
    words = f"{count} {unit}{'s' if count != 1 else ''}"
    return f"in {words}" if future else f"{words} ago"


def time_element(text: str, now: datetime | None = None) -> Markup:
    """``<time>`` reading in words, its ISO value in ``datetime`` and the tooltip; unparsable text
    is shown as it is (escaped)."""
    when = parse_time(text) if text else None
    if when is None:
        return Markup("<time>{}</time>").format(text)
    words = in_words(when, now or datetime.now(UTC))
    iso = when.isoformat()
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, iso, words)
