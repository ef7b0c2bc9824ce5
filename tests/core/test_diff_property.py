"""The route diff never hides a change and never shows one that is not there (issue 13, point 8).

Over random pairs of route tables (exact, wildcard and host-less hosts; Prefix, Exact and
ImplementationSpecific paths with and without a trailing ``/``; ties between Ingresses; hosts
with rules but no paths; default backends) and random requests:

* every entry's example request reaches, by ``RouteTable.match`` on each table, the backend the
  entry says before and after, and the two differ;
* every request whose backend differs between the tables is covered by an entry: one whose example
  request is decided by the same part of each table (the same rule, catch-all, default or 404),
  so it moves the same way for the same reason.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_ingress.core.diff import ChangeKind, ExampleRequest, RouteChange, diff_tables
from gitops_ingress.core.routing import Route, RouteTable, ServiceRef
from gitops_ingress.core.routing.probes import outcome

RULE_HOSTS = ("shop.test", "a.shop.test", "*.shop.test", "*.test", "")
REQUEST_HOSTS = (*[h for h in RULE_HOSTS if h and not h.startswith("*")], "x.shop.test", "y.a.shop.test")
REQUEST_HOSTS += ("any.shop.test", "other.example", "test", "10.0.0.1", "any-host.example", "z.test")
SEGMENTS = ("api", "v1", "any", "a")

segment_lists = st.lists(st.sampled_from(SEGMENTS), max_size=3)
rule_paths = st.builds(
    lambda parts, slash: "/" + "/".join(parts) + ("/" if slash and parts else ""), segment_lists, st.booleans()
)
request_paths = st.builds(
    lambda parts, slash, double: ("//" if double else "/") + "/".join(parts) + ("/" if slash else ""),
    segment_lists,
    st.booleans(),
    st.booleans(),
)
backends = st.builds(
    ServiceRef, st.just("shop"), st.sampled_from(("api", "web", "storefront")), st.sampled_from(("80", "http"))
)
routes = st.builds(
    lambda host, path, kind, backend, ingress: Route(host, path, kind, backend, ingress, f"{ingress}.yaml", 1),
    st.sampled_from(RULE_HOSTS),
    rule_paths,
    st.sampled_from(("Prefix", "Exact", "ImplementationSpecific")),
    backends,
    st.sampled_from(("shop/a", "shop/b")),
)
defaults = st.one_of(
    st.none(), st.builds(lambda b: Route("", "", "Default", b, "shop/default", "default.yaml", 1), backends)
)
catch_alls = st.lists(
    st.tuples(st.sampled_from([h for h in RULE_HOSTS if h]), st.one_of(st.none(), backends)), max_size=2
)
tables = st.builds(
    lambda rs, default, catch: RouteTable(rs, default, (), catch),
    st.lists(routes, max_size=6),
    defaults,
    catch_alls,
)


def related(base: RouteTable) -> st.SearchStrategy[RouteTable]:
    """A head that is the base with a few edits: most real diffs change little."""

    def edit(
        keep: list[bool], extra: list[Route], default: Route | None, catch: list[tuple[str, object]]
    ) -> RouteTable:
        kept = [route for route, stay in zip(base.routes, keep, strict=False) if stay]
        return RouteTable(kept + extra, default, (), [*base.catch_alls(), *catch])  # type: ignore[list-item]

    return st.builds(
        edit,
        st.lists(st.booleans(), min_size=len(base.routes), max_size=len(base.routes)),
        st.lists(routes, max_size=2),
        st.one_of(st.just(base.default_backend), defaults),
        catch_alls,
    )


pairs = st.one_of(st.tuples(tables, tables), tables.flatmap(lambda base: st.tuples(st.just(base), related(base))))
requests = st.lists(st.tuples(st.sampled_from(REQUEST_HOSTS), request_paths), min_size=1, max_size=25)


def _target(table: RouteTable, host: str, path: str) -> str | None:
    backend = table.match(host, path).backend
    return None if backend is None else str(backend)


def _decided(base: RouteTable, head: RouteTable, host: str, path: str) -> tuple[object, object]:
    return outcome(base, host, path).decided_by, outcome(head, host, path).decided_by


def _check(base: RouteTable, head: RouteTable, asked: list[tuple[str, str]]) -> list[RouteChange]:
    changes = diff_tables(base, head, "production")
    _holds(base, head, changes, asked)
    return changes


def _holds(base: RouteTable, head: RouteTable, changes: list[RouteChange], asked: list[tuple[str, str]]) -> None:
    covered = set()
    for change in changes:
        assert change.kind is not ChangeKind.TLS and change.request is not None, change
        host, path = change.request.host, change.request.path
        assert (_target(base, host, path), _target(head, host, path)) == (change.before, change.after), change
        assert change.before != change.after, change
        covered.add(_decided(base, head, host, path))
    for host, path in asked:
        if _target(base, host, path) != _target(head, host, path):
            assert _decided(base, head, host, path) in covered, (host, path, [c.message for c in changes])


@settings(max_examples=250, deadline=None)
@given(pairs, requests)
def test_every_moved_request_is_covered_and_every_entry_has_a_witness(
    pair: tuple[RouteTable, RouteTable], asked: list[tuple[str, str]]
) -> None:
    base, head = pair
    _check(base, head, asked)
    _check(head, base, asked)  # and the way back


@settings(max_examples=100, deadline=None)
@given(tables, requests)
def test_a_table_against_itself_has_no_changes(table: RouteTable, asked: list[tuple[str, str]]) -> None:
    assert _check(table, table, asked) == []


def test_the_property_would_catch_a_diff_that_hides_a_change() -> None:
    """The check itself can fail: a Prefix -> Exact change moves ``/api/v1``, so a diff without the
    entry fails it, and so does an entry whose example does not move."""
    api, web = ServiceRef("shop", "api", "8080"), ServiceRef("shop", "storefront", "80")
    base = RouteTable(
        [Route("shop.test", "/api", "Prefix", api, "shop/a"), Route("shop.test", "/", "Prefix", web, "shop/a")]
    )
    head = RouteTable(
        [Route("shop.test", "/api", "Exact", api, "shop/a"), Route("shop.test", "/", "Prefix", web, "shop/a")]
    )
    [change] = _check(base, head, [("shop.test", "/api/v1"), ("shop.test", "/api")])
    with pytest.raises(AssertionError):
        _holds(base, head, [], [("shop.test", "/api/v1")])
    unmoved = dataclasses.replace(change, request=ExampleRequest("shop.test", "/api"))
    with pytest.raises(AssertionError):
        _holds(base, head, [unmoved], [])
