"""The annotation registry: every key's status, its parser's findings (file, line, rule), and the
effects honoured annotations compile into routes (regex paths, rewrite, redirects, aliases)."""

from __future__ import annotations

import pytest

from gitops_ingress.core.annotations import PREFIX, REGISTRY, Status, effects_of, lookup
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.routing import compile_routes
from tests.core.test_validation_environment import SETTINGS, A, by_rule, env
from tests.support.manifests import ingress, line_of, to_yaml

P = PREFIX


def annotated(annotations: dict[str, str], **options) -> dict:
    return ingress(annotations=annotations, **options)


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("rewrite-target", Status.DIFFERENT),
        ("app-root", Status.HONOURED),
        ("permanent-redirect", Status.HONOURED),
        ("configuration-snippet", Status.REFUSED),
        ("some-new-snippet", Status.REFUSED),
        ("auth-tls-secret", Status.REFUSED),
        ("auth-tls-anything-else", Status.REFUSED),
        ("proxy-next-upstream", Status.IGNORED),
        ("affinity", Status.HONOURED),
        ("limit-rps", Status.DIFFERENT),
        ("no-such-annotation", Status.IGNORED),
    ],
)
def test_every_key_has_one_status(key: str, status: Status) -> None:
    spec = lookup(P + key)
    assert (spec is not None and spec.status is status and spec.note) or status is Status.HONOURED


def test_keys_outside_the_prefix_are_not_ours() -> None:
    assert lookup("kubernetes.io/ingress.class") is None
    assert lookup("traefik.ingress.kubernetes.io/router.entrypoints") is None


def test_every_ignored_or_refused_key_says_why() -> None:
    assert all(spec.note for spec in REGISTRY.values() if spec.status in (Status.IGNORED, Status.REFUSED))


def test_an_ignored_annotation_warns_at_its_line() -> None:
    obj = annotated({P + "proxy-next-upstream": "error"})
    (finding,) = by_rule(env({A: obj}), "annotation/ignored")
    assert (finding.file, finding.line, finding.severity) == (
        A,
        line_of(to_yaml(obj), P + "proxy-next-upstream"),
        Severity.WARNING,
    )
    assert (
        "nginx.ingress.kubernetes.io/proxy-next-upstream" in finding.message and "not honoured yet" in finding.message
    )


def test_a_refused_annotation_is_an_error_and_a_policy_denial_is_not_reported_twice() -> None:
    obj = annotated({P + "auth-tls-secret": "shop/ca", P + "server-snippet": "return 200;"})
    result = env({A: obj})
    (refused,) = by_rule(result, "annotation/refused")
    assert refused.line == line_of(to_yaml(obj), P + "auth-tls-secret") and refused.severity is Severity.ERROR
    assert len(by_rule(result, "policy/denied-annotation")) == 1  # the snippet: policy's error only
    assert not result.ok


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("permanent-redirect-code", "abc", "not a whole number"),
        ("permanent-redirect-code", "200", "out of range: 300 to 399"),
        ("permanent-redirect", "/relative", "absolute"),
        ("use-regex", "maybe", "not a boolean"),
        ("app-root", "foo", 'starting with "/"'),
        ("rewrite-target", "/a; return 200", "rewrite target"),
        ("upstream-vhost", "not a host!", "not a host name"),
        ("whitelist-source-range", "10.0.0.0/8, not-a-cidr", "not an IP address or CIDR"),
        ("canary-weight", "ten", "not a whole number"),
        ("load-balance", "random", "not a load-balancing algorithm"),
        ("enable-cors", "maybe", "not a boolean"),
        ("cors-allow-origin", "https://ok.example, ftp://x.example", "is not an origin"),
        ("cors-allow-origin", "origin.example", "is not an origin"),
        ("cors-allow-methods", "GET; DELETE", "not a comma-separated list of methods"),
        ("cors-allow-headers", "X-A, X B:", "not a comma-separated list of header names"),
        ("cors-expose-headers", "X-A, {}", "not a comma-separated list of header names or *"),
        ("cors-max-age", "-1", "out of range"),
        ("proxy-body-size", "8 MB", "not a size"),
        ("proxy-body-size", "1t", "not a size"),
        ("proxy-read-timeout", "60s", "not a whole number"),
        ("proxy-connect-timeout", "0", "out of range"),
        ("custom-http-errors", "404,302", '"302" is not a status code from 400 to 599'),
        ("custom-http-errors", "503,5xx", '"5xx" is not a status code'),
        ("custom-http-errors", " , ", "a comma-separated list of status codes"),
        ("disable-proxy-intercept-errors", "maybe", "not a boolean"),
    ],
)
def test_a_bad_value_is_an_error_naming_file_line_and_rule(key: str, value: str, words: str) -> None:
    obj = annotated({P + key: value})
    (finding,) = by_rule(env({A: obj}), "annotation/invalid-value")
    assert (finding.file, finding.line, finding.severity) == (A, line_of(to_yaml(obj), P + key), Severity.ERROR)
    assert words in finding.message


def test_a_path_that_is_no_regex_is_an_error_once_the_ingress_uses_regex() -> None:
    obj = annotated({P + "use-regex": "true"}, path="/a(b", path_type="ImplementationSpecific")
    (finding,) = by_rule(env({A: obj}), "annotation/invalid-regex")
    assert finding.line == line_of(to_yaml(obj), "path: /a(b")


def test_other_controllers_annotations_are_not_checked() -> None:
    obj = annotated({P + "proxy-next-upstream": "error", P + "server-snippet": "x"}, ingress_class="alb")
    assert by_rule(env({A: obj}), "annotation/ignored") == []


def test_plain_ingresses_compile_to_routes_without_effects() -> None:
    table = compile_routes(env({A: ingress()}).ingresses, SETTINGS)
    assert [route.effects for route in table.routes] == [None]
    assert effects_of({"kubernetes.io/ingress.class": "nginx"}) is None


def table_of(*objects: dict):
    files = {f"environments/prod/{index}.yaml": obj for index, obj in enumerate(objects)}
    return compile_routes(env(files).ingresses, SETTINGS)


def test_use_regex_on_one_ingress_makes_every_path_of_the_host_a_case_insensitive_prefix_regex() -> None:
    table = table_of(
        annotated(
            {P + "use-regex": "true"},
            name="re",
            service="regex",
            path="/api/v[0-9]+",
            path_type="ImplementationSpecific",
        ),
        ingress("plain", service="plain", path="/Docs"),
        ingress("other", host="other.example.com", service="other", path="/API"),
    )
    backend = lambda host, path: str(table.match(host, path).backend or "")  # noqa: E731
    assert backend("shop.example.com", "/API/V2/users") == "shop/regex:80"
    assert backend("shop.example.com", "/docs-and-more") == "shop/plain:80"  # plain path, now ~* ^/Docs
    assert backend("shop.example.com", "/x/api/v1") == ""  # anchored at the start
    assert backend("other.example.com", "/api") == ""  # another host keeps Prefix matching


def test_longest_regex_path_is_tried_first() -> None:
    table = table_of(
        annotated(
            {P + "use-regex": "true"}, name="short", service="short", path="/a", path_type="ImplementationSpecific"
        ),
        ingress("long", service="long", path="/a/b.*"),
    )
    assert str(table.match("shop.example.com", "/a/bcd").backend) == "shop/long:80"
    assert str(table.match("shop.example.com", "/a/x").backend) == "shop/short:80"


@pytest.mark.parametrize(
    ("path", "target", "asked", "upstream"),
    [
        ("/something(/|$)(.*)", "/$2", "/something/new", "/new"),
        ("/something(/|$)(.*)", "/$2", "/something", "/"),
        ("/something(/|$)(.*)", "/$2", "/SomeThing/a/b", "/a/b"),
        ("/something", "/", "/something/deeper", "/"),  # no capture group: the whole URI is the target
        ("/api(/|$)(.*)", "/v2/$2$9", "/api/x", "/v2/x"),  # a missing group is empty, as in nginx
    ],
)
def test_rewrite_target_replaces_the_uri_with_captures(path: str, target: str, asked: str, upstream: str) -> None:
    (route,) = table_of(annotated({P + "rewrite-target": target}, path=path, path_type="ImplementationSpecific")).routes
    assert route.effects is not None and route.effects.regex
    assert route.effects.rewrite(asked) == upstream


def test_effects_survive_the_wire_form_and_change_the_table_version() -> None:
    from gitops_ingress.core.routing import RouteTable

    annotations = {P + "rewrite-target": "/$1", P + "x-forwarded-prefix": "/shop"}
    table = table_of(annotated(annotations, path="/shop/(.*)", path_type="ImplementationSpecific"))
    again = RouteTable.from_dict(table.to_dict())
    assert (
        again.version
        == table.version
        != table_of(ingress(path="/shop/(.*)", path_type="ImplementationSpecific")).version
    )
    (route,) = again.routes
    assert route.effects is not None and route.effects.rewrite("/shop/cart") == "/cart"


def test_a_cors_policy_survives_the_wire_form() -> None:
    from gitops_ingress.core.routing import RouteTable

    annotations = {P + "enable-cors": "true", P + "cors-allow-origin": "https://*.a.example", P + "cors-max-age": "5"}
    (route,) = RouteTable.from_dict(table_of(annotated(annotations)).to_dict()).routes
    policy = route.effects.cors if route.effects is not None else None
    assert policy is not None and (policy.origins, policy.max_age) == (("https://*.a.example",), 5)
    assert policy.lines_for(b"https://x.a.example").startswith(b"Access-Control-Allow-Origin: https://x.a.example\r\n")
    assert policy.lines_for(b"https://a.example") == b""


def test_cors_settings_without_enable_cors_do_nothing() -> None:
    (route,) = table_of(annotated({P + "cors-allow-origin": "https://a.example"})).routes
    assert route.effects is None


def test_server_alias_serves_the_same_paths_unless_the_alias_is_a_rule_host() -> None:
    table = table_of(
        annotated({P + "server-alias": "alias.example.com, other.example.com"}),
        ingress("other", host="other.example.com", service="other"),
    )
    assert str(table.match("alias.example.com", "/x").backend) == "shop/web:80"
    assert str(table.match("other.example.com", "/x").backend) == "shop/other:80"


def test_from_to_www_adds_the_twin_host_as_a_redirect() -> None:
    table = table_of(annotated({P + "from-to-www-redirect": "true"}))
    match = table.match("www.shop.example.com", "/a")
    assert match.route is not None and match.route.effects is not None
    assert match.route.effects.www_redirect == "shop.example.com"


def test_temporal_redirect_wins_over_permanent_and_codes_default_as_in_ingress_nginx() -> None:
    both = effects_of({P + "permanent-redirect": "https://a.example", P + "temporal-redirect": "https://b.example"})
    assert both is not None and (both.redirect_url, both.redirect_code) == ("https://b.example", 302)
    permanent = effects_of({P + "permanent-redirect": "https://a.example"})
    assert permanent is not None and permanent.redirect_code == 301
    coded = effects_of({P + "permanent-redirect": "https://a.example", P + "permanent-redirect-code": "308"})
    assert coded is not None and coded.redirect_code == 308


def canary_ingress(weight: str) -> dict:
    annotations = {P + "canary": "true", P + "canary-weight": weight, P + "canary-by-header": "X-Canary"}
    return ingress("web-canary", service="web-canary", annotations=annotations)


def test_a_canary_folds_into_the_main_route_and_survives_the_wire_form() -> None:
    from gitops_ingress.core.routing import RouteTable

    result = env({A: ingress(), "environments/prod/c.yaml": canary_ingress("10")})
    assert result.ok and by_rule(result, "cross/canary-overlap")  # a notice, not a conflict
    (route,) = compile_routes(result.ingresses, SETTINGS).routes
    assert str(route.backend) == "shop/web:80" and route.effects is not None and route.effects.canary is not None
    assert (str(route.effects.canary.backend), route.effects.canary.weight) == ("shop/web-canary:80", 10)
    (again,) = RouteTable.from_dict(compile_routes(result.ingresses, SETTINGS).to_dict()).routes
    assert again == route and again.effects is not None and again.effects.canary == route.effects.canary


def test_a_canary_without_a_main_route_is_served_as_an_ordinary_one() -> None:
    (route,) = table_of(canary_ingress("10")).routes
    assert str(route.backend) == "shop/web-canary:80" and route.effects is None


def test_the_diff_reports_a_canary_weight_change_as_where_requests_go() -> None:
    from gitops_ingress.core.diff import ChangeKind, diff_tables

    before = table_of(ingress(), canary_ingress("10"))
    after = table_of(ingress(), canary_ingress("50"))
    (change,) = diff_tables(before, after, "prod")
    assert change.kind is ChangeKind.ANNOTATION
    assert change.message == "GET shop.example.com/ goes to shop/web:80: canary split 10 % -> 50 % shop/web-canary:80"
    assert change.before_answer is not None and change.after_answer is not None
    assert (change.before_answer.share, change.after_answer.share) == (10, 50)
    assert diff_tables(after, table_of(ingress(), canary_ingress("50")), "prod") == []


@pytest.mark.parametrize(
    ("annotations", "words"),
    [
        (
            {P + "affinity": "cookie", P + "session-cookie-name": "SERVERID"},
            "each client kept on one endpoint by cookie SERVERID",
        ),
        ({P + "service-upstream": "true"}, "through the Service's cluster IP"),
    ],
)
def test_the_diff_reports_annotations_that_change_how_endpoints_are_chosen(annotations, words) -> None:
    from gitops_ingress.core.diff import ChangeKind, diff_tables

    plain, annotated_table = table_of(ingress()), table_of(ingress(annotations=annotations))
    (change,) = diff_tables(plain, annotated_table, "prod")
    assert change.kind is ChangeKind.ANNOTATION
    assert change.message == f"GET shop.example.com/ goes to shop/web:80: endpoints as usual -> {words}"
    (back,) = diff_tables(annotated_table, plain, "prod")
    assert back.message.endswith(f"endpoints {words} -> as usual")
    limits = {P + "limit-rps": "5", P + "proxy-buffering": "on", P + "proxy-send-timeout": "5"}
    assert diff_tables(plain, table_of(ingress(annotations=limits)), "prod") == []  # limits are not routing


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("limit-rps", "fast"),
        ("limit-rpm", "-1"),
        ("limit-connections", "1.5"),
        ("limit-burst-multiplier", "0"),
        ("limit-allowlist", "10.0.0.300/8"),
        ("proxy-send-timeout", "60s"),
        ("proxy-buffering", "maybe"),
        ("service-upstream", "yes please"),
        ("affinity", "ip"),
        ("affinity-mode", "sticky"),
        ("session-cookie-name", "a b"),
        ("session-cookie-path", "no-slash"),
        ("session-cookie-max-age", "soon"),
        ("session-cookie-expires", "-5"),
        ("session-cookie-samesite", "Sometimes"),
        ("session-cookie-secure", "2"),
    ],
)
def test_a_bad_limit_or_affinity_value_is_an_invalid_value_at_its_line(key: str, value: str) -> None:
    obj = annotated({P + key: value})
    (finding,) = by_rule(env({A: obj}), "annotation/invalid-value")
    assert (finding.file, finding.line) == (A, line_of(to_yaml(obj), P + key))
    assert P + key in finding.message


def test_limits_and_affinity_compile_and_survive_the_wire_form() -> None:
    from gitops_ingress.core.routing import RouteTable

    annotations = {
        P + "limit-rps": "5",
        P + "limit-rpm": "100",
        P + "limit-connections": "3",
        P + "limit-burst-multiplier": "2",
        P + "limit-whitelist": "10.0.0.1/8",
        P + "affinity": "cookie",
        P + "session-cookie-samesite": "lax",
        P + "session-cookie-max-age": "60",
        P + "proxy-buffering": "on",
        P + "proxy-send-timeout": "7",
        P + "service-upstream": "true",
    }
    table = table_of(ingress(annotations=annotations))
    (route,) = table.routes
    effects = route.effects
    assert effects is not None and effects.rate_limit is not None and effects.affinity is not None
    limit = effects.rate_limit
    assert (limit.rps, limit.rpm, limit.connections, limit.allowlist) == (5, 100, 3, ("10.0.0.0/8",))
    assert limit.rates == ((5.0, 11.0), (100 / 60, 201.0))  # burst = rate x multiplier, plus the first
    assert limit.exempts("10.1.2.3") and limit.exempts("::ffff:10.1.2.3") and not limit.exempts("11.0.0.1")
    assert (effects.affinity.name, effects.affinity.samesite, effects.affinity.max_age) == ("INGRESSCOOKIE", "Lax", 60)
    assert (effects.buffering, effects.send_timeout, effects.service_upstream) == (True, 7, True)
    (again,) = RouteTable.from_dict(table.to_dict()).routes
    assert again == route


def test_default_backend_names_a_service_of_the_ingress_namespace() -> None:
    effects = effects_of({P + "default-backend": "fallback"}, "shop")
    assert effects is not None and effects.default_backend == "fallback"
    obj = annotated({P + "default-backend": "other/fallback"})
    (finding,) = by_rule(env({A: obj}), "annotation/invalid-value")
    assert finding.line == line_of(to_yaml(obj), P + "default-backend") and "not a Service name" in finding.message


def test_the_diff_reports_a_default_backend_change_as_where_requests_go() -> None:
    from gitops_ingress.core.diff import ChangeKind, diff_tables

    before = table_of(ingress())
    after = table_of(annotated({P + "default-backend": "fallback"}))
    (change,) = diff_tables(before, after, "prod")
    assert change.kind is ChangeKind.ANNOTATION
    assert change.message.endswith("endpoints as usual -> shop/fallback:80 when it has no ready endpoint")
    assert diff_tables(after, table_of(annotated({P + "default-backend": "fallback"})), "prod") == []


def test_custom_http_errors_become_sorted_codes_unless_interception_is_disabled() -> None:
    codes = {P + "custom-http-errors": "503, 404,503", P + "default-backend": "errors"}
    effects = effects_of(codes)
    assert effects is not None and (effects.custom_errors, effects.default_backend) == ((404, 503), "errors")
    assert type(effects).from_dict(effects.to_dict()) == effects  # the wire form (proxy/sources)
    disabled = effects_of({**codes, P + "disable-proxy-intercept-errors": "true"})
    assert disabled is not None and disabled.custom_errors == ()
    switched_off = effects_of({**codes, P + "enable-custom-http-errors": "false"})
    assert switched_off is not None and switched_off.custom_errors == ()


def test_the_diff_reports_custom_http_errors_as_where_error_pages_come_from() -> None:
    from gitops_ingress.core.diff import ChangeKind, diff_tables

    fallback = {P + "default-backend": "fallback"}
    before = table_of(annotated(fallback))
    after = table_of(annotated({**fallback, P + "custom-http-errors": "503,404"}))
    (change,) = diff_tables(before, after, "prod")
    assert change.kind is ChangeKind.ANNOTATION
    assert change.message.endswith("shop/fallback:80 when it has no ready endpoint, and for the pages of 404, 503")
