"""URL paths -> (resource type, namespace, name, subresource) and the request's API verb.

The API server's path grammar (``/api/v1`` or ``/apis/{group}/{version}``, then
``namespaces/{ns}/`` for namespaced resources, then the plural, the name and a subresource) has
one ambiguity: ``/api/v1/namespaces/{name}`` is the namespace object itself. Resolving it here, in
one place, keeps the handlers free of path arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import resources
from .resources import ResourceType
from .status import method_not_allowed, path_not_found

_SUBRESOURCES = ("status",)


@dataclass(frozen=True)
class Target:
    rt: ResourceType
    namespace: str  # "" for cluster-scoped objects and all-namespace lists
    name: str
    subresource: str


def parse(path: str) -> Target | None:
    """None when ``path`` is not a resource path (discovery and friends are handled apart)."""
    segs = [s for s in path.split("/") if s]
    if segs[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        group, version, rest = segs[1], segs[2], segs[3:]
    else:
        return None
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        inner = resources.lookup(group, version, rest[2])
        if inner is not None and inner.namespaced:
            namespace, rest = rest[1], rest[2:]
    rt = resources.lookup(group, version, rest[0])
    if rt is None or len(rest) > 3:
        raise path_not_found()
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if (sub and sub not in _SUBRESOURCES) or (sub == "status" and not rt.status_subresource):
        raise path_not_found()
    if namespace and not rt.namespaced:
        raise path_not_found()
    return Target(rt, namespace, name, sub)


def verb(method: str, target: Target, watch: bool, content_type: str) -> str:
    """The API verb (RBAC's vocabulary; ``apply`` for server-side apply patches)."""
    if method == "GET":
        if target.name:
            return "get"
        return "watch" if watch else "list"
    if target.rt.namespaced and not target.namespace:
        raise method_not_allowed()  # writes need a namespace in the path
    if method == "POST" and not target.name:
        return "create"
    if method == "PUT" and target.name:
        return "update"
    if method == "PATCH" and target.name:
        return "apply" if content_type == "application/apply-patch+yaml" else "patch"
    if method == "DELETE":
        return "delete" if target.name else "deletecollection"
    raise method_not_allowed()
