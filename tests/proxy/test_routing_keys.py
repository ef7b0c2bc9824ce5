"""Routing keys on the real host (docs/previews.md), over real sockets: a key by header, baggage or
cookie routes a stable host with the branch's table where the branch changes it, the link sets the
cookie, what upstreams see, signed mode, and every bad input the issue lists."""

from __future__ import annotations

import json
import time

import pytest

from gitops_ingress.core.previewkeys import PreviewKeyPolicy
from tests.proxy.conftest import backends, make_state, route
from tests.proxy.rawclient import exchange

SECRET = "s3cret-for-tests"


def seen(response) -> dict:
    record = json.loads(response.body)
    record["map"] = {name.lower(): value for name, value in record["headers"]}
    return record


def get(proxy, host: str = "shop.example.com", target: str = "/cart", headers: str = "") -> object:
    request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode()
    (response,) = exchange(proxy.port, request)
    return response


@pytest.fixture
def keyed(make_proxy, start_upstream):
    """Stable: shop -> web, api -> api, *.apps -> apps. Branch feature-x changes shop (web-v2) and
    the wildcard (apps-v2) and leaves api alone; branch quiet changes nothing stable."""
    names = ["web", "api", "apps", "web-v2", "apps-v2"]
    upstreams = {name: start_upstream("echo") for name in names}
    stable = [
        route("shop.example.com", "/", "web"),
        route("api.example.com", "/", "api"),
        route("*.apps.example.com", "/", "apps"),
    ]
    state = make_state(
        stable,
        previews={
            "feature-x": [
                route("shop.example.com", "/", "web-v2"),
                route("api.example.com", "/", "api"),
                route("*.apps.example.com", "/", "apps-v2"),
            ],
            "quiet": [*stable, route("docs.example.com", "/", "api")],  # only a new host
        },
    )
    mapping = backends({name: [u.url] for name, u in upstreams.items()})
    ports = {name: u.port for name, u in upstreams.items()}

    def make(policy: PreviewKeyPolicy | None = None):
        return make_proxy(state, mapping, preview_keys=policy)

    return make, ports


@pytest.mark.parametrize(
    "headers",
    [
        "X-Preview-Branch: feature-x\r\n",
        "baggage: userId=alice, gitops-ingress-preview=feature-x;ttl=1\r\n",
        "Cookie: theme=dark; gitops-ingress-preview=feature-x\r\n",
    ],
    ids=["header", "baggage", "cookie"],
)
def test_a_key_routes_a_changed_host_with_the_branch_and_keeps_the_stable_host(keyed, headers) -> None:
    make, ports = keyed
    proxy = make()
    record = seen(get(proxy, headers=headers))
    assert record["port"] == ports["web-v2"]
    assert record["map"]["host"] == "shop.example.com"
    assert record["map"]["x-preview-branch"] == "feature-x"
    assert "gitops-ingress-preview=feature-x" in record["map"]["baggage"].split(",")
    assert proxy.loop.call(proxy.observer.counted).get(("preview", "feature-x", "shop.example.com", "h1", "2xx")) == 1


def test_a_host_the_branch_leaves_alone_is_stable_but_carries_the_branch(keyed) -> None:
    make, ports = keyed
    proxy = make()
    record = seen(get(proxy, "api.example.com", headers="Cookie: gitops-ingress-preview=feature-x\r\n"))
    assert record["port"] == ports["api"]
    assert record["map"]["baggage"] == "gitops-ingress-preview=feature-x"
    quiet = seen(get(proxy, "api.example.com", headers="X-Preview-Branch: quiet\r\n"))
    assert (quiet["port"], quiet["map"]["x-preview-branch"]) == (ports["api"], "quiet")
    assert proxy.observer.ignored_keys == []


def test_a_wildcard_host_is_overlaid(keyed) -> None:
    make, ports = keyed
    proxy = make()
    assert seen(get(proxy, "a.apps.example.com", headers="X-Preview-Branch: feature-x\r\n"))["port"] == ports["apps-v2"]
    assert seen(get(proxy, "a.apps.example.com"))["port"] == ports["apps"]


def test_without_a_key_nothing_changes_and_the_clients_preview_header_is_dropped(keyed) -> None:
    make, ports = keyed
    proxy = make()
    record = seen(get(proxy, headers="baggage: a=1\r\nCookie: x=y\r\n"))
    assert record["port"] == ports["web"]
    assert (record["map"]["baggage"], record["map"]["cookie"]) == ("a=1", "x=y")
    assert "x-preview-branch" not in record["map"]
    # an unknown key: stable, not forwarded, counted
    record = seen(get(proxy, headers="X-Preview-Branch: nobranch\r\n"))
    assert record["port"] == ports["web"]
    assert "x-preview-branch" not in record["map"]
    assert proxy.observer.ignored_keys == ["unknown-branch"]


def test_the_header_wins_over_baggage_and_cookie(keyed) -> None:
    make, ports = keyed
    proxy = make()
    record = seen(
        get(
            proxy,
            headers="X-Preview-Branch: quiet\r\nbaggage: gitops-ingress-preview=feature-x\r\n"
            "Cookie: gitops-ingress-preview=feature-x\r\n",
        )
    )
    assert record["port"] == ports["web"]  # quiet changes nothing on shop
    assert record["map"]["baggage"] == "gitops-ingress-preview=quiet"
    # an ignored header does not fall through to the cookie either
    record = seen(get(proxy, headers="X-Preview-Branch: Bad.Key\r\nCookie: gitops-ingress-preview=feature-x\r\n"))
    assert record["port"] == ports["web"]
    assert proxy.observer.ignored_keys == ["malformed"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Feature_X", "malformed"),
        ("feature.x", "malformed"),
        ("feature%2Dx", "malformed"),
        ("-feature-x", "malformed"),
        ("a" * 10_000, "malformed"),
        ("refused-branch", "unknown-branch"),  # a refused head has no routes, so no table here
    ],
)
def test_bad_keys_are_ignored_and_counted(keyed, value, reason) -> None:
    make, ports = keyed
    proxy = make()
    for headers in (f"X-Preview-Branch: {value}\r\n", f"Cookie: gitops-ingress-preview={value}\r\n"):
        response = get(proxy, headers=headers)
        assert response.status == 200
        assert seen(response)["port"] == ports["web"]
    assert proxy.observer.ignored_keys == [reason, reason]


def test_on_a_preview_host_the_host_decides_and_baggage_is_merged(keyed) -> None:
    make, ports = keyed
    proxy = make()
    headers = "X-Preview-Branch: quiet\r\nbaggage: a=1, gitops-ingress-preview=old, b=2;p\r\n"
    record = seen(get(proxy, "feature-x--shop-example-com.preview.localhost", headers=headers))
    assert record["port"] == ports["web-v2"]
    assert record["map"]["x-preview-branch"] == "feature-x"
    assert record["map"]["baggage"] == "a=1,b=2;p,gitops-ingress-preview=feature-x"
    assert proxy.observer.ignored_keys == ["preview-host"]


@pytest.mark.parametrize(
    "baggage",
    [
        "a=" + "x" * 8998,  # 9,000 bytes: over the 8,192 limit
        ",".join(f"m{i}=1" for i in range(200)),  # 200 members: over 180
        "no-equals-sign, =novalue",  # malformed
    ],
    ids=["9000-bytes", "200-members", "malformed"],
)
def test_baggage_over_the_limits_is_read_for_nothing(keyed, baggage) -> None:
    make, ports = keyed
    proxy = make()
    bad = baggage if "gitops" in baggage else baggage + ",gitops-ingress-preview=feature-x"
    stable = seen(get(proxy, headers=f"baggage: {bad}\r\n"))
    assert stable["port"] == ports["web"]  # no key read from it
    assert stable["map"]["baggage"] == bad  # and forwarded exactly as it came
    keyed_record = seen(get(proxy, headers=f"baggage: {bad}\r\nCookie: gitops-ingress-preview=feature-x\r\n"))
    assert keyed_record["port"] == ports["web-v2"]
    assert keyed_record["map"]["baggage"] == "gitops-ingress-preview=feature-x"  # ours alone


def test_the_link_sets_the_cookie_and_redirects_without_the_parameter(keyed) -> None:
    make, _ = keyed
    proxy = make()
    response = get(proxy, target="/any/path?a=1&gitops-ingress-preview=feature-x&b=2")
    assert response.status == 302
    assert response.header("location") == "/any/path?a=1&b=2"
    cookie = response.header("set-cookie")
    assert cookie.startswith("gitops-ingress-preview=feature-x; ")
    attributes = {part.strip() for part in cookie.split(";")[1:]}
    assert {"Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={7 * 24 * 3600}"} <= attributes
    assert "Secure" not in attributes  # plain HTTP here; TLS listeners add it
    cleared = get(proxy, target="/p?gitops-ingress-preview=")
    assert (cleared.status, cleared.header("location")) == (302, "/p")
    assert cleared.header("set-cookie").startswith("gitops-ingress-preview=; Path=/; Max-Age=0")


def test_an_absolute_form_target_takes_the_link_in_its_query_only(keyed) -> None:
    """decide.py reads the link of an absolute-form target as RequestHead.linked reads an
    origin-form one (forwarding.links): in the query, not in the path."""
    make, ports = keyed
    proxy = make()
    response = get(proxy, target="http://shop.example.com/any?gitops-ingress-preview=feature-x")
    assert (response.status, response.header("location")) == (302, "/any")
    assert response.header("set-cookie").startswith("gitops-ingress-preview=feature-x; ")
    in_path = get(proxy, target="http://shop.example.com/gitops-ingress-preview=feature-x")
    assert in_path.status == 200 and seen(in_path)["port"] == ports["web"]


def test_a_link_with_a_bad_key_redirects_and_sets_nothing(keyed) -> None:
    make, _ = keyed
    proxy = make()
    response = get(proxy, target="/?gitops-ingress-preview=Not_A_Label")
    assert (response.status, response.header("location"), response.header("set-cookie")) == (302, "/", None)
    assert proxy.observer.ignored_keys == ["malformed"]


def test_protected_hosts_and_keys_off_take_no_key_and_no_link(keyed) -> None:
    make, ports = keyed
    proxy = make(PreviewKeyPolicy(protected_hosts=frozenset({"shop.example.com", "*.apps.example.com"})))
    assert seen(get(proxy, headers="X-Preview-Branch: feature-x\r\n"))["port"] == ports["web"]
    assert seen(get(proxy, "b.apps.example.com", headers="X-Preview-Branch: feature-x\r\n"))["port"] == ports["apps"]
    passed = seen(get(proxy, target="/?gitops-ingress-preview=feature-x"))
    assert passed["path"] == "/?gitops-ingress-preview=feature-x"  # the application's own query
    off = make(PreviewKeyPolicy(enabled=False))
    assert seen(get(off, headers="Cookie: gitops-ingress-preview=feature-x\r\n"))["port"] == ports["web"]


def test_signed_mode_takes_tokens_and_ignores_everything_else(keyed) -> None:
    make, ports = keyed
    policy = PreviewKeyPolicy(secret=SECRET, max_age=600)
    proxy = make(policy)
    token = policy.issue("feature-x", time.time())
    assert seen(get(proxy, headers=f"Cookie: gitops-ingress-preview={token}\r\n"))["port"] == ports["web-v2"]
    record = seen(get(proxy, headers=f"X-Preview-Branch: {token}\r\n"))
    assert record["map"]["x-preview-branch"] == "feature-x"  # the slug travels on, not the token
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    expired = PreviewKeyPolicy(secret=SECRET, max_age=1).issue("feature-x", time.time() - 10)
    other = PreviewKeyPolicy(secret="another", max_age=600).issue("feature-x", time.time())
    for value in ("feature-x", forged, expired, other):
        assert seen(get(proxy, headers=f"X-Preview-Branch: {value}\r\n"))["port"] == ports["web"]
    assert proxy.observer.ignored_keys == ["unsigned", "forged", "expired", "forged"]
    unsigned_link = get(proxy, target="/?gitops-ingress-preview=feature-x")
    assert (unsigned_link.status, unsigned_link.header("set-cookie")) == (302, None)
    signed_link = get(proxy, target=f"/?gitops-ingress-preview={token}")
    assert signed_link.header("set-cookie").startswith(f"gitops-ingress-preview={token};")
