"""The resource types the stand-in serves, described once and read by every other module.

Discovery, OpenAPI, URL routing, tables and the store all derive from this table, so adding a kind
is one line here. Only built-in kinds that gitops-ingress (or a controller beside it) touches are
listed; the stand-in is not a general API server and does not accept CustomResourceDefinitions.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    # Whether metadata.generation is kept (the API server does so for kinds with a spec).
    generation: bool = False
    categories: tuple[str, ...] = ()
    # DELETE answers with the deleted object, not a Status (the registry's ReturnDeletedObject:
    # true for Services and ServiceAccounts among the kinds served here; see Registry.delete).
    returns_deleted: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """``ingresses.networking.k8s.io`` or ``namespaces``: the name the API server uses in
        its error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key(self) -> str:
        return f"{self.group}/{self.plural}"


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", False, ("ns",), status_subresource=True),
    ResourceType(
        "",
        "v1",
        "Service",
        "services",
        True,
        ("svc",),
        status_subresource=True,
        categories=("all",),
        returns_deleted=True,
    ),
    ResourceType("", "v1", "Secret", "secrets", True),
    ResourceType("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    ResourceType("", "v1", "Event", "events", True, ("ev",)),
    ResourceType(
        "networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), status_subresource=True, generation=True
    ),
    ResourceType("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, generation=True),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True),
    ResourceType("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
    # what deploy/ holds, so that ``kubectl apply -k deploy/`` can be tested against the stand-in
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), returns_deleted=True),
    ResourceType(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        ("deploy",),
        status_subresource=True,
        generation=True,
        categories=("all",),
    ),
    ResourceType(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        True,
        ("pdb",),
        status_subresource=True,
        generation=True,
    ),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
)

NAMESPACES = RESOURCES[0]


def group_versions() -> list[str]:
    """Every group/version served, core first, in a stable order."""
    seen: dict[str, None] = {}
    for rt in RESOURCES:
        seen.setdefault(rt.group_version, None)
    return list(seen)


def groups() -> list[str]:
    """Every named (non-core) group, in a stable order."""
    return list(dict.fromkeys(rt.group for rt in RESOURCES if rt.group))


def in_group_version(group: str, version: str) -> list[ResourceType]:
    return [rt for rt in RESOURCES if rt.group == group and rt.version == version]


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    for rt in RESOURCES:
        if rt.group == group and rt.version == version and rt.plural == plural:
            return rt
    return None
