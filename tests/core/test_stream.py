"""The stream's encoder and applier (core/stream.py): a delta moves a receiver from its base
revision to the sender's state, carries only the branches that changed, and a gap is refused."""

from __future__ import annotations

import pytest

from gitops_ingress.core.errors import SourceError, StreamGapError
from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.routing import EMPTY_TABLE, Route, RouteTable, RoutingState, ServiceRef
from gitops_ingress.core.routing.table import WireMemo
from gitops_ingress.core.stream import (
    DELTA,
    DecodeMemo,
    Followed,
    apply,
    changed,
    decode_line,
    delta_line,
    state_line,
)

DOMAIN = "preview.localhost"


def table(service: str, host: str = "shop.example.com", files: int = 1) -> RouteTable:
    return RouteTable(
        [
            Route(host, f"/p{n}", "Prefix", ServiceRef("shop", service, "80"), f"shop/web-{n}", "a.yaml", 1, "prod")
            for n in range(files)
        ]
    )


def grown(branches: int) -> RoutingState:
    state = RoutingState(preview_domain=DOMAIN).with_branch("main", table("web"), "main")
    for n in range(branches):
        state = state.with_branch(f"feature/{n}", table(f"svc-{n}", files=20), "main")
    return state


def received(state: RoutingState) -> Followed:
    followed = apply(None, decode_line(state_line(state, {})))
    assert followed is not None
    return followed


def same_routing(a: RoutingState, b: RoutingState) -> None:
    assert a.version == b.version
    assert a.stable.version == b.stable.version
    assert {k: t.version for k, t in a.previews.items()} == {k: t.version for k, t in b.previews.items()}
    assert a.preview_hosts("feature/1") == b.preview_hosts("feature/1")


def test_a_delta_carries_one_branch_and_brings_the_receiver_to_the_sender_state() -> None:
    base = grown(50)
    new = base.with_branch("feature/7", table("changed", files=20), "main")
    line = delta_line(base, new, changed(base, new))
    whole = state_line(new, {})
    assert len(line) * 20 < len(whole)  # one branch of fifty, not the whole state
    message = decode_line(line)
    assert message.kind == DELTA and (message.base, message.revision) == (base.version, new.version)
    after = apply(received(base), message)
    assert after is not None
    same_routing(after.state, new)
    host = preview_host("feature/7", "shop.example.com", DOMAIN)
    assert after.state.resolve(host, "/p3").match.backend == ServiceRef("shop", "changed", "80")


def test_a_delta_written_from_kept_route_texts_decodes_to_the_same_changes() -> None:
    """The stream's delta with its ``WireMemo`` (tables of a burst share main's route objects)
    brings a receiver where the plain encoding does, for several changes, a removal and the
    stable table, with the memo warm from an earlier delta."""
    memo = WireMemo()
    base = grown(5)
    first = base.with_branch("feature/2", table("two", files=3), "main")
    delta_line(base, first, changed(base, first), memo)
    new = first.with_branch("feature/1", None, "main").with_branch("feature/9", table("nine"), "main")
    new = new.with_branch("main", table("stable-v2"), "main")
    changes = changed(base, new)
    kept = decode_line(delta_line(base, new, changes, memo))
    plain = decode_line(delta_line(base, new, changes))
    assert (kept.base, kept.revision) == (plain.base, plain.revision)
    assert kept.changes.stable is not None and plain.changes.stable is not None
    assert kept.changes.stable.version == plain.changes.stable.version
    assert {b: None if t is None else t.version for b, t in kept.changes.previews.items()} == {
        b: None if t is None else t.version for b, t in plain.changes.previews.items()
    }
    after = apply(received(base), kept)
    assert after is not None
    same_routing(after.state, new)


def test_several_changes_removals_and_the_stable_table_in_one_delta() -> None:
    base = grown(5)
    new = base.with_branch("feature/1", None, "main")
    new = new.with_branch("feature/9", table("nine"), "main")
    new = new.with_branch("main", None, "main")  # the stable branch gone: an empty stable table
    changes = changed(base, new)
    assert changes.stable is EMPTY_TABLE and set(changes.previews) == {"feature/1", "feature/9"}
    after = apply(received(base), decode_line(delta_line(base, new, changes)))
    assert after is not None
    same_routing(after.state, new)
    assert "feature/1" not in after.state.previews
    assert after.state.resolve("shop.example.com", "/p0").match.backend is None


def test_a_delta_that_does_not_follow_the_held_revision_is_a_gap() -> None:
    base = grown(3)
    one = base.with_branch("feature/0", table("a"), "main")
    two = one.with_branch("feature/1", table("b"), "main")
    skipped = decode_line(delta_line(one, two, changed(one, two)))
    with pytest.raises(StreamGapError, match=f"from revision {one.version} .* holds revision {base.version}"):
        apply(received(base), skipped)
    with pytest.raises(StreamGapError, match="before any state"):
        apply(None, skipped)


def test_a_state_line_replaces_what_is_held_and_keeps_its_backends() -> None:
    state = grown(2)
    followed = apply(None, decode_line(state_line(state, {"web:80": ["http://127.0.0.1:9001"]})))
    assert followed is not None and followed.state.version == state.version
    assert [str(e) for e in followed.backends.endpoints(ServiceRef("shop", "web", "80"))] == ["http://127.0.0.1:9001"]
    assert apply(followed, decode_line(b'{"type":"ping"}')) is followed


def test_equal_rebuilt_tables_are_not_changes() -> None:
    base = grown(3)
    rebuilt = base.with_changes(None, {"feature/0": table("svc-0", files=20)}, base.version + 1)
    assert len(changed(base, rebuilt)) == 0


def test_a_malformed_delta_is_a_source_error_not_a_gap() -> None:
    with pytest.raises(SourceError, match="malformed delta") as caught:
        decode_line(b'{"type":"delta","base":1,"revision":2}')
    assert not isinstance(caught.value, StreamGapError)


def _burst_tables() -> tuple[RouteTable, RouteTable]:
    """main of two files (two hosts), and a branch of main's routes for one host and its own for the other."""
    web = Route("a.example.com", "/", "Prefix", ServiceRef("shop", "web", "80"), "shop/a", "a.yaml", 1, "prod")
    api = Route("b.example.com", "/api", "Prefix", ServiceRef("shop", "api", "80"), "shop/b", "b.yaml", 1, "prod")
    mine = Route("b.example.com", "/api", "Prefix", ServiceRef("shop", "api-v2", "80"), "shop/b", "b.yaml", 1, "prod")
    return RouteTable([web, api]), RouteTable([web, mine])


def test_a_receiver_with_a_decode_memo_gets_the_routes_it_met_as_the_same_objects() -> None:
    main, branch = _burst_tables()
    base = RoutingState(preview_domain=DOMAIN).with_branch("main", main, "main").with_branch("feature/1", main, "main")
    new = base.with_branch("feature/2", branch, "main")
    memo = DecodeMemo()
    followed = apply(None, decode_line(state_line(base, {}), memo))
    assert followed is not None
    after = apply(followed, decode_line(delta_line(base, new, changed(base, new)), memo))
    alone = apply(received(base), decode_line(delta_line(base, new, changed(base, new))))
    assert after is not None and alone is not None
    same_routing(after.state, alone.state)
    stable, mine = after.state.stable, after.state.previews["feature/2"]
    assert mine.routes[0] is stable.routes[0]  # main's route, met in the whole state: that very object
    assert mine.host_group("a.example.com")[1] is stable.host_group("a.example.com")[1]  # and its group
    assert mine.host_group("b.example.com")[1] is not stable.host_group("b.example.com")[1]
    assert mine.match("b.example.com", "/api").backend == ServiceRef("shop", "api-v2", "80")
    plain = alone.state.previews["feature/2"]
    assert plain.routes[0] is not alone.state.stable.routes[0]  # without a memo: decoded anew


def test_a_full_decode_memo_starts_again_and_still_decodes() -> None:
    main, branch = _burst_tables()
    state = (
        RoutingState(preview_domain=DOMAIN).with_branch("main", main, "main").with_branch("feature/2", branch, "main")
    )
    followed = apply(None, decode_line(state_line(state, {}), DecodeMemo(capacity=1)))
    assert followed is not None
    same_routing(followed.state, received(state).state)
