"""Host groups shared between route tables (core/routing/groups.py): a table built with a
``GroupMemo`` takes the group another table built from the very same routes and backends, and
routes exactly as a table built without one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_ingress.core.annotations.model import RouteEffects
from gitops_ingress.core.routing import Route, RouteTable, ServiceRef
from gitops_ingress.core.routing.groups import GroupMemo


def svc(name: str) -> ServiceRef:
    return ServiceRef("ns", name, "80")


def route(host: str, path: str, backend: str, path_type: str = "Prefix", ingress: str = "ns/ing") -> Route:
    return Route(host, path, path_type, svc(backend), ingress, "f.yaml", 1)


MAIN = [route("a.example.com", "/", "a"), route("a.example.com", "/api", "a-api"), route("b.example.com", "/", "b")]


def group_of(table: RouteTable, host: str) -> object:
    return table.host_group(host)[1]


def test_tables_of_the_same_route_objects_share_their_groups() -> None:
    memo = GroupMemo()
    main = RouteTable(MAIN, groups=memo)
    changed = route("b.example.com", "/", "b2")  # a branch that changed b's file only
    branch = RouteTable([MAIN[0], MAIN[1], changed], groups=memo)
    assert group_of(branch, "a.example.com") is group_of(main, "a.example.com")
    assert group_of(branch, "b.example.com") is not group_of(main, "b.example.com")
    assert branch.match("b.example.com", "/x").backend == svc("b2")
    assert main.match("b.example.com", "/x").backend == svc("b")
    assert len(memo) == 3


def test_equal_routes_that_are_other_objects_build_their_own_group() -> None:
    memo = GroupMemo()
    main = RouteTable(MAIN, groups=memo)
    again = RouteTable([route("a.example.com", "/", "a"), route("a.example.com", "/api", "a-api")], groups=memo)
    assert group_of(again, "a.example.com") is not group_of(main, "a.example.com")
    assert again.match("a.example.com", "/api/v1").backend == svc("a-api")


def test_a_group_is_shared_only_under_the_same_default_backend_and_catch_all() -> None:
    memo = GroupMemo()
    routes = [route("c.example.com", "/only", "c"), route("d.example.com", "/only", "d")]
    plain = RouteTable(routes, groups=memo)
    with_default = RouteTable(routes, route("", "/", "fallback"), groups=memo)
    with_catch_all = RouteTable(routes, catch_alls=[("c.example.com", svc("catch"))], groups=memo)
    assert group_of(with_default, "c.example.com") is not group_of(plain, "c.example.com")
    assert group_of(with_catch_all, "c.example.com") is not group_of(plain, "c.example.com")
    assert group_of(with_catch_all, "d.example.com") is group_of(plain, "d.example.com")
    assert plain.match("c.example.com", "/none").backend is None
    assert with_default.match("c.example.com", "/none").backend == svc("fallback")
    assert with_catch_all.match("c.example.com", "/none").backend == svc("catch")
    assert with_catch_all.match("d.example.com", "/none").backend is None


def test_a_group_with_regex_paths_is_shared_with_them() -> None:
    memo = GroupMemo()
    regex = Route(
        "r.example.com", "/v[0-9]+/x", "Prefix", svc("r"), "ns/r", "f.yaml", 1, effects=RouteEffects(regex=True)
    )
    first = RouteTable([regex], groups=memo)
    second = RouteTable([regex, MAIN[2]], groups=memo)
    assert group_of(second, "r.example.com") is group_of(first, "r.example.com")
    assert second.match("r.example.com", "/v12/x").backend == svc("r")
    assert second.match("r.example.com", "/vx/x").backend is None


def test_a_full_memo_starts_again() -> None:
    memo = GroupMemo(capacity=2)
    RouteTable(MAIN, groups=memo)  # two groups: full
    table = RouteTable([route("c.example.com", "/", "c")], groups=memo)
    assert len(memo) == 1
    assert table.match("c.example.com", "/").backend == svc("c")
    for n in range(12):  # past the routes' lines it keeps (4 per group): versions as without it
        routes = [route("d.example.com", f"/{n}", "d"), *MAIN]
        assert RouteTable(routes, groups=memo).version == RouteTable(routes).version


HOSTS = st.sampled_from(["a.example.com", "b.example.com", "*.example.com", ""])
PATHS = st.sampled_from(["/", "/api", "/api/", "/api/v1", "/x"])
ROUTES = st.builds(route, HOSTS, PATHS, st.sampled_from(["s1", "s2", "s3"]), st.sampled_from(["Prefix", "Exact"]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(ROUTES, min_size=1, max_size=8),
    st.lists(st.integers(0, 7), max_size=8),
    st.lists(st.tuples(HOSTS, PATHS), min_size=1, max_size=10),
)
def test_a_table_routes_alike_with_and_without_a_memo(
    routes: list[Route], picks: list[int], requests: list[tuple[str, str]]
) -> None:
    memo = GroupMemo()
    RouteTable(routes, groups=memo)  # the groups another table of these route objects built
    subset = [routes[i % len(routes)] for i in picks] or routes
    shared, alone = RouteTable(subset, groups=memo), RouteTable(subset)
    assert shared.version == alone.version
    for host, path in requests:
        concrete = host.replace("*", "w") or "other.example.com"
        assert shared.match(concrete, path) == alone.match(concrete, path)
