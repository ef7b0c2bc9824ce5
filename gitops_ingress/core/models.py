"""networking.k8s.io/v1 Ingress and IngressClass as frozen pydantic models, plus their origin.

The models are deliberately lenient: every field the API server requires is optional here, so that
a missing field becomes a finding with the API server's wording (see ``validation``) instead of a
pydantic error. Pydantic only rejects values of the wrong type. Field names follow the API
(camelCase) through aliases so that ``model_dump(by_alias=True)`` gives back a valid manifest.

``LocatedIngress`` ties a parsed Ingress to the file and the line of every field it came from; the
router, the diff and every report read positions from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gitops_ingress.core.findings import Position

INGRESS_API_VERSION = "networking.k8s.io/v1"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class ServiceBackendPort(_Model):
    name: str | None = None
    number: int | None = None


class IngressServiceBackend(_Model):
    name: str | None = None
    port: ServiceBackendPort | None = None


class TypedLocalObjectReference(_Model):
    api_group: str | None = Field(default=None, alias="apiGroup")
    kind: str | None = None
    name: str | None = None


class IngressBackend(_Model):
    service: IngressServiceBackend | None = None
    resource: TypedLocalObjectReference | None = None


class HTTPIngressPath(_Model):
    path: str | None = None
    path_type: str | None = Field(default=None, alias="pathType")
    backend: IngressBackend | None = None


class HTTPIngressRuleValue(_Model):
    paths: tuple[HTTPIngressPath, ...] | None = None


class IngressRule(_Model):
    host: str | None = None
    http: HTTPIngressRuleValue | None = None


class IngressTLS(_Model):
    hosts: tuple[str, ...] = ()
    secret_name: str | None = Field(default=None, alias="secretName")


class IngressSpec(_Model):
    ingress_class_name: str | None = Field(default=None, alias="ingressClassName")
    default_backend: IngressBackend | None = Field(default=None, alias="defaultBackend")
    tls: tuple[IngressTLS, ...] = ()
    rules: tuple[IngressRule, ...] = ()


class ObjectMeta(_Model):
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Ingress(_Model):
    api_version: str = Field(default=INGRESS_API_VERSION, alias="apiVersion")
    kind: str = "Ingress"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: IngressSpec | None = None

    @property
    def class_name(self) -> str | None:
        """The effective class: ``spec.ingressClassName``, else the deprecated annotation."""
        if self.spec is not None and self.spec.ingress_class_name:
            return self.spec.ingress_class_name
        return self.metadata.annotations.get(INGRESS_CLASS_ANNOTATION) or None


class IngressClassParameters(_Model):
    api_group: str | None = Field(default=None, alias="apiGroup")
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    scope: str | None = None


class IngressClassSpec(_Model):
    controller: str | None = None
    parameters: IngressClassParameters | None = None


class IngressClass(_Model):
    api_version: str = Field(default=INGRESS_API_VERSION, alias="apiVersion")
    kind: str = "IngressClass"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: IngressClassSpec | None = None


FieldPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SourceMap:
    """Line and column (1-based) of every field of one YAML document, keyed by field path."""

    file: str
    marks: Mapping[FieldPath, tuple[int, int]] = field(default_factory=dict)
    # fields that came from another file than ``file`` (a kustomize patch): field path -> file
    origins: Mapping[FieldPath, str] = field(default_factory=dict)

    def position(self, *path: str | int) -> Position:
        """The position of ``path``, or of its nearest ancestor that has one."""
        key: FieldPath = tuple(path)
        while True:
            mark = self.marks.get(key)
            if mark is not None:
                return Position(
                    file=self.origins.get(key, self.file) if self.origins else self.file, line=mark[0], column=mark[1]
                )
            if not key:
                return Position(file=self.file)
            key = key[:-1]


@dataclass(frozen=True, slots=True)
class LocatedIngress:
    """An Ingress with the effective namespace it will live in and where each field came from."""

    ingress: Ingress
    namespace: str
    source: SourceMap
    environment: str = ""

    @property
    def name(self) -> str:
        return self.ingress.metadata.name or ""

    @property
    def key(self) -> str:
        """``namespace/name``, the identity used in messages and tie-breaks."""
        return f"{self.namespace}/{self.name}"

    def position(self, *path: str | int) -> Position:
        return self.source.position(*path)


def dump_manifest(ingress: Ingress) -> dict[str, Any]:
    """The Ingress as a Kubernetes manifest (camelCase keys, unset fields left out)."""
    return ingress.model_dump(by_alias=True, exclude_none=True, exclude_defaults=False)
