"""The basic auths a source reads Secrets for, kept per table (proxy/secrets.py's
``WantedByTable``): over a run of states that add, change and drop branches, always exactly what
the walk of every route (``wanted``) finds."""

from __future__ import annotations

from gitops_ingress.core.annotations.authn import BasicAuth
from gitops_ingress.core.annotations.model import RouteEffects
from gitops_ingress.core.routing import Route, RouteTable, RoutingState, ServiceRef
from gitops_ingress.proxy.secrets import WantedByTable, wanted


def table(host: str, secret: str | None = None) -> RouteTable:
    effects = None if secret is None else RouteEffects(basic_auth=BasicAuth("shop", secret))
    return RouteTable(
        [Route(host, "/", "Prefix", ServiceRef("shop", "web", "80"), "shop/x", "f.yaml", 1, "production", effects)]
    )


def test_kept_per_table_the_auths_are_those_of_the_walk() -> None:
    memo = WantedByTable()
    stable = table("shop.example.com", "stable-auth")
    states = [
        RoutingState(stable, {}),
        RoutingState(stable, {"a": table("a.example.com", "a-auth"), "b": table("b.example.com")}),
        RoutingState(stable, {"a": table("a.example.com", "a-changed"), "b": table("b.example.com")}),
        RoutingState(stable, {"b": table("b.example.com", "b-auth")}),
        RoutingState(table("shop.example.com"), {"b": table("b.example.com")}),
    ]
    for state in states:
        assert memo(state) == wanted(state)
    assert {auth.name for auth in memo(states[2])} == {"stable-auth", "a-changed"}
