"""Field types and known keys of Ingress and IngressClass, derived from the pydantic models.

Pydantic alone is the wrong tool for two jobs here: its lax mode turns ``number: "80"`` into 80
where the API server answers 400, and ``extra="ignore"`` drops unknown keys without a word. So one
walk over the plain document checks JSON types as the API server's decoder does and reports unknown
keys with their line, before pydantic builds the model from data that is known to fit. The schema
is computed from the models (plus the ObjectMeta and status fields the models do not keep), so the
two never disagree. A ``null`` value means "unset" to the API server; the walk drops such keys so
pydantic sees the same thing; a ``null`` value in a map of strings (labels, annotations) becomes
"", as the API server's decoder makes it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import FieldPath, Ingress, IngressClass, SourceMap
from gitops_ingress.core.validation.reporter import Reporter, field_path

# ObjectMeta fields that the API server knows but our model does not keep.
_OBJECT_META_EXTRA = (
    "generateName",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
    "managedFields",
)
_TOP_LEVEL_EXTRA = ("status",)


@dataclass(frozen=True, slots=True)
class Spec:
    """Expected JSON shape: kind is "str", "int", "any", "object", "list" or "map"."""

    kind: str
    fields: dict[str, Spec] = field(default_factory=dict)  # for "object"
    item: Spec | None = None  # for "list" and "map" (the value type)


ANY = Spec("any")
_SCALARS = {str: Spec("str"), int: Spec("int")}


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def spec_for(model: type[BaseModel]) -> Spec:
    fields: dict[str, Spec] = {}
    for name, info in model.model_fields.items():
        fields[info.alias or name] = _spec_of(info.annotation)
    if model.__name__ == "ObjectMeta":
        fields.update({key: ANY for key in _OBJECT_META_EXTRA})
    elif "metadata" in fields:
        fields.update({key: ANY for key in _TOP_LEVEL_EXTRA})
    return Spec("object", fields)


def _spec_of(annotation: Any) -> Spec:
    annotation = _unwrap_optional(annotation)
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    origin = typing.get_origin(annotation)
    if origin in (tuple, list):
        return Spec("list", item=_spec_of(typing.get_args(annotation)[0]))
    if origin is dict:
        return Spec("map", item=_spec_of(typing.get_args(annotation)[1]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return spec_for(annotation)
    return ANY


_JSON_NAMES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    type(None): "null",
}


def json_type(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


# Called as report(path, message) for a type error and unknown(path) for an unknown key.
TypeReport = Callable[[FieldPath, str], None]
UnknownReport = Callable[[FieldPath], None]


def check(value: Any, spec: Spec, path: FieldPath, bad_type: TypeReport, unknown: UnknownReport | None) -> bool:
    """Check ``value`` against ``spec``; drop null-valued keys; return False on a type error."""
    kind = spec.kind
    if kind == "str":
        if type(value) is str:
            return True
    elif kind == "int":
        if type(value) is int:
            return True
    elif kind == "object":
        if type(value) is dict:
            return _check_object(value, spec, path, bad_type, unknown)
    elif kind == "list":
        if type(value) is list:
            ok = True
            item = spec.item or ANY
            for index, element in enumerate(value):
                if element is None:
                    continue
                ok = check(element, item, path + (index,), bad_type, unknown) and ok
            return ok
    elif kind == "map":
        if type(value) is dict:
            ok = True
            item = spec.item or ANY
            for key, element in value.items():
                if element is None and item.kind == "str":
                    # Go's JSON decoder stores a null map value as the zero value, so the API
                    # server keeps ``chart: null`` (common in rendered Helm output) as ""
                    value[key] = ""
                    continue
                ok = check(element, item, path + (key,), bad_type, unknown) and ok
            return ok
    else:
        return True
    bad_type(path, f"expected {_EXPECTED[kind]}, got {json_type(value)}")
    return False


_EXPECTED = {"str": "string", "int": "integer", "object": "object", "list": "array", "map": "object"}


def _check_object(
    value: dict[str, Any], spec: Spec, path: FieldPath, bad_type: TypeReport, unknown: UnknownReport | None
) -> bool:
    ok = True
    nulls = None
    fields = spec.fields
    for key, element in value.items():
        sub = fields.get(key)
        if sub is None:
            if unknown is not None:
                unknown(path + (key,))
            continue
        if element is None:
            nulls = [key] if nulls is None else nulls + [key]
            continue
        if sub.kind == "str" and type(element) is str:
            continue
        ok = check(element, sub, path + (key,), bad_type, unknown) and ok
    if nulls:
        for key in nulls:
            del value[key]
    return ok


# ``fits(value)``: whether ``value`` passes ``check`` with nothing to report, dropping nulls as it
# does. Most documents do, so ``check_document`` first runs this walk, which builds no field paths
# and dispatches on nothing at run time (the spec is compiled into closures once); only a document
# it refuses is walked again by ``check``, which reports. The second walk sees what the first one
# already changed (dropped nulls, "" for null map values): both changes are idempotent and never
# reported, so the findings and the data are those of ``check`` alone.
Fits = Callable[[Any], bool]


def _any(value: Any) -> bool:
    return True


def _str(value: Any) -> bool:
    return type(value) is str


def _int(value: Any) -> bool:
    return type(value) is int


def fits_of(spec: Spec) -> Fits:
    """``spec`` compiled into the reporting-free walk (see ``Fits``)."""
    kind = spec.kind
    if kind == "str":
        return _str
    if kind == "int":
        return _int
    if kind == "list":
        return _fits_list(fits_of(spec.item or ANY))
    if kind == "map":
        item = spec.item or ANY
        return _fits_string_map if item.kind == "str" else _fits_map(fits_of(item))
    if kind == "object":
        return _fits_object(spec)
    return _any


def _fits_list(item: Fits) -> Fits:
    def fits(value: Any) -> bool:
        return type(value) is list and all(element is None or item(element) for element in value)

    return fits


def _fits_string_map(value: Any) -> bool:
    if type(value) is not dict:
        return False
    for key, element in value.items():
        if type(element) is not str:
            if element is not None:
                return False
            value[key] = ""  # as ``check`` does: Go's decoder keeps a null map value as ""
    return True


def _fits_map(item: Fits) -> Fits:
    def fits(value: Any) -> bool:
        return type(value) is dict and all(item(element) for element in value.values())

    return fits


def _fits_object(spec: Spec) -> Fits:
    strings = frozenset(key for key, sub in spec.fields.items() if sub.kind == "str")
    others = {key: fits_of(sub) for key, sub in spec.fields.items() if sub.kind != "str"}

    def fits(value: Any) -> bool:
        if type(value) is not dict:
            return False
        nulls = None
        for key, element in value.items():
            if type(element) is str and key in strings:
                continue
            sub = others.get(key)
            if sub is None and key not in strings:
                return False  # an unknown key: ``check`` decides whether it is reported
            if element is None:
                nulls = [key] if nulls is None else nulls + [key]
            elif sub is None or not sub(element):
                return False
        if nulls:
            for key in nulls:
                del value[key]
        return True

    return fits


@dataclass(frozen=True, slots=True)
class Schema:
    """A kind's spec with its compiled reporting-free walk."""

    spec: Spec
    fits: Fits

    @classmethod
    def of(cls, model: type[BaseModel]) -> Schema:
        spec = spec_for(model)
        return cls(spec, fits_of(spec))


INGRESS_SCHEMA = Schema.of(Ingress)
INGRESS_CLASS_SCHEMA = Schema.of(IngressClass)


class _TypeCollector:
    """Receives the walk's reports and turns them into findings of one object."""

    __slots__ = ("report", "unknown_severity")

    def __init__(self, report: Reporter, unknown_severity: Severity | None) -> None:
        self.report = report
        self.unknown_severity = unknown_severity

    def bad_type(self, path: FieldPath, message: str) -> None:
        label = field_path(path)
        self.report.add("schema/type", path, f"{label}: Invalid type: {message}", "fix the value's type")

    def unknown(self, path: FieldPath) -> None:
        label = field_path(path)
        self.report.add(
            "schema/unknown-field",
            path,
            f'{label}: unknown field "{path[-1]}"',
            "check the spelling and indentation; kubectl's strict field validation refuses unknown fields "
            "(validation.unknown_fields: warning makes this a warning)",
            severity=self.unknown_severity or Severity.WARNING,
        )


def check_document(
    data: dict[str, Any], schema: Schema, source: SourceMap, key: str, unknown_severity: Severity | None
) -> tuple[bool, list[Finding]]:
    """Type-check one object (dropping null fields); unknown fields are reported unless severity is None."""
    if schema.fits(data):
        return True, []
    spec = schema.spec
    collector = _TypeCollector(Reporter(source, key), unknown_severity)
    unknown = collector.unknown if unknown_severity is not None else None
    ok = check(data, spec, (), collector.bad_type, unknown)
    return ok, collector.report.findings


def model_errors(exc: ValidationError, report: Reporter) -> None:
    """Pydantic's own errors (a case the walk did not foresee), placed at their field."""
    for error in exc.errors():
        path = tuple(part for part in error["loc"] if isinstance(part, (str, int)))
        report.add("schema/type", path, f"{field_path(path)}: {error['msg']}", "fix the value's type")
