"""networking.k8s.io/v1 Ingress and IngressClass as frozen slotted dataclasses, plus their origin.

The models are deliberately lenient: every field the API server requires is optional here, so that
a missing field becomes a finding with the API server's wording (see ``validation``) instead of an
error of the model. Each field's JSON name is its name in camelCase (``json_name``): the schema
(core/validation/schema.py) is derived from these classes, type-checks a document and builds the
objects from it in the same walk, so the classes themselves check nothing. ``dump_manifest`` gives
back a valid manifest.

They are plain dataclasses, not pydantic models: ``validate`` builds about 17 of them per Ingress,
and pydantic's import and second validation were a fifth of its time (issue 13). They are frozen
to the type checker (``dataclass_transform``'s ``frozen_default``), not at run time: a runtime
frozen dataclass sets each field through ``object.__setattr__``, which made building them 2.6x
slower (measured on 3-field classes). Equal by value and hashable like the pydantic models were.

``LocatedIngress`` ties a parsed Ingress to the file and the line of every field it came from; the
router, the diff and every report read positions from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, dataclass_transform

from gitops_ingress.core.findings import Position

INGRESS_API_VERSION = "networking.k8s.io/v1"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def model(cls: type[_T]) -> type[_T]:
    """A model class: slotted, equal and hashable by value, read-only to the type checker. Also
    for the records made once per document or object (``SourceMap``, ``LocatedIngress``,
    ``loading.Document``): a runtime frozen one took 0.8-1.5 us to make, 35 ms of validating
    10,000 Ingresses."""
    return dataclass(slots=True, unsafe_hash=True)(cls)


def json_name(name: str) -> str:
    """A field's name in the API: ``path_type`` -> ``pathType``."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


@model
class ServiceBackendPort:
    name: str | None = None
    number: int | None = None


@model
class IngressServiceBackend:
    name: str | None = None
    port: ServiceBackendPort | None = None


@model
class TypedLocalObjectReference:
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None


@model
class IngressBackend:
    service: IngressServiceBackend | None = None
    resource: TypedLocalObjectReference | None = None


@model
class HTTPIngressPath:
    path: str | None = None
    path_type: str | None = None
    backend: IngressBackend | None = None


@model
class HTTPIngressRuleValue:
    paths: tuple[HTTPIngressPath, ...] | None = None


@model
class IngressRule:
    host: str | None = None
    http: HTTPIngressRuleValue | None = None


@model
class IngressTLS:
    hosts: tuple[str, ...] = ()
    secret_name: str | None = None


@model
class IngressSpec:
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    tls: tuple[IngressTLS, ...] = ()
    rules: tuple[IngressRule, ...] = ()


@model
class ObjectMeta:
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@model
class Ingress:
    api_version: str = INGRESS_API_VERSION
    kind: str = "Ingress"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: IngressSpec | None = None

    @property
    def class_name(self) -> str | None:
        """The effective class: ``spec.ingressClassName``, else the deprecated annotation."""
        if self.spec is not None and self.spec.ingress_class_name:
            return self.spec.ingress_class_name
        return self.metadata.annotations.get(INGRESS_CLASS_ANNOTATION) or None


@model
class IngressClassParameters:
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    scope: str | None = None


@model
class IngressClassSpec:
    controller: str | None = None
    parameters: IngressClassParameters | None = None


@model
class IngressClass:
    api_version: str = INGRESS_API_VERSION
    kind: str = "IngressClass"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: IngressClassSpec | None = None


FieldPath = tuple[str | int, ...]


@model  # not frozen at run time, as the models: one per document (the module docstring says why)
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


@model  # one per Ingress, like SourceMap
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
    manifest: dict[str, Any] = _dump(ingress)
    return manifest


def _dump(obj: Any) -> Any:
    """A model as a dict of its set (non-None) fields by JSON name; tuples stay tuples and dicts
    are copied, as pydantic's ``model_dump`` made them."""
    if isinstance(obj, tuple):
        return tuple(_dump(item) for item in obj)
    if isinstance(obj, dict):
        return dict(obj)
    if not dataclasses.is_dataclass(obj):
        return obj
    return {
        json_name(item.name): _dump(value)
        for item in dataclasses.fields(obj)
        if (value := getattr(obj, item.name)) is not None
    }
