"""The backend map: ``[NS/]SERVICE:PORT=URL`` options and the lookup the proxy makes per request."""

from __future__ import annotations

import pytest

from gitops_ingress.core.backends import BackendMap, Endpoint, parse_backend_option, parse_endpoint
from gitops_ingress.core.errors import ConfigError
from gitops_ingress.core.routing import ServiceRef


def test_namespaced_key_wins_over_the_bare_one_and_urls_accumulate() -> None:
    backends = BackendMap.from_options(
        ["web:80=http://127.0.0.1:9000", "shop/web:80=127.0.0.1:9001", "shop/web:80=http://127.0.0.1:9002"],
        {"api:http": "http://[::1]:9100"},
    )
    assert backends.endpoints(ServiceRef("shop", "web", "80")) == (
        Endpoint("127.0.0.1", 9001),
        Endpoint("127.0.0.1", 9002),
    )
    assert backends.endpoints(ServiceRef("other", "web", "80")) == (Endpoint("127.0.0.1", 9000),)
    assert backends.endpoints(ServiceRef("any", "api", "http")) == (Endpoint("::1", 9100),)
    assert backends.endpoints(ServiceRef("shop", "web", "8080")) == ()
    assert str(Endpoint("::1", 9100)) == "http://[::1]:9100"
    assert backends.to_dict()["shop/web:80"] == ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]


@pytest.mark.parametrize(
    "bad", ["web=http://x", "web:80", "web:80=", "/web:80=http://x", "a/b/c:80=http://x", ":80=http://x"]
)
def test_malformed_options_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="expected"):
        parse_backend_option(bad)


@pytest.mark.parametrize("bad", ["ftp://127.0.0.1:21", "http://", "http://127.0.0.1:notaport"])
def test_malformed_urls_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_endpoint(bad)


def test_https_default_port() -> None:
    assert parse_endpoint("https://127.0.0.1") == Endpoint("127.0.0.1", 443, "https")


def test_equal_endpoints_are_one_key_and_the_stored_hash_stays_out_of_sight():
    first, again = Endpoint("10.0.0.1", 80), Endpoint("10.0.0.1", 80)
    pools = {first: "warm"}
    assert pools[again] == "warm"  # a new snapshot's equal endpoint finds the old pool entry
    assert Endpoint("10.0.0.1", 80, "https") not in pools and Endpoint("10.0.0.1", 81) not in pools
    assert repr(first) == "Endpoint(host='10.0.0.1', port=80, scheme='http')"


@pytest.mark.parametrize(
    ("url", "scheme", "port", "h2", "tls"),
    [
        ("h2c://127.0.0.1:50051", "h2c", 50051, True, False),
        ("grpc://127.0.0.1", "grpc", 80, True, False),
        ("grpcs://backend.local", "grpcs", 443, True, True),
        ("https://backend.local", "https", 443, False, True),
        ("127.0.0.1:8080", "http", 8080, False, False),
    ],
)
def test_url_scheme_is_the_endpoint_protocol(url: str, scheme: str, port: int, h2: bool, tls: bool) -> None:
    endpoint = parse_endpoint(url)
    assert (endpoint.scheme, endpoint.port, endpoint.h2, endpoint.tls) == (scheme, port, h2, tls)
    assert parse_endpoint(str(endpoint)) == endpoint  # shipped to proxies as its URL (to_dict)


def test_an_annotation_scheme_replaces_the_endpoint_scheme_only_when_given() -> None:
    endpoint = Endpoint("10.0.0.1", 8080)
    assert endpoint.speaking(None) is endpoint
    grpc = endpoint.speaking("grpc")
    assert (grpc.host, grpc.port, grpc.h2, grpc.key) == ("10.0.0.1", 8080, True, ("10.0.0.1", 8080, "grpc"))
