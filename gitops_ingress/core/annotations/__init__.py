"""ingress-nginx's annotations: which we honour, how, and what they do to routes.

``registry`` is the one table of keys (one family module each), ``check`` validates an Ingress's
annotations and summarises a repository's (imported from there: it needs validation's reporter,
and routing, which validation uses, needs ``model``), ``model.RouteEffects`` is what a route keeps.
"""

from gitops_ingress.core.annotations.model import PREFIX, AnnotationSpec, AnnotationValueError, RouteEffects, Status
from gitops_ingress.core.annotations.registry import REGISTRY, effects_of, known_names, lookup

__all__ = [
    "PREFIX",
    "REGISTRY",
    "AnnotationSpec",
    "AnnotationValueError",
    "RouteEffects",
    "Status",
    "effects_of",
    "known_names",
    "lookup",
]
