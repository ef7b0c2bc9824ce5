"""Routing: one implementation of Ingress matching, used by validation, diff, proxy and dashboard."""

from gitops_ingress.core.routing.compile import (
    compile_environments,
    compile_merged,
    compile_routes,
    is_ours,
    routes_of,
    select_ours,
)
from gitops_ingress.core.routing.model import (
    NO_MATCH,
    Backend,
    ResourceRef,
    Route,
    RouteMatch,
    ServiceRef,
    TLSEntry,
)
from gitops_ingress.core.routing.state import PreviewTarget, Resolution, RoutingState
from gitops_ingress.core.routing.table import EMPTY_TABLE, PathTable, RouteTable, normalize_host

__all__ = [
    "EMPTY_TABLE",
    "NO_MATCH",
    "Backend",
    "PathTable",
    "PreviewTarget",
    "Resolution",
    "ResourceRef",
    "Route",
    "RouteMatch",
    "RouteTable",
    "RoutingState",
    "ServiceRef",
    "TLSEntry",
    "compile_environments",
    "compile_merged",
    "compile_routes",
    "is_ours",
    "normalize_host",
    "routes_of",
    "select_ours",
]
