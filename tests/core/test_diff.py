"""Route-level diff: added, removed, re-targeted, shadowed, default backend and TLS changes."""

from __future__ import annotations

from gitops_ingress.core.diff import ChangeKind, diff_environments, diff_tables
from gitops_ingress.core.routing import Route, RouteTable, ServiceRef, TLSEntry


def r(
    host: str, path: str, backend: str, ingress: str = "shop/web", file: str = "a.yaml", kind: str = "Prefix"
) -> Route:
    return Route(host, path, kind, ServiceRef("shop", backend, "80"), ingress, file, 3)


BASE = RouteTable(
    [r("shop.example.com", "/", "web"), r("shop.example.com", "/api", "api"), r("*.apps.example.com", "/", "apps")],
    tls=[TLSEntry(("shop.example.com",), "shop-tls", "shop", "shop/web")],
)


def test_identical_tables_from_other_files_give_an_empty_diff() -> None:
    moved = RouteTable(
        [r(x.host, x.path, x.backend.name, file="moved/elsewhere.yaml") for x in BASE.routes], tls=BASE.tls
    )  # type: ignore[union-attr]
    assert diff_tables(BASE, moved) == []
    assert diff_environments({"production": BASE}, {"production": moved}).empty


def test_retargeted_route_names_request_before_and_after() -> None:
    head = RouteTable(
        [
            r("shop.example.com", "/", "web"),
            r("shop.example.com", "/api", "api-v2"),
            r("*.apps.example.com", "/", "apps"),
        ],
        tls=BASE.tls,
    )
    [change] = diff_tables(BASE, head, "production")
    assert change.kind is ChangeKind.RETARGETED
    # shop.example.com has TLS: its plain-HTTP requests are redirected alike, so the example is over TLS
    assert str(change.request) == "GET https://shop.example.com/api"
    assert (change.before, change.after) == ("shop/api:80", "shop/api-v2:80")
    assert change.message == "GET https://shop.example.com/api now goes to shop/api-v2:80 instead of shop/api:80"


def test_added_path_shows_what_it_takes_over() -> None:
    head = RouteTable(list(BASE.routes) + [r("shop.example.com", "/api/v2", "api-v2")], tls=BASE.tls)
    [change] = diff_tables(BASE, head)
    assert change.kind is ChangeKind.ADDED
    assert (change.before, change.after) == ("shop/api:80", "shop/api-v2:80")


def test_new_exact_host_takes_over_from_the_wildcard() -> None:
    head = RouteTable(list(BASE.routes) + [r("admin.apps.example.com", "/", "admin")], tls=BASE.tls)
    [change] = diff_tables(BASE, head)
    assert change.kind is ChangeKind.ADDED and change.before == "shop/apps:80" and change.after == "shop/admin:80"


def test_removed_route_falls_back_to_what_is_left() -> None:
    head = RouteTable([r("shop.example.com", "/", "web"), r("*.apps.example.com", "/", "apps")], tls=BASE.tls)
    [change] = diff_tables(BASE, head)
    assert change.kind is ChangeKind.REMOVED and (change.before, change.after) == ("shop/api:80", "shop/web:80")


def test_a_duplicate_that_wins_the_tie_says_whom_it_shadows() -> None:
    head = RouteTable(
        list(BASE.routes) + [r("shop.example.com", "/api", "rogue", ingress="aa/early", file="early.yaml")],
        tls=BASE.tls,
    )
    [change] = diff_tables(BASE, head)
    assert change.kind is ChangeKind.SHADOWED and (change.before, change.after) == ("shop/api:80", "shop/rogue:80")
    assert change.detail == "shop/web (a.yaml:3) is shadowed by aa/early (early.yaml:3)"


def test_a_duplicate_that_loses_the_tie_moves_no_request_and_is_no_entry() -> None:
    """Validation refuses the duplicate (cross/path-conflict); the diff shows only what moves."""
    head = RouteTable(
        list(BASE.routes) + [r("shop.example.com", "/api", "rogue", ingress="zz/late", file="late.yaml")], tls=BASE.tls
    )
    assert diff_tables(BASE, head) == []


def test_default_backend_and_tls_changes() -> None:
    default = Route("", "", "Default", ServiceRef("platform", "fallback", "80"), "platform/default", "d.yaml", 1)
    head = RouteTable(BASE.routes, default, [TLSEntry(("shop.example.com",), "shop-tls-2025", "shop", "shop/web")])
    kinds = {c.kind: c for c in diff_tables(BASE, head)}
    assert set(kinds) == {ChangeKind.DEFAULT_BACKEND, ChangeKind.TLS}
    assert kinds[ChangeKind.DEFAULT_BACKEND].after == "platform/fallback:80"
    assert "shop-tls -> shop-tls-2025" in kinds[ChangeKind.TLS].message


def test_environment_only_on_one_side_counts_against_empty() -> None:
    diff = diff_environments({}, {"staging": BASE})
    assert diff.environments == ("staging",)
    assert diff.counts["added"] == 3
    assert diff.counts["tls"] == 1
