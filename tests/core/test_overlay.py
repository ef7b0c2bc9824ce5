"""Branch overlays (core/routing/overlay.py): which stable hosts a branch changes, and how a key
on a stable host resolves against them."""

from __future__ import annotations

from gitops_ingress.core.naming import branch_slug
from gitops_ingress.core.routing import Route, RouteTable, RoutingState, ServiceRef
from gitops_ingress.core.routing.overlay import changed_hosts, signatures


def r(host: str, service: str, path: str = "/", **extra: object) -> Route:
    return Route(host, path, "Prefix", ServiceRef("shop", service, "80"), f"shop/{service}", **extra)  # type: ignore[arg-type]


STABLE = RouteTable([r("shop.example.com", "web"), r("api.example.com", "api"), r("*.apps.example.com", "apps")])


def test_changed_hosts_compare_routing_not_positions() -> None:
    branch = RouteTable(
        [
            r("shop.example.com", "web", file="moved.yaml", line=9),  # same routing, other file
            r("api.example.com", "api-v2"),  # other backend
            r("new.example.com", "new"),  # added
            r("", "catch"),  # host-less: never overlaid
        ]
    )  # *.apps.example.com removed
    assert changed_hosts(signatures(STABLE), branch) == {"api.example.com", "new.example.com", "*.apps.example.com"}


def test_changed_hosts_of_routes_shared_with_the_stable_table_by_identity() -> None:
    """A file a branch shares with main gives it main's very Route objects: such a group is
    unchanged without a signature, but a fallback of its own still changes it."""
    shared = STABLE.routes
    assert changed_hosts(signatures(STABLE), RouteTable(shared)) == frozenset()
    catch_all = RouteTable(shared, catch_alls=[("api.example.com", ServiceRef("shop", "other", "80"))])
    assert changed_hosts(signatures(STABLE), catch_all) == {"api.example.com"}
    default = RouteTable(shared, default_backend=r("", "fallback"))
    assert changed_hosts(signatures(STABLE), default) == {"shop.example.com", "api.example.com", "*.apps.example.com"}


def test_resolve_overlay_routes_only_changed_hosts_and_never_preview_hosts() -> None:
    branch = RouteTable([r("shop.example.com", "web"), r("api.example.com", "api-v2"), r("*.apps.example.com", "apps")])
    state = RoutingState(STABLE, {"feature/x": branch})
    overlay = state.overlays["feature-x-217d2b"]
    assert state.overlaid_hosts("feature/x") == ["api.example.com"]
    found = state.resolve_overlay(overlay, "API.example.com:443", "/v1")
    assert found is not None
    assert (found.branch, found.upstream_host, str(found.match.backend)) == (
        "feature/x",
        "api.example.com",
        "shop/api-v2:80",
    )
    assert state.resolve_overlay(overlay, "shop.example.com", "/") is None
    preview = next(iter(state.preview_hosts("feature/x")))
    assert state.resolve_overlay(overlay, preview, "/") is None


def test_with_branch_keeps_overlays_in_step() -> None:
    state = RoutingState(STABLE)
    changed = state.with_branch("b", RouteTable([r("shop.example.com", "web-v2")]), "main")
    assert changed.overlaid_hosts("b") == ["*.apps.example.com", "api.example.com", "shop.example.com"]
    assert changed.with_branch("b", None, "main").overlays == {}
    # a new stable table re-derives every overlay
    restabled = changed.with_branch("main", RouteTable([r("shop.example.com", "web-v2")]), "main")
    assert restabled.overlaid_hosts("b") == []


def test_the_wire_form_carries_no_overlays_and_a_proxy_derives_the_same() -> None:
    state = RoutingState(STABLE, {"b": RouteTable([r("shop.example.com", "web-v2")])})
    assert "overlays" not in state.to_dict()
    again = RoutingState.from_dict(state.to_dict())
    assert {slug: o.hosts for slug, o in again.overlays.items()} == {
        slug: o.hosts for slug, o in state.overlays.items()
    }


# two branches of one slug (a 24-bit hash of names that fold alike, found by a search); the first
# by name, COLLIDING[0] ("." sorts before "_"), claims it
COLLIDING = ("a/b/c.d_e_f_g/h_i.j_k", "a/b/c_d_e/f/g.h.i/j.k")


def test_overlays_by_slug_follow_changes_as_the_whole_build_does() -> None:
    """``with_changes`` updates the slug index for the changed branches only; whatever the
    changes, including slugs claimed twice and given back, it holds what a whole build holds."""
    assert branch_slug(COLLIDING[0]) == branch_slug(COLLIDING[1])
    one, other = RouteTable([r("shop.example.com", "web-v2")]), RouteTable([r("api.example.com", "api-v2")])
    steps: list[dict[str, RouteTable | None]] = [
        {"b": one, "c": other},
        {COLLIDING[1]: one},
        {COLLIDING[0]: other},  # claims the slug from COLLIDING[1]
        {"b": other, COLLIDING[0]: None},  # COLLIDING[1] has it again
        {COLLIDING[1]: None, "c": None},
        {COLLIDING[0]: one, COLLIDING[1]: other},
        {COLLIDING[0]: other, "d": one},
        {COLLIDING[1]: one},
    ]
    state, previews = RoutingState(STABLE), dict[str, RouteTable]()
    for version, step in enumerate(steps, 1):
        state = state.with_changes(None, step, version)
        previews = {branch: table for branch, table in {**previews, **step}.items() if table is not None}
        whole = RoutingState(STABLE, previews)
        assert {slug: (o.branch, o.table) for slug, o in state.overlays.items()} == {
            slug: (o.branch, o.table) for slug, o in whole.overlays.items()
        }, f"after step {version}"
