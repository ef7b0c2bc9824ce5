"""A model's spec compiled into one function per class that type-checks a document and builds it.

``validate`` reads every Ingress twice over otherwise: once to check the JSON types against the
schema (core/validation/schema.py), once to build the model objects. Here both happen in one walk,
and the walk is plain code: for each model class the source of a function is written from its
fields (what ``dataclasses`` does for ``__init__``) and compiled once at import, so reading a field
costs a dict look-up, a type test and no call; only a nested object or a list item is a call. On
the benchmark's 10,000 Ingresses this is less than the generic recursive walk took alone.

A reader returns the model object, or None when the value does not fit: a wrong JSON type, a null
list item (the API server refuses both), or, for the ``strict`` reader, a key the schema does not
know. It never reports and never changes the value; ``schema.read_document`` walks a document it
refused again with the reporting walk. Null means unset: a null field takes the field's default,
and a null value in a map of strings becomes "" (Go's JSON decoder keeps it as the zero value).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitops_ingress.core.models import json_name

if TYPE_CHECKING:
    from gitops_ingress.core.validation.schema import Spec

Reader = Callable[[Any], Any]
_SCALARS = {"str": "str", "int": "int"}


def compile_reader(spec: Spec, *, strict: bool) -> Reader:
    """The reader of ``spec`` (an object spec with its model class) and of every class under it;
    ``strict``: refuse unknown keys (else they are ignored)."""
    namespace: dict[str, Any] = {}
    sources: dict[type[Any], str] = {}
    root = _function(spec, strict, namespace, sources)
    code = compile("\n\n".join(sources.values()), f"<readers of {root}>", "exec")
    exec(code, namespace)  # the source is written above, from our own model classes only
    reader: Reader = namespace[root]
    return reader


def _function(spec: Spec, strict: bool, namespace: dict[str, Any], sources: dict[type[Any], str]) -> str:
    """The name of ``spec``'s function, whose source is added to ``sources`` (once per class)."""
    model = spec.model
    if model is None:
        raise TypeError(f"an object spec without its model class: {spec}")
    name = f"read_{model.__name__}"
    if model in sources:
        return name
    sources[model] = ""  # before the fields: a class that contained itself would recurse
    namespace[model.__name__] = model
    lines = [f"def {name}(value):", "    if type(value) is not dict:", "        return None"]
    if strict:
        namespace[f"KNOWN_{model.__name__}"] = frozenset(spec.fields)
        lines += [f"    if not value.keys() <= KNOWN_{model.__name__}:", "        return None"]
    lines.append("    get = value.get")
    values = []
    for index, item in enumerate(dataclasses.fields(model)):
        value = f"v{index}"
        values.append(value)
        lines.append(f"    {value} = get({json_name(item.name)!r})")
        convert = _convert(value, spec.fields[json_name(item.name)], strict, namespace, sources)
        default = _default(item, f"{model.__name__}_{item.name}", namespace)
        if default is None:
            lines.append(f"    if {value} is not None:")
        else:
            lines += [f"    if {value} is None:", f"        {value} = {default}", "    else:"]
        lines += [f"        {line}" for line in convert]
    lines.append(f"    return {model.__name__}({', '.join(values)})")
    sources[model] = "\n".join(lines)
    return name


def _default(item: dataclasses.Field[Any], name: str, namespace: dict[str, Any]) -> str | None:
    """The expression of a field's default (None for a default of None); ``name``: the field's
    name in the generated source."""
    if item.default_factory is not dataclasses.MISSING:
        namespace[f"FACTORY_{name}"] = item.default_factory
        return f"FACTORY_{name}()"
    if item.default is dataclasses.MISSING:
        raise TypeError(f"model field {name} has no default: every field of a model is optional")
    if item.default is None:
        return None
    namespace[f"DEFAULT_{name}"] = item.default
    return f"DEFAULT_{name}"


def _convert(
    value: str, spec: Spec, strict: bool, namespace: dict[str, Any], sources: dict[type[Any], str]
) -> list[str]:
    """Lines that check ``value`` (known not to be None) against ``spec`` and make it the field's
    value, returning None from the function when it does not fit."""
    kind = spec.kind
    if kind in _SCALARS:
        return [f"if type({value}) is not {_SCALARS[kind]}:", "    return None"]
    if kind == "object":
        return [
            f"{value} = {_function(spec, strict, namespace, sources)}({value})",
            f"if {value} is None:",
            "    return None",
        ]
    item = spec.item
    if kind == "list" and item is not None and item.kind in _SCALARS:
        return [
            f"if type({value}) is not list:",
            "    return None",
            f"for item in {value}:",
            f"    if type(item) is not {_SCALARS[item.kind]}:",
            "        return None",
            f"{value} = tuple({value})",
        ]
    if kind == "list" and item is not None and item.kind == "object":
        read = _function(item, strict, namespace, sources)
        return [
            f"if type({value}) is not list:",
            "    return None",
            "items = []",
            f"for item in {value}:",
            f"    item = {read}(item)",
            "    if item is None:",
            "        return None",
            "    items.append(item)",
            f"{value} = tuple(items)",
        ]
    if kind == "map" and item is not None and item.kind == "str":
        return [
            f"if type({value}) is not dict:",
            "    return None",
            f"{value} = dict({value})",
            f"for key, item in {value}.items():",
            "    if type(item) is not str:",
            "        if item is not None:",
            "            return None",
            f"        {value}[key] = ''",
        ]
    raise TypeError(f"no reader for a model field of spec {spec}")
