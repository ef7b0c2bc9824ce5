"""The values routing is made of: backends, routes, TLS entries and the answer to a match.

Plain frozen dataclasses with slots rather than pydantic models: a proxy holds hundreds of
thousands of routes and matches them on every request, so these stay small and cheap to build.
Each converts to and from a JSON-ready dict, which is how the control plane ships route tables to
proxies and how the API and reports show them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Literal

from gitops_ingress.core.annotations.model import RouteEffects

PathKind = Literal["Exact", "Prefix"]
PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """A Service port: ``namespace/name:port`` with the port written as in the Ingress."""

    namespace: str
    name: str
    port: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return {"service": {"namespace": self.namespace, "name": self.name, "port": self.port}}


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A ``resource`` backend: kept for reports, answered 404 by the proxy."""

    namespace: str
    api_group: str
    kind: str
    name: str

    def __str__(self) -> str:
        group = f"{self.api_group}/" if self.api_group else ""
        return f"{self.namespace}/{group}{self.kind}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": {
                "namespace": self.namespace,
                "apiGroup": self.api_group,
                "kind": self.kind,
                "name": self.name,
            }
        }


Backend = ServiceRef | ResourceRef


def _text(value: Any) -> str:
    """A wire string, interned: a table of 100,000 routes repeats a few thousand distinct names,
    and a proxy holding one string object per name instead of per route saves about 40 % of the
    table's memory (bench/proxy.py)."""
    return sys.intern(str(value)) if value else ""


def backend_from_dict(data: dict[str, Any]) -> Backend:
    if "service" in data:
        svc = data["service"]
        return ServiceRef(_text(svc["namespace"]), _text(svc["name"]), _text(svc["port"]))
    res = data["resource"]
    return ResourceRef(str(res["namespace"]), str(res.get("apiGroup") or ""), str(res["kind"]), str(res["name"]))


@dataclass(frozen=True, slots=True)
class Route:
    """One path of one rule: host ("" for a host-less rule), path as written, and its backend."""

    host: str
    path: str
    path_type: str
    backend: Backend
    ingress: str  # "namespace/name" of the Ingress that holds it
    file: str = ""
    line: int = 0
    environment: str = ""
    # What its Ingress's honoured annotations do (core/annotations); None for a plain route, so
    # the request path of a host without annotations never looks further.
    effects: RouteEffects | None = None
    # the endpoint scheme its Ingress's backend-protocol annotation asks for ("": the endpoint's
    # own; core/backends.py)
    protocol: str = ""

    @property
    def kind(self) -> PathKind:
        """How the path matches: ImplementationSpecific is treated as Prefix (documented)."""
        return "Exact" if self.path_type == "Exact" else "Prefix"

    @property
    def match_path(self) -> str:
        """The path as compared: a Prefix without its trailing ``/`` (``""`` is the root)."""
        if self.kind == "Exact":
            return self.path
        return self.path.rstrip("/")

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes two routes the same rule: host, match kind and compared path."""
        return (self.host, self.kind, self.match_path)

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        data = {
            "host": self.host,
            "path": self.path,
            "pathType": self.path_type,
            "backend": self.backend.to_dict(),
            "ingress": self.ingress,
            "file": self.file,
            "line": self.line,
            "environment": self.environment,
        }
        if self.effects is not None:
            data["annotations"] = self.effects.to_dict()
        if self.protocol:  # only when set: route tables without it read as before
            data["protocol"] = self.protocol
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Route:
        return cls(
            host=_text(data.get("host")),
            path=_text(data.get("path")),
            path_type=_text(data["pathType"]),
            backend=backend_from_dict(data["backend"]),
            ingress=_text(data.get("ingress")),
            file=_text(data.get("file")),
            line=int(data.get("line") or 0),
            environment=_text(data.get("environment")),
            effects=_effects(data.get("annotations"), str(data.get("path") or "")),
            protocol=_text(data.get("protocol")),
        )


def _effects(data: Any, path: str) -> RouteEffects | None:
    if not data:
        return None
    canary = data.get("canary")
    backend = backend_from_dict(canary["backend"]) if isinstance(canary, dict) else None
    return RouteEffects.from_dict(data, backend).with_rewrite_path(path)


@dataclass(frozen=True, slots=True)
class TLSEntry:
    """One ``spec.tls`` item: the hosts it covers and the Secret (in the Ingress's namespace)."""

    hosts: tuple[str, ...]
    secret_name: str
    namespace: str
    ingress: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "hosts": list(self.hosts),
            "secretName": self.secret_name,
            "namespace": self.namespace,
            "ingress": self.ingress,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TLSEntry:
        return cls(
            hosts=tuple(data.get("hosts") or ()),
            secret_name=str(data.get("secretName") or ""),
            namespace=str(data.get("namespace") or ""),
            ingress=str(data.get("ingress") or ""),
        )


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The answer for one request: the backend, or None for the built-in 404.

    ``host_group`` is the rule host that was chosen (``"*.foo.com"`` for a wildcard, ``""`` for
    the host-less group, None when no host group matched); ``route`` is None when the request fell
    through to a default backend.
    """

    backend: Backend | None
    route: Route | None
    host_group: str | None
    via_default: bool = False
    protocol: str = ""  # the route's (or the default backend's) protocol (core/protocols.py)

    @property
    def status(self) -> int:
        return 404 if self.backend is None or isinstance(self.backend, ResourceRef) else 200

    def to_dict(self) -> dict[str, Any]:
        if self.backend is None:
            return {"backend": None, "status": 404, "hostGroup": self.host_group}
        answer: dict[str, Any] = {
            "backend": str(self.backend),
            "status": self.status,
            "hostGroup": self.host_group,
            "defaultBackend": self.via_default,
        }
        if self.route is not None:
            answer["route"] = self.route.to_dict()
        return answer


NO_MATCH = RouteMatch(backend=None, route=None, host_group=None)
