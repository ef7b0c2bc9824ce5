"""Stable and preview resolution: which table a Host picks and what Host goes upstream."""

from __future__ import annotations

from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.routing import Route, RouteTable, RoutingState, ServiceRef


def table(*routes: tuple[str, str, str]) -> RouteTable:
    return RouteTable(Route(h, p, "Prefix", ServiceRef("shop", b, "80"), "shop/web") for h, p, b in routes)


STABLE = table(("shop.example.com", "/", "web"), ("shop.example.com", "/api", "api"))
FEATURE = table(
    ("shop.example.com", "/", "web"),
    ("shop.example.com", "/api", "api-v2"),
    ("*.apps.example.com", "/", "apps"),
    ("", "/healthz", "health"),
)
STATE = RoutingState(STABLE, {"feature/api-v2": FEATURE}, "preview.localhost")


def test_stable_hosts_use_the_stable_table() -> None:
    resolution = STATE.resolve("SHOP.example.com:8080", "/api/x")
    assert resolution.branch is None
    assert resolution.match.backend == ServiceRef("shop", "api", "80")
    assert resolution.upstream_host == "shop.example.com"


def test_preview_host_routes_with_the_branch_and_restores_the_stable_host() -> None:
    host = preview_host("feature/api-v2", "shop.example.com", "preview.localhost")
    resolution = STATE.resolve(f"{host}:8080", "/api/x")
    assert resolution.branch == "feature/api-v2"
    assert resolution.match.backend == ServiceRef("shop", "api-v2", "80")
    assert resolution.upstream_host == "shop.example.com"
    assert resolution.host == host


def test_wildcard_and_hostless_previews() -> None:
    wildcard = preview_host("feature/api-v2", "*.apps.example.com", "preview.localhost")
    resolved = STATE.resolve(wildcard, "/")
    assert resolved.match.backend == ServiceRef("shop", "apps", "80")
    assert resolved.upstream_host == "wildcard.apps.example.com"
    hostless = preview_host("feature/api-v2", None, "preview.localhost")
    resolved = STATE.resolve(hostless, "/healthz")
    assert resolved.match.backend == ServiceRef("shop", "health", "80")
    assert resolved.upstream_host == hostless


def test_unknown_preview_is_flagged() -> None:
    resolution = STATE.resolve("nope--shop-example-com.preview.localhost", "/")
    assert resolution.unknown_preview and resolution.match.backend is None


def test_with_branch_adds_replaces_and_removes() -> None:
    added = STATE.with_branch("other", STABLE, "main")
    assert set(added.previews) == {"feature/api-v2", "other"} and added.version == STATE.version + 1
    removed = added.with_branch("feature/api-v2", None, "main")
    assert set(removed.previews) == {"other"}
    restabled = removed.with_branch("main", FEATURE, "main")
    assert restabled.resolve("shop.example.com", "/api").match.backend == ServiceRef("shop", "api-v2", "80")


def test_state_round_trips_through_its_wire_form() -> None:
    again = RoutingState.from_dict(STATE.to_dict())
    host = preview_host("feature/api-v2", "shop.example.com", "preview.localhost")
    assert again.resolve(host, "/api").match.backend == ServiceRef("shop", "api-v2", "80")
    assert again.stable.version == STABLE.version
