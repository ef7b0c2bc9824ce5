"""Routing: one implementation of Ingress matching, used by validation, diff, proxy and dashboard.

Names are imported from their module on first use (PEP 562), so ``validate``, which needs only
``compile`` and ``model``, does not load ``state``, ``overlay`` and ``table`` on every run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitops_ingress.core.routing.compile import (
        compile_environments,
        compile_merged,
        compile_routes,
        is_ours,
        routes_of,
        select_ours,
    )
    from gitops_ingress.core.routing.groups import PathTable
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
    from gitops_ingress.core.routing.table import EMPTY_TABLE, RouteTable, normalize_host

# each public name -> the module it lives in
_HOME = {
    **dict.fromkeys(
        ("compile_environments", "compile_merged", "compile_routes", "is_ours", "routes_of", "select_ours"), "compile"
    ),
    **dict.fromkeys(("NO_MATCH", "Backend", "ResourceRef", "Route", "RouteMatch", "ServiceRef", "TLSEntry"), "model"),
    **dict.fromkeys(("PreviewTarget", "Resolution", "RoutingState"), "state"),
    **dict.fromkeys(("EMPTY_TABLE", "RouteTable", "normalize_host"), "table"),
    "PathTable": "groups",
}

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


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
