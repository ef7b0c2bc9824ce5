"""ingress-nginx's routing and redirect annotations through the real proxy and real upstreams,
each modelled on its e2e scenario in ingress-nginx (test/e2e/annotations/): the request, the
headers, the status and which backend answers. The Ingresses are YAML compiled by the core, as
``proxy``, ``serve`` and the Kubernetes route source compile theirs."""

from __future__ import annotations

import json

import pytest

from gitops_ingress.core.annotations import PREFIX
from gitops_ingress.core.routing import RoutingState, compile_routes
from gitops_ingress.proxy.config import ProxySettings
from tests.core.test_validation_environment import SETTINGS, env
from tests.proxy.conftest import backends
from tests.proxy.h2client import H2Client
from tests.proxy.rawclient import exchange
from tests.support.manifests import ingress
from tests.support.upstreams import Blackhole

P = PREFIX


def state_of(*objects: dict) -> RoutingState:
    built = env({f"environments/prod/{index}.yaml": obj for index, obj in enumerate(objects)})
    assert built.ok, [f.one_line() for f in built.findings]
    return RoutingState(compile_routes(built.ingresses, SETTINGS), {}, "preview.localhost", 1)


def serve_ingresses(make_proxy, start_upstream, objects, services=("web",), **options):
    """A proxy over ``objects`` with one echo upstream per service: (proxy port, {service: port})."""
    upstreams = {name: start_upstream("echo") for name in services}
    proxy = make_proxy(state_of(*objects), backends({name: [u.url] for name, u in upstreams.items()}), **options)
    return proxy.port, {name: u.port for name, u in upstreams.items()}


@pytest.fixture
def serve(make_proxy, start_upstream):
    """``serve(*ingresses, services=..., **proxy options)`` -> (proxy port, {service: upstream port})."""
    return lambda *objects, **options: serve_ingresses(make_proxy, start_upstream, objects, **options)


def get(port: int, host: str, target: str, headers: bytes = b""):
    (response,) = exchange(port, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n".encode() + headers + b"\r\n")
    return response


def upstream_saw(response) -> dict:
    assert response.status == 200, response.body
    record = json.loads(response.body)
    record["map"] = {name.lower(): value for name, value in record["headers"]}
    return record


def test_rewrite_target_sends_the_target_for_any_case_of_the_path(serve) -> None:
    """e2e rewrite.go "should rewrite request URL": /something and /SomeThing reach the upstream as /."""
    port, _ = serve(ingress(host="rewrite.foo.com", path="/something", annotations={P + "rewrite-target": "/"}))
    assert upstream_saw(get(port, "rewrite.foo.com", "/something"))["path"] == "/"
    assert upstream_saw(get(port, "rewrite.foo.com", "/SomeThing?q=1"))["path"] == "/?q=1"


def test_rewrite_target_with_capture_groups(serve) -> None:
    """The rewrite example: path /something(/|$)(.*) with target /$2."""
    obj = ingress(
        host="rewrite.bar.com",
        path="/something(/|$)(.*)",
        path_type="ImplementationSpecific",
        annotations={P + "rewrite-target": "/$2"},
    )
    port, _ = serve(obj)
    assert upstream_saw(get(port, "rewrite.bar.com", "/something"))["path"] == "/"
    assert upstream_saw(get(port, "rewrite.bar.com", "/something/"))["path"] == "/"
    assert upstream_saw(get(port, "rewrite.bar.com", "/something/new?a=b"))["path"] == "/new?a=b"
    assert get(port, "rewrite.bar.com", "/other").status == 404


def test_a_remembered_rewrite_answers_only_its_own_host_path_and_table(make_proxy, start_upstream) -> None:
    """The route cache keeps each path's rewritten target (decide.py): the same path on two hosts
    with different targets, paths differing in case only, and the table swapped for one with a
    new target each get their own, however often a path repeats."""

    def api(host: str, target: str) -> dict:
        return ingress(host, host=host, path="/api(/|$)(.*)", path_type="ImplementationSpecific",
                       annotations={P + "rewrite-target": target})  # fmt: skip

    upstream = start_upstream("echo")
    upstreams = backends({"web": [upstream.url]})
    proxy = make_proxy(state_of(api("one.example.com", "/one/$2"), api("two.example.com", "/two/$2")), upstreams)
    for _ in range(3):  # the first round fills the cache, the next ones are answered from it
        assert upstream_saw(get(proxy.port, "one.example.com", "/api/x"))["path"] == "/one/x"
        assert upstream_saw(get(proxy.port, "two.example.com", "/api/x"))["path"] == "/two/x"
        assert upstream_saw(get(proxy.port, "one.example.com", "/api/y?q=1"))["path"] == "/one/y?q=1"
        assert upstream_saw(get(proxy.port, "one.example.com", "/API/x"))["path"] == "/one/x"
        assert upstream_saw(get(proxy.port, "one.example.com", "/api/X"))["path"] == "/one/X"
    swapped = state_of(api("one.example.com", "/three/$2?from=swap"), api("two.example.com", "/two/$2"))
    proxy.swap(swapped, upstreams)
    assert upstream_saw(get(proxy.port, "one.example.com", "/api/x?q=1"))["path"] == "/three/x?from=swap&q=1"
    assert upstream_saw(get(proxy.port, "two.example.com", "/api/x"))["path"] == "/two/x"


def test_rewrite_on_slash_keeps_the_longer_plain_path_unrewritten(serve) -> None:
    """e2e rewrite.go "should use correct longest path match"."""
    acme = ingress("kube-lego", host="rewrite.bar.com", service="acme", path="/.well-known/acme/challenge")
    index = ingress(
        "rewrite-index", host="rewrite.bar.com", path="/", annotations={P + "rewrite-target": "/new/backend"}
    )
    port, ports = serve(acme, index, services=("web", "acme"))
    record = upstream_saw(get(port, "rewrite.bar.com", "/.well-known/acme/challenge"))
    assert (record["port"], record["path"]) == (ports["acme"], "/.well-known/acme/challenge")
    record = upstream_saw(get(port, "rewrite.bar.com", "/anything"))
    assert (record["port"], record["path"]) == (ports["web"], "/new/backend")


def test_use_regex_matches_every_path_of_the_host_case_insensitively(serve) -> None:
    regex = ingress("re", host="regex.example.com", path="/v[0-9]+/users", path_type="ImplementationSpecific",
                    annotations={P + "use-regex": "true"})  # fmt: skip
    plain = ingress("plain", host="regex.example.com", service="plain", path="/Docs")
    port, ports = serve(regex, plain, services=("web", "plain"))
    assert upstream_saw(get(port, "regex.example.com", "/V12/users/7"))["path"] == "/V12/users/7"  # no rewrite
    assert upstream_saw(get(port, "regex.example.com", "/docsx"))["port"] == ports["plain"]
    assert get(port, "regex.example.com", "/x/v1/users").status == 404


def test_app_root_redirects_only_the_root(serve) -> None:
    """e2e approot.go: GET / -> 302 Location http://approot.bar.com/foo."""
    port, _ = serve(ingress(host="approot.bar.com", annotations={P + "app-root": "/foo"}))
    response = get(port, "approot.bar.com", "/")
    assert (response.status, response.header("location")) == (302, "http://approot.bar.com/foo")
    assert upstream_saw(get(port, "approot.bar.com", "/foo"))["path"] == "/foo"


@pytest.mark.parametrize(
    ("annotations", "status", "location"),
    [
        ({"permanent-redirect": "http://redirect.example.com"}, 301, "http://redirect.example.com"),
        ({"permanent-redirect": "http://redirect.example.com", "permanent-redirect-code": "302"}, 302, "http://redirect.example.com"),
        ({"temporal-redirect": "https://t.example.com/x"}, 302, "https://t.example.com/x"),
        ({"temporal-redirect": "https://t.example.com/", "temporal-redirect-code": "307"}, 307, "https://t.example.com/"),
    ],
)  # fmt: skip
def test_redirect_annotations_answer_without_the_upstream(serve, annotations, status, location) -> None:
    """e2e redirect.go: the status and Location; the upstream is never asked."""
    port, _ = serve(ingress(host="redirect", path="/something", annotations={P + k: v for k, v in annotations.items()}))
    response = get(port, "redirect", "/something")
    assert (response.status, response.header("location")) == (status, location)


def test_force_ssl_redirect_redirects_a_host_without_tls(serve) -> None:
    """e2e forcesslredirect.go: 308 to https with the request URI."""
    port, _ = serve(ingress(host="force-ssl.bar.com", annotations={P + "force-ssl-redirect": "true"}))
    response = get(port, "force-ssl.bar.com:8080", "/a?b=1")
    assert (response.status, response.header("location")) == (308, "https://force-ssl.bar.com/a?b=1")


def test_ssl_redirect_false_opts_a_tls_host_out_of_the_redirect(serve) -> None:
    opted_out = ingress("out", host="tls.example.com", path="/api", annotations={P + "ssl-redirect": "false"})
    default = ingress("in", host="tls.example.com", path="/")
    port, _ = serve(opted_out, default, tls_redirect_hosts=lambda host: host == "tls.example.com")
    assert upstream_saw(get(port, "tls.example.com", "/api/x"))["path"] == "/api/x"
    response = get(port, "tls.example.com", "/web")
    assert (response.status, response.header("location")) == (308, "https://tls.example.com/web")


def test_x_forwarded_prefix_and_upstream_vhost_reach_the_upstream(serve) -> None:
    """e2e xforwardedprefix.go and upstreamvhost.go."""
    annotations = {P + "x-forwarded-prefix": "/test/value", P + "upstream-vhost": "upstreamvhost.bar.com"}
    port, _ = serve(ingress(host="xfp.bar.com", annotations=annotations))
    record = upstream_saw(get(port, "xfp.bar.com", "/"))
    assert record["map"]["x-forwarded-prefix"] == "/test/value"
    assert record["map"]["host"] == "upstreamvhost.bar.com"
    assert record["map"]["x-forwarded-host"] == "xfp.bar.com"


def test_server_alias_answers_for_the_alias(serve) -> None:
    """e2e alias.go: the alias host reaches the same backend; an unknown host does not."""
    port, _ = serve(ingress(host="foo", annotations={P + "server-alias": "bar"}))
    assert upstream_saw(get(port, "bar", "/"))["map"]["host"] == "bar"
    assert get(port, "baz", "/").status == 404


def test_from_to_www_redirects_the_twin_host(serve) -> None:
    """e2e fromtowwwredirect.go: www.fromtowwwredirect.bar.com -> 308 to the Ingress's host."""
    port, _ = serve(ingress(host="fromtowwwredirect.bar.com", annotations={P + "from-to-www-redirect": "true"}))
    response = get(port, "www.fromtowwwredirect.bar.com", "/foo")
    assert (response.status, response.header("location")) == (308, "http://fromtowwwredirect.bar.com/foo")
    assert upstream_saw(get(port, "fromtowwwredirect.bar.com", "/foo"))["path"] == "/foo"


@pytest.mark.parametrize(
    ("annotations", "status"),
    [
        ({"whitelist-source-range": "10.0.0.0/8, 192.168.0.0/16"}, 403),
        ({"whitelist-source-range": "127.0.0.1"}, 200),
        ({"allowlist-source-range": "127.0.0.0/8"}, 200),
        ({"denylist-source-range": "127.0.0.1/32"}, 403),
        ({"denylist-source-range": "127.0.0.1", "whitelist-source-range": "127.0.0.0/8"}, 403),  # deny first
    ],
)
def test_source_ranges_admit_or_refuse_the_client(serve, annotations, status) -> None:
    """e2e ipwhitelist.go / ipdenylist.go: 403 for a client the ranges exclude."""
    port, _ = serve(ingress(host="ipallow.foo.com", annotations={P + k: v for k, v in annotations.items()}))
    assert get(port, "ipallow.foo.com", "/").status == status


def test_source_ranges_judge_the_client_a_trusted_proxy_names(serve) -> None:
    settings = ProxySettings(trusted_proxies=("127.0.0.1/32",))
    obj = ingress(host="ipallow.foo.com", annotations={P + "whitelist-source-range": "192.0.2.0/24"})
    port, _ = serve(obj, settings=settings)
    assert get(port, "ipallow.foo.com", "/", b"X-Forwarded-For: 192.0.2.7\r\n").status == 200
    assert get(port, "ipallow.foo.com", "/", b"X-Forwarded-For: 198.51.100.1, 192.0.2.7\r\n").status == 200
    assert get(port, "ipallow.foo.com", "/", b"X-Forwarded-For: 198.51.100.1\r\n").status == 403
    assert get(port, "ipallow.foo.com", "/").status == 403  # the proxy itself is not in the range


def preflight(port: int, host: str, origin: str):
    (response,) = exchange(
        port,
        f"OPTIONS /cors HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n"
        "Access-Control-Request-Method: POST\r\n\r\n".encode(),
    )
    return response


def test_enable_cors_answers_the_preflight_with_the_defaults(serve) -> None:
    """e2e cors.go "should enable cors": OPTIONS gets 204 and ingress-nginx's default lines."""
    port, _ = serve(ingress(host="cors.foo.com", annotations={P + "enable-cors": "true"}))
    response = preflight(port, "cors.foo.com", "https://any.example")
    assert response.status == 204
    assert response.header("access-control-allow-origin") == "*"
    assert response.header("access-control-allow-methods") == "GET, PUT, POST, DELETE, PATCH, OPTIONS"
    assert response.header("access-control-allow-headers") == (
        "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"
    )
    assert response.header("access-control-max-age") == "1728000"
    assert response.header("access-control-allow-credentials") == "true"
    plain = get(port, "cors.foo.com", "/")
    assert upstream_saw(plain)["path"] == "/"  # the upstream answers, the proxy adds the lines
    assert plain.header("access-control-allow-origin") == "*"


def test_cors_settings_reach_the_preflight_and_the_response(serve) -> None:
    """e2e cors.go: methods, headers, expose headers, max age and no credentials."""
    annotations = {
        "enable-cors": "true",
        "cors-allow-methods": "POST, GET",
        "cors-allow-headers": "X-CustomHeader, Keep-Alive",
        "cors-expose-headers": "X-CustomResponseHeader, X-E2E",
        "cors-allow-credentials": "false",
        "cors-max-age": "200",
    }
    port, _ = serve(ingress(host="cors.foo.com", annotations={P + k: v for k, v in annotations.items()}))
    response = preflight(port, "cors.foo.com", "https://any.example")
    assert response.header("access-control-allow-methods") == "POST, GET"
    assert response.header("access-control-allow-headers") == "X-CustomHeader, Keep-Alive"
    assert response.header("access-control-expose-headers") == "X-CustomResponseHeader, X-E2E"
    assert response.header("access-control-max-age") == "200"
    assert response.header("access-control-allow-credentials") is None
    assert get(port, "cors.foo.com", "/").header("access-control-expose-headers") == "X-CustomResponseHeader, X-E2E"


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://origin.cors.com:8080", True),
        ("http://origin.cors.com", False),  # another scheme
        ("https://sub.wild.cors.com", True),
        ("https://SUB.Wild.cors.com", True),  # nginx's ~*: case-insensitive
        ("https://a.b.wild.cors.com", False),  # * is one label
        ("https://wild.cors.com", False),
        ("https://evil.com/https://origin.cors.com:8080", False),
    ],
)
def test_cors_allow_origin_lists_and_wildcard_subdomains(serve, origin, allowed) -> None:
    """e2e cors.go "should allow origin for cors" / "should not allow origin" / wildcard origins."""
    origins = "https://origin.cors.com:8080, https://*.wild.cors.com"
    annotations = {P + "enable-cors": "true", P + "cors-allow-origin": origins}
    port, _ = serve(ingress(host="cors.foo.com", annotations=annotations))
    response = preflight(port, "cors.foo.com", origin)
    plain = get(port, "cors.foo.com", "/", f"Origin: {origin}\r\n".encode())
    if allowed:
        assert (response.status, response.header("access-control-allow-origin")) == (204, origin)
        assert plain.header("access-control-allow-origin") == origin
    else:  # not a preflight for us: the upstream answers the OPTIONS, nothing is added
        assert upstream_saw(response)["method"] == "OPTIONS"
        assert response.header("access-control-allow-origin") is None
        assert plain.header("access-control-allow-origin") is None
    assert get(port, "cors.foo.com", "/").header("access-control-allow-origin") is None  # no Origin


def post(port: int, host: str, body: bytes, *, chunked: bool = False):
    if chunked:  # in two chunks, the second one passing the limit
        half = len(body) // 2
        framing = b"Transfer-Encoding: chunked\r\n\r\n"
        payload = b"%x\r\n%b\r\n%x\r\n%b\r\n0\r\n\r\n" % (half, body[:half], len(body) - half, body[half:])
    else:
        framing, payload = b"Content-Length: %d\r\n\r\n" % len(body), body
    (response,) = exchange(port, f"POST /upload HTTP/1.1\r\nHost: {host}\r\n".encode() + framing + payload)
    return response


@pytest.mark.parametrize("chunked", [False, True])
def test_proxy_body_size_refuses_a_larger_body_with_413(serve, chunked) -> None:
    """e2e proxy.go "should set client_max_body_size": a body over the size gets 413, one at it passes."""
    limited = ingress("limited", host="body.foo.com", path="/upload", annotations={P + "proxy-body-size": "1k"})
    unlimited = ingress("unlimited", host="free.foo.com", path="/upload", annotations={P + "proxy-body-size": "0"})
    port, _ = serve(limited, unlimited)
    assert upstream_saw(post(port, "body.foo.com", b"x" * 1024, chunked=chunked))["body_len"] == 1024
    response = post(port, "body.foo.com", b"x" * 1025, chunked=chunked)
    assert (response.status, response.header("connection")) == (413, "close")
    assert upstream_saw(post(port, "free.foo.com", b"x" * 100_000, chunked=chunked))["body_len"] == 100_000


def test_proxy_read_timeout_gives_the_route_its_own_504(make_proxy, start_upstream) -> None:
    """e2e proxy.go "should set timeouts": the route's 1 s, not the proxy's minute, ends the wait."""
    silent = start_upstream("silent")
    obj = ingress(host="timeout.foo.com", annotations={P + "proxy-read-timeout": "1"})
    proxy = make_proxy(state_of(obj), backends({"web": [silent.url]}), ProxySettings(read_timeout=60))
    assert get(proxy.port, "timeout.foo.com", "/").status == 504
    assert silent.stats.connections == 1  # a read timeout is not retried


def test_proxy_connect_timeout_gives_the_route_its_own_504(make_proxy) -> None:
    hole = Blackhole()
    try:
        obj = ingress(host="timeout.foo.com", annotations={P + "proxy-connect-timeout": "1"})
        settings = ProxySettings(connect_timeout=60)
        proxy = make_proxy(state_of(obj), backends({"web": [f"http://127.0.0.1:{hole.port}"]}), settings)
        assert get(proxy.port, "timeout.foo.com", "/").status == 504
    finally:
        hole.close()


def test_cors_reaches_http2_clients(serve) -> None:
    """The same lines as fields: on the upstream's answer and on the proxy's preflight."""
    annotations = {P + "enable-cors": "true", P + "cors-allow-origin": "https://app.example"}
    port, _ = serve(ingress(host="cors.foo.com", annotations=annotations), settings=ProxySettings(h2c=True))
    client = H2Client(port).start()
    try:
        origin = [("origin", "https://app.example")]
        plain = client.answer(client.request("/", host="cors.foo.com", extra=origin))
        flight = client.answer(client.request("/", host="cors.foo.com", method="OPTIONS", extra=origin))
    finally:
        client.close()
    assert plain.status == 200 and plain.header(b"access-control-allow-origin") == b"https://app.example"
    assert flight.status == 204 and flight.header(b"access-control-max-age") == b"1728000"


def test_default_backend_answers_for_a_service_without_endpoints(serve) -> None:
    """e2e default_backend.go: the annotation's Service is the upstream when the rule's Service
    has no active endpoint; a Service with endpoints keeps its requests; without the annotation, 503."""
    fallback = {P + "default-backend": "fallback"}
    empty = ingress("empty", host="default.foo.com", service="gone", annotations=fallback)
    alive = ingress("alive", host="alive.foo.com", service="web", annotations=fallback)
    plain = ingress("plain", host="plain.foo.com", service="gone")
    port, ports = serve(empty, alive, plain, services=("web", "fallback"))
    record = upstream_saw(get(port, "default.foo.com", "/some/path?x=1"))
    assert (record["port"], record["path"]) == (ports["fallback"], "/some/path?x=1")
    assert upstream_saw(get(port, "alive.foo.com", "/"))["port"] == ports["web"]
    assert get(port, "plain.foo.com", "/").status == 503
