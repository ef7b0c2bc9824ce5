"""Path normalisation over real sockets: a request is routed and forwarded under the path a
normalising backend would read (dot-segments removed, ``//`` merged), and what cannot be
normalised safely is a 400 that never reaches an upstream (core/routing/paths.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitops_ingress.core.routing import paths
from gitops_ingress.core.routing.paths import UnsafePath, normalize_path
from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import connect, exchange, read_responses

H = b"Host: shop.example.com\r\n"


@pytest.fixture
def guarded(make_proxy, start_upstream):
    """/public -> public, /admin -> admin: the rule a traversal would slip past."""
    public, admin = start_upstream("echo"), start_upstream("echo")
    state = make_state([route("shop.example.com", "/public", "public"), route("shop.example.com", "/admin", "admin")])
    proxy = make_proxy(state, backends({"public": [public.url], "admin": [admin.url]}))
    return proxy, public, admin


def get(port: int, target: bytes):
    (response,) = exchange(port, b"GET " + target + b" HTTP/1.1\r\n" + H + b"\r\n")
    return response


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [
        (b"/public/../admin/x", "/admin/x"),
        (b"/public/%2e%2e/admin/x", "/admin/x"),
        (b"/public/%2E%2e/admin/x", "/admin/x"),
        (b"/public/.%2E/admin/x", "/admin/x"),
        (b"/public/./../admin/x", "/admin/x"),
        (b"/public//../admin/x", "/admin/x"),  # merged first: a backend merging slashes reads it so
        (b"/./../admin/x?q=/../public", "/admin/x?q=/../public"),  # the query is not touched
        (b"/%61dmin/x", "/admin/x"),
    ],
)
def test_dot_segments_are_removed_before_matching_and_in_what_is_forwarded(guarded, target, forwarded) -> None:
    proxy, public, admin = guarded
    response = get(proxy.port, target)
    assert response.status == 200
    record = json.loads(response.body)
    assert record["port"] == admin.port  # the /admin rule, not /public's
    assert record["path"] == forwarded
    assert not public.stats.requests


@pytest.mark.parametrize(
    "target",
    [b"/public/..%2fadmin/x", b"/public/..%2Fadmin", b"/public/%2e%2e%5cadmin", b"/public/a\\..\\..\\admin",
     b"/public/%00", b"/public/..;/admin"],
)  # fmt: skip
def test_what_cannot_be_normalised_safely_is_a_400_and_reaches_no_upstream(guarded, target) -> None:
    proxy, public, admin = guarded
    response = get(proxy.port, target)
    assert response.status == 400
    assert response.header("Connection") == "close"
    assert not public.stats.requests and not admin.stats.requests


def test_the_route_cache_never_answers_a_traversal_from_the_prefix_it_starts_with(guarded) -> None:
    proxy, public, admin = guarded
    with connect(proxy.port) as sock:  # one connection: the same server, the same cache
        for target, port in ((b"/public", public.port), (b"/public/../admin", admin.port), (b"/public", public.port)):
            for _ in range(2):  # the second time from the cache
                sock.sendall(b"GET " + target + b" HTTP/1.1\r\n" + H + b"\r\n")
                (response,) = read_responses(sock)
                assert json.loads(response.body)["port"] == port, target


def test_an_encoded_slash_inside_a_segment_is_data_and_forwarded_as_sent(guarded) -> None:
    proxy, public, _ = guarded
    record = json.loads(get(proxy.port, b"/public/group%2Fproject/a.b").body)
    assert record["port"] == public.port
    assert record["path"] == "/public/group%2Fproject/a.b"


def test_a_normal_path_is_returned_as_the_same_object() -> None:
    path = "/public/some/ordinary/path"
    assert normalize_path(path) is path
    with_file_names = "/static/app.min.js/v1.2"  # dots, but no dot-segment: the short way
    assert normalize_path(with_file_names) is with_file_names
    assert normalize_path("/a/..") == "/"
    assert normalize_path("/a/./") == "/a/"
    assert normalize_path("/../../a") == "/a"
    assert normalize_path("/a/.hidden/...") == "/a/.hidden/..."
    with pytest.raises(UnsafePath):
        normalize_path("/a/%2e%2e%2f")


def _outcome(normalise, path: str) -> str | type[UnsafePath]:
    try:
        return normalise(path)
    except UnsafePath:
        return UnsafePath


@given(
    st.lists(
        st.sampled_from(["/", ".", "..", "a", "b.c", "%2e", "%2F", "%41", ";x", "\\", "\x00", "//"]), max_size=8
    ).map("".join)
)
def test_the_short_way_gives_what_the_long_way_gives(path: str) -> None:
    """normalize_path's shortcut (no dot-segment, nothing to decode or merge) agrees with the
    full normalisation for every path made of the pieces that matter."""
    assert _outcome(normalize_path, path) == _outcome(paths._normalized, path)
