"""Times in words with the ISO time in the tooltip, and host names that wrap only at dots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gitops_ingress.web.dashboard import soft_breaks
from gitops_ingress.web.timewords import in_words, time_element

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ago", "words"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(seconds=50), "1 minute ago"),
        (timedelta(minutes=2), "2 minutes ago"),
        (timedelta(hours=1, minutes=10), "1 hour ago"),
        (timedelta(days=3), "3 days ago"),
        (timedelta(days=400), "1 year ago"),
        (-timedelta(hours=2), "in 2 hours"),
    ],
)
def test_in_words(ago: timedelta, words: str) -> None:
    assert in_words(NOW - ago, NOW) == words


def test_time_element_keeps_the_iso_time_and_escapes_what_is_not_one() -> None:
    assert time_element("2026-03-01T11:58:00Z", NOW) == (
        '<time datetime="2026-03-01T11:58:00+00:00" title="2026-03-01T11:58:00+00:00">2 minutes ago</time>'
    )
    assert time_element("<script>", NOW) == "<time>&lt;script&gt;</time>"


def test_host_names_and_paths_wrap_only_after_dots_and_slashes_and_are_escaped() -> None:
    assert soft_breaks("api.example.com") == "api.<wbr>example.<wbr>com"
    assert soft_breaks("envs/prod/shop.yaml") == "envs/<wbr>prod/<wbr>shop.<wbr>yaml"
    assert soft_breaks("<b>.example") == "&lt;b&gt;.<wbr>example"
