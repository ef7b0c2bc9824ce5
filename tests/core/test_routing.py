"""Routing semantics (docs/routing.md), case by case and against a
brute-force reference matcher with generated tables and requests."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_ingress.core.annotations.authn import BasicAuth
from gitops_ingress.core.annotations.model import RouteEffects
from gitops_ingress.core.objects import parse_file
from gitops_ingress.core.routing import ResourceRef, Route, RouteTable, ServiceRef, compile_routes, normalize_host
from gitops_ingress.core.routing.compile import routes_of
from gitops_ingress.core.routing.model import TLSEntry
from gitops_ingress.core.routing.table import WireMemo
from gitops_ingress.core.settings import Settings
from tests.support.manifests import ingress, to_yaml


def svc(name: str) -> ServiceRef:
    return ServiceRef("ns", name, "80")


def route(host: str, path: str, path_type: str, backend: str, ingress: str = "ns/ing") -> Route:
    return Route(host, path, path_type, svc(backend), ingress, "f.yaml", 1)


def backend_of(table: RouteTable, host: str, path: str) -> str | None:
    match = table.match(host, path)
    return match.backend.name if isinstance(match.backend, ServiceRef) else None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Shop.Example.COM", "shop.example.com"),
        ("shop.example.com:8080", "shop.example.com"),
        ("shop.example.com.", "shop.example.com"),
        ("[::1]:8080", "[::1]"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("", ""),
    ],
)
def test_host_header_is_normalised(raw: str, expected: str) -> None:
    assert normalize_host(raw) == expected


PREFIX_CASES = [
    # rule path, request path, matches (from the Kubernetes docs' examples table)
    ("/", "/anything", True),
    ("/foo", "/foo", True),
    ("/foo", "/foo/", True),
    ("/foo/", "/foo", True),
    ("/foo/", "/foo/", True),
    ("/aaa/bb", "/aaa/bbb", False),
    ("/aaa/bbb", "/aaa/bbb", True),
    ("/aaa/bbb/", "/aaa/bbb", True),
    ("/aaa/bbb", "/aaa/bbb/", True),
    ("/aaa/bbb", "/aaa/bbb/ccc", True),
    ("/aaa/bbb", "/aaa/bbbxyz", False),
    ("/foo", "/foobar", False),
    ("/foo", "/FOO", False),
]


@pytest.mark.parametrize(("rule", "request_path", "matches"), PREFIX_CASES)
def test_prefix_matches_element_wise(rule: str, request_path: str, matches: bool) -> None:
    table = RouteTable([route("a.com", rule, "Prefix", "p")])
    assert (backend_of(table, "a.com", request_path) == "p") is matches


@pytest.mark.parametrize(
    ("rule", "request_path", "matches"),
    [("/foo", "/foo", True), ("/foo", "/foo/", False), ("/foo/", "/foo", False), ("/foo", "/Foo", False)],
)
def test_exact_compares_the_whole_path(rule: str, request_path: str, matches: bool) -> None:
    table = RouteTable([route("a.com", rule, "Exact", "e")])
    assert (backend_of(table, "a.com", request_path) == "e") is matches


def test_implementation_specific_is_prefix_and_empty_matches_all() -> None:
    table = RouteTable(
        [route("a.com", "/x", "ImplementationSpecific", "x"), route("b.com", "", "ImplementationSpecific", "all")]
    )
    assert backend_of(table, "a.com", "/x/y") == "x"
    assert backend_of(table, "a.com", "/xy") is None
    assert backend_of(table, "b.com", "/whatever/deep") == "all"


def test_longest_path_wins_then_exact_beats_prefix() -> None:
    table = RouteTable(
        [
            route("a.com", "/", "Prefix", "root"),
            route("a.com", "/foo", "Prefix", "foo-prefix"),
            route("a.com", "/foo", "Exact", "foo-exact"),
            route("a.com", "/foo/bar", "Prefix", "bar"),
        ]
    )
    assert backend_of(table, "a.com", "/foo") == "foo-exact"
    assert backend_of(table, "a.com", "/foo/") == "foo-prefix"
    assert backend_of(table, "a.com", "/foo/bar/x") == "bar"
    assert backend_of(table, "a.com", "/other") == "root"


def test_trailing_slash_prefix_wins_over_the_same_prefix_without() -> None:
    table = RouteTable([route("a.com", "/foo", "Prefix", "plain"), route("a.com", "/foo/", "Prefix", "slash")])
    assert backend_of(table, "a.com", "/foo/x") == "slash"


def test_query_string_is_not_part_of_the_path() -> None:
    table = RouteTable([route("a.com", "/search", "Exact", "s")])
    assert backend_of(table, "a.com", "/search?q=/etc") == "s"


def test_exact_host_beats_wildcard_beats_hostless_without_fallback() -> None:
    table = RouteTable(
        [
            route("api.foo.com", "/v1", "Prefix", "exact-host"),
            route("*.foo.com", "/", "Prefix", "wildcard"),
            route("", "/", "Prefix", "hostless"),
        ]
    )
    assert backend_of(table, "api.foo.com", "/v1/x") == "exact-host"
    # the exact host group is chosen; its paths do not match; no fallback to wildcard/host-less
    assert backend_of(table, "api.foo.com", "/other") is None
    assert table.match("api.foo.com", "/other").host_group == "api.foo.com"
    assert backend_of(table, "web.foo.com", "/x") == "wildcard"
    assert backend_of(table, "foo.com", "/x") == "hostless"


def test_wildcard_matches_exactly_one_label() -> None:
    table = RouteTable([route("*.foo.com", "/", "Prefix", "w")])
    assert backend_of(table, "bar.foo.com", "/") == "w"
    assert backend_of(table, "baz.bar.foo.com", "/") is None
    assert backend_of(table, "foo.com", "/") is None


def test_ip_literal_host_matches_only_hostless_rules() -> None:
    table = RouteTable([route("*.0.0.1", "/", "Prefix", "w"), route("", "/", "Prefix", "hostless")])
    assert backend_of(table, "127.0.0.1", "/") == "hostless"


def test_default_backend_takes_unmatched_requests_and_404_without_one() -> None:
    default = Route("", "", "Default", svc("fallback"), "ns/default")
    with_default = RouteTable([route("a.com", "/app", "Prefix", "app")], default)
    assert backend_of(with_default, "a.com", "/nope") == "fallback"
    assert with_default.match("a.com", "/nope").via_default
    assert backend_of(with_default, "unknown.com", "/") == "fallback"
    without = RouteTable([route("a.com", "/app", "Prefix", "app")])
    assert without.match("unknown.com", "/").to_dict() == {"backend": None, "status": 404, "hostGroup": None}


def test_host_rule_without_http_is_a_catch_all_to_its_default_backend() -> None:
    table = RouteTable([], None, (), [("legacy.com", svc("legacy"))])
    assert backend_of(table, "legacy.com", "/any/path") == "legacy"


def test_resource_backend_answers_404() -> None:
    res = Route("a.com", "/static", "Prefix", ResourceRef("ns", "k8s.example.com", "StorageBucket", "assets"), "ns/i")
    match = RouteTable([res]).match("a.com", "/static/x")
    assert isinstance(match.backend, ResourceRef) and match.status == 404


def test_identical_rules_tie_break_by_namespace_and_name_ascending() -> None:
    table = RouteTable(
        [route("a.com", "/x", "Prefix", "second", "zz/b"), route("a.com", "/x", "Prefix", "first", "aa/a")]
    )
    assert backend_of(table, "a.com", "/x") == "first"
    assert len(table.effective_routes()) == 1


def test_table_round_trips_through_its_wire_form() -> None:
    default = Route("", "", "Default", svc("d"), "ns/default", "d.yaml", 3)
    table = RouteTable([route("a.com", "/x", "Exact", "x"), route("*.b.com", "/", "Prefix", "w")], default)
    again = RouteTable.from_dict(table.to_dict())
    assert again.version == table.version
    assert again.routes == table.routes
    assert backend_of(again, "q.b.com", "/z") == "w"


# ---- generated tables against a brute-force reference -------------------------------------

SEGMENTS = st.sampled_from(["a", "b", "ab", "c"])
PATHS = st.lists(SEGMENTS, max_size=3).map(lambda parts: "/" + "/".join(parts))
RULE_PATHS = st.tuples(PATHS, st.booleans()).map(lambda p: p[0] + ("/" if p[1] and p[0] != "/" else ""))
HOSTS = st.sampled_from(["", "x.io", "*.x.io", "y.x.io", "z.io"])
ROUTES = st.lists(
    st.builds(
        lambda host, path, kind, n: route(host, path, kind, f"b{n}", f"ns/i{n}"),
        HOSTS,
        RULE_PATHS,
        st.sampled_from(["Exact", "Prefix", "ImplementationSpecific"]),
        st.integers(0, 99),
    ),
    max_size=12,
)
REQUEST_HOSTS = st.sampled_from(["x.io", "y.x.io", "w.x.io", "a.b.x.io", "z.io", "other.io"])
REQUEST_PATHS = st.tuples(PATHS, st.booleans()).map(lambda p: p[0] + ("/" if p[1] and p[0] != "/" else ""))


def reference_match(routes: list[Route], host: str, path: str) -> str | None:
    """Straight from the spec text, no cleverness: pick the host group, then rank candidates."""

    def group_of(rule_host: str) -> int | None:
        if rule_host == host:
            return 0
        if rule_host.startswith("*.") and host.count(".") >= 1 and host.split(".", 1)[1] == rule_host[2:]:
            return 1
        if rule_host == "":
            return 2
        return None

    ranks = [group_of(r.host) for r in routes]
    present = [rank for rank in ranks if rank is not None]
    if not present:
        return None
    chosen = min(present)
    candidates = []
    for r, rank in zip(routes, ranks, strict=True):
        if rank != chosen:
            continue
        if r.kind == "Exact":
            if path == r.path:
                candidates.append((len(r.path), 1, r))
        else:
            rule_parts = [p for p in r.path.split("/") if p]
            req_parts = [p for p in path.split("/") if p]
            if req_parts[: len(rule_parts)] == rule_parts:
                candidates.append((len(r.path.rstrip("/")), 0, r))
    if not candidates:
        return None
    best = max(c[:2] for c in candidates)
    winners = [c[2] for c in candidates if c[:2] == best]
    winners.sort(key=lambda r: (not r.path.endswith("/"), r.ingress))
    return winners[0].backend.name  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(ROUTES, REQUEST_HOSTS, REQUEST_PATHS)
def test_table_agrees_with_the_reference_matcher(routes: list[Route], host: str, path: str) -> None:
    table = RouteTable(routes)
    assert backend_of(table, host, path) == reference_match(routes, host, path)


def test_merge_takes_every_route_and_the_first_environments_default() -> None:
    staging_default = Route("", "", "Default", svc("staging-fallback"), "zz/default")
    production_default = Route("", "", "Default", svc("production-fallback"), "aa/default")
    staging = RouteTable(
        [route("s.example.com", "/", "Prefix", "s")], staging_default, (), [("old.s.com", svc("legacy"))]
    )
    production = RouteTable([route("p.example.com", "/", "Prefix", "p")], production_default)
    merged = RouteTable.merge({"staging": staging, "production": production})
    assert backend_of(merged, "s.example.com", "/x") == "s"
    assert backend_of(merged, "p.example.com", "/x") == "p"
    assert backend_of(merged, "old.s.com", "/any") == "legacy"
    # "production" sorts first, whatever the Ingress names: one rule for every caller
    assert backend_of(merged, "unknown.com", "/") == "production-fallback"
    assert RouteTable.merge({"only": staging}) is staging


def test_a_parsed_file_carries_its_routes_and_compiling_with_them_builds_the_same_table() -> None:
    """A parsed file's routes (``ParsedFile.routes``, kept in the parse cache) are exactly what
    compiling its Ingresses makes, and a table compiled from them is the table compiled afresh,
    canaries included (a canary Ingress's routes fold into the main one's)."""
    canary = ingress("shop-canary", "shop.example.com", "web-v2")
    canary["metadata"]["annotations"] = {
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": "10",
    }
    text = "---\n".join(
        to_yaml(doc) for doc in (ingress("shop", "shop.example.com", "web", paths=["/", "/api"]), canary)
    )
    parsed = parse_file("environments/production/shop.yaml", text.encode(), "production", Settings())
    assert len(parsed.ingresses) == 2 and not [f for f in parsed.findings if f.severity.name == "ERROR"]
    assert parsed.routes == tuple(tuple(routes_of(item)) for item in parsed.ingresses)
    fresh = compile_routes(parsed.ingresses, Settings())
    reused = compile_routes(parsed.ingresses, Settings(), parsed.compiled())
    assert reused.version == fresh.version and reused.routes == fresh.routes
    assert any(r.effects is not None and r.effects.canary is not None for r in reused.routes)


def test_a_table_as_json_with_its_routes_kept_by_object_is_the_same_text() -> None:
    """``to_json`` with a ``WireMemo`` (the store's: tables of a burst share main's route
    objects) is the text without it, is read back as the same table, and keeps each route
    object's text once however many tables hold it; a route equal but not the same object is
    made anew, so a route is never written with another one's text."""
    effects = RouteEffects(basic_auth=BasicAuth("shop", "users"), rewrite_target="/x")
    shared = Route(
        "a.example.com", "/", "Prefix", ServiceRef("shop", "web", "80"), "shop/a", "a.yaml", 3, "prod", effects
    )
    memo = WireMemo()
    tables = [
        RouteTable(
            [shared, Route("", f"/b{n}", "Exact", ServiceRef("shop", f"b{n}", "http"), "shop/b", "b.yaml", n)],
            default_backend=shared,
            tls=[TLSEntry(("a.example.com",), "tls", "shop", "shop/a")],
            catch_alls=[("a.example.com", ServiceRef("shop", "c", "80"))],
        )
        for n in range(3)
    ]
    for table in tables:
        text = table.to_json(memo)
        assert text == table.to_json() == json.dumps(table.to_dict(), separators=(",", ":"), sort_keys=True)
        assert RouteTable.from_dict(json.loads(text)).version == table.version
    assert len(memo) == 1 + 3  # the shared route once, each table's own route
    twin = Route("a.example.com", "/", "Prefix", ServiceRef("shop", "web", "80"), "shop/a", "moved.yaml", 9, "prod")
    assert '"moved.yaml"' in RouteTable([twin]).to_json(memo)
