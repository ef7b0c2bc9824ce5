"""``affinity: cookie`` through the real proxy and two real upstreams of one Service, after
ingress-nginx's e2e affinity.go: the cookie set on the first answer (its name, Path, Expires,
Max-Age, Secure, SameSite, HttpOnly), every later request with it reaching the same endpoint,
and Ingresses of the same host without affinity setting no cookie."""

from __future__ import annotations

import time

from gitops_ingress.core.annotations import PREFIX
from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends
from tests.proxy.h2client import H2Client
from tests.proxy.test_annotations import get, state_of, upstream_saw
from tests.support.manifests import ingress

P = PREFIX
HOST = "sticky.foo.com"


def sticky_proxy(make_proxy, start_upstream, *objects: dict, **settings):
    """A proxy over ``objects`` whose Service "web" has two echo endpoints: (port, [upstream ports])."""
    upstreams = [start_upstream("echo"), start_upstream("echo")]
    proxy = make_proxy(state_of(*objects), backends({"web": [u.url for u in upstreams]}), ProxySettings(**settings))
    return proxy.port, [u.port for u in upstreams]


def sticky(name: str = "sticky", path: str = "/", **annotations: str) -> dict:
    values = {P + "affinity": "cookie", **{P + key.replace("_", "-"): value for key, value in annotations.items()}}
    return ingress(name, host=HOST, path=path, annotations=values)


def cookie_of(response) -> tuple[str, str]:
    line = response.header("set-cookie")
    assert line is not None, "no Set-Cookie"
    pair = line.split(";", 1)[0]
    name, _, value = pair.partition("=")
    return name, value


def test_the_first_answer_sets_the_cookie_and_the_cookie_keeps_the_endpoint(make_proxy, start_upstream) -> None:
    """e2e "should set sticky cookie SERVERID", then what the cookie is for."""
    port, ports = sticky_proxy(make_proxy, start_upstream, sticky(session_cookie_name="SERVERID"))
    first = get(port, HOST, "/")
    name, value = cookie_of(first)
    assert name == "SERVERID" and value
    assert first.header("set-cookie").endswith("; Path=/; HttpOnly")
    kept = upstream_saw(first)["port"]
    again = [get(port, HOST, "/", f"Cookie: other=1; SERVERID={value}\r\n".encode()) for _ in range(6)]
    assert {upstream_saw(response)["port"] for response in again} == {kept}
    assert all(response.header("set-cookie") is None for response in again)  # a valid cookie is not set again
    fresh = {upstream_saw(get(port, HOST, "/"))["port"] for _ in range(4)}  # without it: balanced as usual
    assert fresh == set(ports)


def test_a_cookie_naming_no_endpoint_gets_a_new_one(make_proxy, start_upstream) -> None:
    port, ports = sticky_proxy(make_proxy, start_upstream, sticky())
    response = get(port, HOST, "/", b"Cookie: INGRESSCOOKIE=gone\r\n")
    name, value = cookie_of(response)
    assert name == "INGRESSCOOKIE" and value != "gone" and upstream_saw(response)["port"] in ports


def test_the_cookie_path_is_the_route_path_or_session_cookie_path(make_proxy, start_upstream) -> None:
    """e2e "should set the path to /something", "more than one rule", "use-regex and session-cookie-path"."""
    two_paths = ingress(
        "two", host=HOST, paths=("/something", "/somewhereelse"), annotations={P + "affinity": "cookie"}
    )
    regex = ingress(
        "regex",
        host="useregex.foo.com",
        path="/foo/.*",
        path_type="ImplementationSpecific",
        annotations={P + "affinity": "cookie", P + "use-regex": "true", P + "session-cookie-path": "/foo/bar"},
    )
    port, _ = sticky_proxy(make_proxy, start_upstream, two_paths, regex)
    assert "; Path=/something;" in get(port, HOST, "/something").header("set-cookie")
    assert "; Path=/somewhereelse;" in get(port, HOST, "/somewhereelse").header("set-cookie")
    assert "; Path=/foo/bar;" in get(port, "useregex.foo.com", "/foo/bar").header("set-cookie")


def test_expires_max_age_samesite_and_secure(make_proxy, start_upstream) -> None:
    """e2e "should set cookie with expires" and the session-cookie-secure cases on plain HTTP."""
    obj = sticky(
        session_cookie_name="ExpiresCookie",
        session_cookie_expires="172800",
        session_cookie_max_age="259200",
        session_cookie_samesite="Strict",
        session_cookie_secure="true",
    )
    port, _ = sticky_proxy(make_proxy, start_upstream, obj)
    before = time.time()
    line = get(port, HOST, "/").header("set-cookie")
    expected = {time.strftime("%a, %d-%b-%y %H:%M", time.gmtime(at + 172800)) for at in (before, time.time())}
    assert any(f"; Expires={stamp}" in line for stamp in expected), line
    assert "; Max-Age=259200" in line and "; Secure" in line and "; HttpOnly" in line and "; SameSite=Strict" in line
    port, _ = sticky_proxy(make_proxy, start_upstream, sticky("plain", session_cookie_secure="false"))
    assert "Secure" not in get(port, HOST, "/").header("set-cookie")


def test_only_the_route_with_affinity_sets_the_cookie(make_proxy, start_upstream) -> None:
    """e2e "should not set affinity across all server locations when using separate ingresses"."""
    plain = ingress("ingress2", host=HOST, path="/foo")
    port, _ = sticky_proxy(make_proxy, start_upstream, sticky("ingress1", path="/foo/bar"), plain)
    assert get(port, HOST, "/foo").header("set-cookie") is None
    assert "Path=/foo/bar" in get(port, HOST, "/foo/bar").header("set-cookie")


def test_http2_clients_get_the_cookie_as_a_field(make_proxy, start_upstream) -> None:
    port, _ = sticky_proxy(make_proxy, start_upstream, sticky(session_cookie_name="SERVERID"), h2c=True)
    client = H2Client(port).start()
    try:
        answer = client.answer(client.request("/", host=HOST))
    finally:
        client.close()
    assert answer.status == 200 and answer.header(b"set-cookie").startswith(b"SERVERID=")
