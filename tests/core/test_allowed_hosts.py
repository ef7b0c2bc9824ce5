"""The Host names our servers answer to (core/allowed_hosts.py): the rule itself, as a table."""

from __future__ import annotations

import pytest

from gitops_ingress.core.allowed_hosts import AllowedHosts, host_name
from gitops_ingress.core.errors import ConfigError

DEFAULT = AllowedHosts()


@pytest.mark.parametrize(
    "header",
    ["127.0.0.1", "127.0.0.1:8000", "[::1]:8000", "[::1]", "10.1.2.3:9090", "localhost", "LocalHost:80", "a.localhost"],
)
def test_ip_literals_and_localhost_are_always_answered(header: str) -> None:
    assert DEFAULT.allows(header)


@pytest.mark.parametrize(
    "header",
    [None, "", "evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.1.nip.io", "x:y", "[::1"],
)
def test_other_names_and_broken_headers_are_refused(header: str | None) -> None:
    assert not DEFAULT.allows(header)


def test_configured_names_wildcards_and_the_public_url() -> None:
    allowed = AllowedHosts.parse(["Gitops.Example.com", "*.apps.example.org"], public_url="https://dash.example.net/x")
    assert allowed.allows("gitops.example.com:443") and allowed.allows("gitops.example.com.")
    assert allowed.allows("a.apps.example.org") and allowed.allows("b.c.apps.example.org")
    assert not allowed.allows("apps.example.org") and not allowed.allows("evilapps.example.org")
    assert allowed.allows("dash.example.net") and not allowed.allows("example.net")
    assert "gitops.example.com" in allowed.describe() and "*.apps.example.org" in allowed.describe()


def test_a_star_turns_the_check_off() -> None:
    assert AllowedHosts.parse(["*"]).allows("anything.example") and AllowedHosts.parse(["*"]).allows(None)


@pytest.mark.parametrize("pattern", ["http://x.example", "a*.example.com", "x.example/", "two words", "a..b"])
def test_bad_patterns_are_refused_with_their_text(pattern: str) -> None:
    with pytest.raises(ConfigError, match="allowed host"):
        AllowedHosts.parse([pattern])


def test_host_name_strips_ports_brackets_case_and_the_root_dot() -> None:
    assert host_name("Shop.Example.COM.:8080") == "shop.example.com"
    assert host_name("[2001:db8::1]:443") == "2001:db8::1"
    assert host_name("shop.example.com:http") == ""
