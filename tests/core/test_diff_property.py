"""The route diff never hides a change and never shows one that is not there (issue 13, point 8).

Over random pairs of route tables (exact, wildcard and host-less hosts; Prefix, Exact and
ImplementationSpecific paths with and without a trailing ``/``; ties between Ingresses; hosts
with rules but no paths; default backends; and, issue 16, routes with the annotations that change
the answer: redirects, app-root, HTTPS enforcement and its opt-out, rewrite-target with and
without regex captures, use-regex, upstream-vhost, canaries, the www twin, and TLS hosts) and
random requests over plain HTTP and TLS:

* every entry's example request gets, by ``answer`` (core/routing/answer.py) on each table, the
  answer the entry says before and after, reaches the backend it says, and the two answers differ;
* every request whose answer differs between the tables is covered by an entry: one whose example
  request is decided by the same part of each table (the same rule, catch-all, default or 404),
  so it changes the same way for the same reason.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_ingress.core.annotations.model import Canary, RouteEffects
from gitops_ingress.core.diff import SCHEMES, ChangeKind, ExampleRequest, RouteChange, diff_tables
from gitops_ingress.core.routing import Route, RouteTable, ServiceRef, TLSEntry
from gitops_ingress.core.routing.answer import Answer, answer, table_tls
from gitops_ingress.core.routing.probes import outcome

RULE_HOSTS = ("shop.test", "a.shop.test", "*.shop.test", "*.test", "")
REQUEST_HOSTS = (*[h for h in RULE_HOSTS if h and not h.startswith("*")], "x.shop.test", "y.a.shop.test")
REQUEST_HOSTS += ("any.shop.test", "other.example", "test", "10.0.0.1", "any-host.example", "z.test")
REQUEST_HOSTS += ("www.shop.test",)
SEGMENTS = ("api", "v1", "any", "a", "API", "apix")
REGEX_PATHS = ("/api(/|$)(.*)", "/v[0-9]+/.*", "/a.*", "/(api|v1)/([a-z]+)")

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
canaries = st.builds(
    lambda backend, weight, header: Canary(backend, "shop/canary", header=header, weight=weight),
    backends,
    st.sampled_from((0, 10, 50, 100)),
    st.sampled_from(("", "x-canary")),
)
# each a few values, so that two random tables often share some and differ in others
annotation_values = st.fixed_dictionaries(
    {},
    optional={
        "redirect_url": st.sampled_from(("https://moved.test/", "https://elsewhere.test/x")),
        "redirect_code": st.sampled_from((301, 302, 308)),
        "app_root": st.sampled_from(("/app", "/shop")),
        "force_ssl_redirect": st.just(True),
        "ssl_redirect": st.just(False),
        "rewrite_target": st.sampled_from(("/", "/$1", "/$2", "/v2/$2")),
        "regex": st.just(True),
        "upstream_vhost": st.sampled_from(("inner.local", "other.local")),
        "x_forwarded_prefix": st.sampled_from(("/shop", "/store")),
        "canary": canaries,
        "www_redirect": st.just("shop.test"),
    },
)


def _effects(values: dict[str, object], path: str) -> RouteEffects | None:
    if not values:
        return None
    if values.get("redirect_url") and not values.get("redirect_code"):
        values = {**values, "redirect_code": 301}
    if values.get("rewrite_target"):
        values = {**values, "regex": True}  # as the registry compiles it (core/annotations)
    return RouteEffects(**values).with_rewrite_path(path)  # type: ignore[arg-type]


routes = st.builds(
    lambda host, path, kind, backend, ingress, values: Route(
        host, path, kind, backend, ingress, f"{ingress}.yaml", 1, effects=_effects(values, path)
    ),
    st.sampled_from(RULE_HOSTS),
    st.one_of(rule_paths, st.sampled_from(REGEX_PATHS)),
    st.sampled_from(("Prefix", "Exact", "ImplementationSpecific")),
    backends,
    st.sampled_from(("shop/a", "shop/b")),
    st.one_of(st.just({}), st.just({}), annotation_values),
)
tls_entries = st.lists(
    st.builds(lambda host: TLSEntry((host,), "tls", "shop", "shop/a"), st.sampled_from([h for h in RULE_HOSTS if h])),
    max_size=2,
)
defaults = st.one_of(
    st.none(), st.builds(lambda b: Route("", "", "Default", b, "shop/default", "default.yaml", 1), backends)
)
catch_alls = st.lists(
    st.tuples(st.sampled_from([h for h in RULE_HOSTS if h]), st.one_of(st.none(), backends)), max_size=2
)
tables = st.builds(
    lambda rs, default, catch, tls: RouteTable(rs, default, tls, catch),
    st.lists(routes, max_size=6),
    defaults,
    catch_alls,
    tls_entries,
)


def related(base: RouteTable) -> st.SearchStrategy[RouteTable]:
    """A head that is the base with a few edits: most real diffs change little."""

    def edit(
        keep: list[bool],
        extra: list[Route],
        default: Route | None,
        catch: list[tuple[str, object]],
        tls: list[TLSEntry],
        annotate: list[dict[str, object] | None],
    ) -> RouteTable:
        kept = [
            route if values is None else dataclasses.replace(route, effects=_effects(values, route.path))
            for route, stay, values in zip(base.routes, keep, annotate, strict=False)
            if stay
        ]  # the same rules, some with other annotations: the usual annotation change
        return RouteTable(kept + extra, default, tls, [*base.catch_alls(), *catch])  # type: ignore[list-item]

    size = len(base.routes)
    return st.builds(
        edit,
        st.lists(st.booleans(), min_size=size, max_size=size),
        st.lists(routes, max_size=2),
        st.one_of(st.just(base.default_backend), defaults),
        catch_alls,
        st.one_of(st.just(list(base.tls)), tls_entries),
        st.lists(st.one_of(st.none(), st.none(), annotation_values), min_size=size, max_size=size),
    )


pairs = st.one_of(st.tuples(tables, tables), tables.flatmap(lambda base: st.tuples(st.just(base), related(base))))
requests = st.lists(st.tuples(st.sampled_from(REQUEST_HOSTS), request_paths), min_size=1, max_size=25)


def _target(table: RouteTable, host: str, path: str) -> str | None:
    backend = table.match(host, path).backend
    return None if backend is None else str(backend)


def _answer(table: RouteTable, host: str, path: str, scheme: str) -> Answer:
    return answer(table, host, path, table_tls(table), scheme)


def _decided(base: RouteTable, head: RouteTable, host: str, path: str) -> tuple[object, object]:
    return outcome(base, host, path).decided_by, outcome(head, host, path).decided_by


def _check(base: RouteTable, head: RouteTable, asked: list[tuple[str, str]]) -> list[RouteChange]:
    changes = diff_tables(base, head, "production")
    _holds(base, head, changes, asked)
    return changes


def _holds(base: RouteTable, head: RouteTable, changes: list[RouteChange], asked: list[tuple[str, str]]) -> None:
    covered = set()
    for change in changes:
        if change.kind is ChangeKind.TLS:  # about certificates; the requests it changes have entries of their own
            assert change.request is None, change
            continue
        assert change.request is not None, change
        host, path, scheme = change.request.host, change.request.path, change.request.scheme
        assert (_target(base, host, path), _target(head, host, path)) == (change.before, change.after), change
        was, now = _answer(base, host, path, scheme), _answer(head, host, path, scheme)
        assert (was, now) == (change.before_answer, change.after_answer), change
        assert was != now, change
        covered.add(_decided(base, head, host, path))
    for host, path in asked:
        for scheme in SCHEMES:
            if _answer(base, host, path, scheme) != _answer(head, host, path, scheme):
                assert _decided(base, head, host, path) in covered, (host, path, scheme, [c.message for c in changes])


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


def test_the_property_would_catch_a_diff_that_hides_an_answer_change() -> None:
    """The same backend, a redirect added: an entry of its own, and a diff without it fails."""
    web = ServiceRef("shop", "web", "80")
    base = RouteTable([Route("shop.test", "/", "Prefix", web, "shop/a")])
    moved = RouteEffects(redirect_url="https://moved.test/", redirect_code=301)
    head = RouteTable([Route("shop.test", "/", "Prefix", web, "shop/a", effects=moved)])
    [change] = _check(base, head, [("shop.test", "/any")])
    assert change.kind is ChangeKind.ANNOTATION
    assert change.message == "GET shop.test/ now redirects 301 to https://moved.test/ (was: shop/web:80)"
    with pytest.raises(AssertionError):
        _holds(base, head, [], [("shop.test", "/any")])
