"""Backend protocols from the backend-protocol annotation and appProtocol, carried by routes."""

from __future__ import annotations

import pytest

from gitops_ingress.core.protocols import annotation_scheme, app_protocol_scheme
from gitops_ingress.core.routing import Route, RouteTable, ServiceRef


@pytest.mark.parametrize(
    ("value", "scheme"),
    [("GRPC", "grpc"), ("grpcs", "grpcs"), (" HTTPS ", "https"), ("HTTP", "http"), ("FCGI", None), ("", None)],
)
def test_ingress_nginx_annotation_values(value: str, scheme: str | None) -> None:
    assert annotation_scheme(value) == scheme


@pytest.mark.parametrize(
    ("value", "scheme"), [("kubernetes.io/h2c", "h2c"), ("grpc", "grpc"), ("kubernetes.io/ws", "http"), (None, "http")]
)
def test_app_protocol_values(value: str | None, scheme: str) -> None:
    assert app_protocol_scheme(value) == scheme


def test_route_dict_carries_the_protocol_only_when_set() -> None:
    plain = Route("a.example.com", "/", "Prefix", ServiceRef("shop", "web", "80"), "shop/ing")
    grpc = Route("a.example.com", "/", "Prefix", ServiceRef("shop", "web", "80"), "shop/ing", protocol="grpc")
    assert "protocol" not in plain.to_dict()
    assert Route.from_dict(grpc.to_dict()) == grpc
    assert Route.from_dict(plain.to_dict()) == plain


def test_default_backend_keeps_its_protocol_and_a_protocol_change_is_a_new_version() -> None:
    backend = ServiceRef("shop", "api", "80")
    rule = Route("a.example.com", "/", "Prefix", backend, "shop/ing", protocol="grpc")
    default = Route("", "", "Default", backend, "shop/ing", protocol="grpcs")
    table = RouteTable([rule], default)
    assert table.match("a.example.com", "/x").protocol == "grpc"
    assert table.match("b.example.com", "/x").protocol == "grpcs"  # through the default backend
    plain = RouteTable([Route("a.example.com", "/", "Prefix", backend, "shop/ing")], default)
    assert plain.version != table.version
