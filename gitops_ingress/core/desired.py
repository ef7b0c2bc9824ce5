"""What an environment of a branch should look like once applied: the engine's word to targets.

``sync`` produces these (plan.py) and every target consumes them: the local one reads the route
table, the Kubernetes one (``kube/``) the Ingress objects. A plain frozen value in ``core`` so that
both sides name the one type instead of the target keeping a structural copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitops_ingress.core.models import LocatedIngress
from gitops_ingress.core.routing import RouteTable


@dataclass(frozen=True, slots=True)
class DesiredEnvironment:
    """One environment of a branch as it should be live: its commit, routes and objects.
    ``keep``: the newest commit was refused, so the target keeps what it applied before
    (``ingresses`` is then empty; ``table`` is the last good one)."""

    name: str
    commit: str
    table: RouteTable
    ingresses: tuple[LocatedIngress, ...] = field(default=(), compare=False)
    keep: bool = False
