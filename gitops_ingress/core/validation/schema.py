"""Field types and known keys of Ingress and IngressClass, derived from the model classes.

The API server answers 400 to ``number: "80"`` and, with kubectl's strict field validation, to an
unknown key; a null value means "unset" to it, and a null value in a map of strings (labels,
annotations) becomes "". The schema is computed from the models (core/models.py, plus the
ObjectMeta and status fields the models do not keep), so the two never disagree, and it is used
twice over:

* ``Schema.read``, the schema compiled into one function per class (core/validation/readers.py),
  type-checks a document and builds its model objects in one walk, reporting nothing;
* a document it refuses is walked again by ``check``, which reports every type error and unknown
  key with its line (dropping null keys and making null map values "" as it goes), and is then
  built by ``Schema.build``, which ignores unknown keys. A null list item passes ``check`` (the
  walk skips it) but not the build: it is reported in the words pydantic used for it when it
  built the models (``_null_items``), so the findings stay what they were.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, Union

from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import FieldPath, Ingress, IngressClass, SourceMap, json_name
from gitops_ingress.core.validation.readers import compile_reader
from gitops_ingress.core.validation.reporter import Reporter, field_path

M_co = TypeVar("M_co", covariant=True)  # a Schema[Ingress] reads Ingresses, never writes any

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
    model: type[Any] | None = None  # for "object": the model class it reads into


ANY = Spec("any")
_SCALARS = {str: Spec("str"), int: Spec("int")}


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def spec_for(model: type[Any]) -> Spec:
    hints = typing.get_type_hints(model)
    fields: dict[str, Spec] = {}
    for item in dataclasses.fields(model):
        fields[json_name(item.name)] = _spec_of(hints[item.name])
    if model.__name__ == "ObjectMeta":
        fields.update({key: ANY for key in _OBJECT_META_EXTRA})
    elif "metadata" in fields:
        fields.update({key: ANY for key in _TOP_LEVEL_EXTRA})
    return Spec("object", fields, model=model)


def _spec_of(annotation: Any) -> Spec:
    annotation = _unwrap_optional(annotation)
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    origin = typing.get_origin(annotation)
    if origin in (tuple, list):
        return Spec("list", item=_spec_of(typing.get_args(annotation)[0]))
    if origin is dict:
        return Spec("map", item=_spec_of(typing.get_args(annotation)[1]))
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
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


@dataclass(frozen=True, slots=True)
class Schema(Generic[M_co]):
    """A kind's spec with its compiled readers (core/validation/readers.py): ``read`` refuses
    unknown keys, ``build`` ignores them; both give None for a value that does not fit."""

    spec: Spec
    read: Callable[[Any], M_co | None]
    build: Callable[[Any], M_co | None]

    @classmethod
    def of(cls, model: type[M_co]) -> Schema[M_co]:
        spec = spec_for(model)
        return cls(spec, compile_reader(spec, strict=True), compile_reader(spec, strict=False))


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


def read_document(
    data: dict[str, Any], schema: Schema[M_co], source: SourceMap, key: str, unknown_severity: Severity | None
) -> tuple[M_co | None, list[Finding]]:
    """One object built from its document, or None, with the findings of its types; unknown fields
    are reported unless severity is None. A refused document loses its null fields (``check``)."""
    built = schema.read(data)
    if built is not None:
        return built, []
    collector = _TypeCollector(Reporter(source, key), unknown_severity)
    unknown = collector.unknown if unknown_severity is not None else None
    if not check(data, schema.spec, (), collector.bad_type, unknown):
        return None, collector.report.findings
    built = schema.build(data)
    if built is None:
        report = collector.report
        # ``check`` accepted it, so what is left are null list items
        for path, message in _null_items(data, schema.spec, ()):
            report.add("schema/type", path, f"{field_path(path)}: {message}", "fix the value's type")
    return built, collector.report.findings


def _null_items(value: Any, spec: Spec, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    """The null items of the lists in ``value``, in the order of the models' fields (pydantic's),
    each with pydantic's message for it."""
    if spec.kind == "object" and type(value) is dict:
        for key, sub in spec.fields.items():
            if key in value:
                yield from _null_items(value[key], sub, path + (key,))
    elif spec.kind == "list" and type(value) is list and spec.item is not None:
        for index, element in enumerate(value):
            if element is None:
                yield path + (index,), _NULL_ITEM.get(spec.item.kind) or _null_object(spec.item)
            else:
                yield from _null_items(element, spec.item, path + (index,))


_NULL_ITEM = {"str": "Input should be a valid string", "int": "Input should be a valid integer"}


def _null_object(spec: Spec) -> str:
    name = spec.model.__name__ if spec.model is not None else "object"
    return f"Input should be a valid dictionary or instance of {name}"
