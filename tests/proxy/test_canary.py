"""Canary Ingresses through the real proxy and real upstreams, after ingress-nginx's canary.go:
the header, cookie and weight rules in their order of precedence, which upstream answers, and the
weight split measured over many requests with a fixed seed and a bound."""

from __future__ import annotations

import httpx
import pytest

from gitops_ingress.core.annotations import PREFIX
from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.test_annotations import get, serve_ingresses, upstream_saw
from tests.support.manifests import ingress

P = PREFIX
HOST = "foo"
MAIN = ingress("main", host=HOST, service="web")


def canary(**annotations: str) -> dict:
    values = {P + "canary": "true", **{P + key.replace("_", "-"): value for key, value in annotations.items()}}
    return ingress("canary", host=HOST, service="canary", annotations=values)


@pytest.fixture
def pair(make_proxy, start_upstream):
    def start(canary_ingress: dict, **options):
        return serve_ingresses(make_proxy, start_upstream, (MAIN, canary_ingress), ("web", "canary"), **options)

    return start


def answered_by(port: int, ports: dict[str, int], headers: bytes = b"") -> str:
    seen = upstream_saw(get(port, HOST, "/info", headers))["port"]
    return next(name for name, number in ports.items() if number == seen)


def test_by_header_always_never_and_other_values(pair) -> None:
    port, ports = pair(canary(canary_by_header="CanaryByHeader"))
    assert answered_by(port, ports, b"CanaryByHeader: always\r\n") == "canary"
    assert answered_by(port, ports, b"canarybyheader: never\r\n") == "web"
    assert answered_by(port, ports, b"CanaryByHeader: badheadervalue\r\n") == "web"
    assert answered_by(port, ports) == "web"


def test_by_header_value_replaces_always(pair) -> None:
    port, ports = pair(canary(canary_by_header="CanaryByHeader", canary_by_header_value="DoCanary"))
    assert answered_by(port, ports, b"CanaryByHeader: DoCanary\r\n") == "canary"
    assert answered_by(port, ports, b"CanaryByHeader: always\r\n") == "web"


def test_by_header_pattern_unless_a_value_is_set(pair) -> None:
    port, ports = pair(canary(canary_by_header="CanaryByHeader", canary_by_header_pattern="^Do[A-Z][a-z]+y$"))
    assert answered_by(port, ports, b"CanaryByHeader: DoCanary\r\n") == "canary"
    assert answered_by(port, ports, b"CanaryByHeader: docanary\r\n") == "web"


def test_header_then_cookie_then_weight(pair) -> None:
    annotations = {"canary_by_header": "CanaryByHeader", "canary_by_cookie": "CanaryByCookie", "canary_weight": "100"}
    port, ports = pair(canary(**annotations))
    assert answered_by(port, ports, b"CanaryByHeader: never\r\nCookie: CanaryByCookie=always\r\n") == "web"
    assert answered_by(port, ports, b"CanaryByHeader: other\r\nCookie: a=b; CanaryByCookie=never\r\n") == "web"
    assert answered_by(port, ports, b"Cookie: CanaryByCookie=always\r\n") == "canary"
    assert answered_by(port, ports, b"Cookie: CanaryByCookie=maybe\r\n") == "canary"  # on to the weight: 100


@pytest.mark.parametrize(("weight", "total", "share"), [("20", None, 0.2), ("300", "1000", 0.3), ("0", None, 0.0)])
def test_weight_sends_its_share_within_a_bound(pair, weight: str, total: str | None, share: float) -> None:
    annotations = {"canary_weight": weight, **({"canary_weight_total": total} if total else {})}
    port, ports = pair(canary(**annotations), settings=ProxySettings(canary_seed=16))
    requests = 1500
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": HOST}) as client:
        to_canary = sum(client.get("/").json()["port"] == ports["canary"] for _ in range(requests))
    # binomial sd at p=0.3 over 1500 requests is 1.2 %: 4 % is more than 3 sd, and the seed is fixed
    assert abs(to_canary / requests - share) <= 0.04


def test_the_canary_shares_host_and_path_with_the_main_ingress_without_a_conflict(pair) -> None:
    port, ports = pair(canary())  # no rule at all: every request stays on the main Ingress
    assert answered_by(port, ports) == "web"
