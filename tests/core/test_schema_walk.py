"""The type walk's two halves agree: the reporting-free walk (``Schema.fits``) that ``check_document``
runs first, and the reporting walk (``check``) behind it. Documents are drawn from the Ingress and
IngressClass specs with right and wrong types, nulls and unknown keys; whatever ``fits`` accepts,
changes or refuses, the findings and the data must be what the reporting walk alone gives."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_ingress.core.findings import Severity
from gitops_ingress.core.models import SourceMap
from gitops_ingress.core.validation.schema import (
    INGRESS_CLASS_SCHEMA,
    INGRESS_SCHEMA,
    Schema,
    Spec,
    check_document,
)

_WRONG = st.sampled_from([1, "x", 2.5, True, [], {}, [1], {"a": 1}])
_SOURCE = SourceMap("f.yaml", {(): (1, 1)})


def _value(spec: Spec, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value for ``spec``: mostly of the right type, sometimes null or of a wrong type."""
    if spec.kind == "str":
        right: st.SearchStrategy[Any] = st.sampled_from(["a", "", "80"])
    elif spec.kind == "int":
        right = st.sampled_from([0, 80])
    elif spec.kind == "any":
        right = st.one_of(st.none(), _WRONG)
    elif depth > 4:
        right = st.just([] if spec.kind == "list" else {})
    elif spec.kind == "list":
        assert spec.item is not None
        right = st.lists(_value(spec.item, depth + 1), max_size=3)
    elif spec.kind == "map":
        assert spec.item is not None
        right = st.dictionaries(st.sampled_from(["a", "b"]), _value(spec.item, depth + 1), max_size=2)
    else:
        right = _object(spec, depth)
    return st.one_of(right, right, right, st.none(), _WRONG)


def _object(spec: Spec, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    names = sorted(spec.fields)
    optional = {name: _value(spec.fields[name], depth + 1) for name in names}
    optional["unknownKey"] = _WRONG
    return st.fixed_dictionaries({}, optional=optional)


def _reporting_only(schema: Schema) -> Schema:
    return Schema(schema.spec, lambda value: False)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([INGRESS_SCHEMA, INGRESS_CLASS_SCHEMA]).flatmap(
        lambda schema: st.tuples(st.just(schema), _object(schema.spec, 0))
    ),
    st.sampled_from([Severity.ERROR, None]),
)
def test_the_fast_walk_changes_nothing_the_reporting_walk_would_not(drawn, severity):
    schema, document = drawn
    fast, slow = copy.deepcopy(document), copy.deepcopy(document)
    assert check_document(fast, schema, _SOURCE, "ns/x", severity) == check_document(
        slow, _reporting_only(schema), _SOURCE, "ns/x", severity
    )
    assert fast == slow


def test_the_fast_walk_accepts_a_fitting_document_and_drops_its_nulls():
    document = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "a", "labels": {"chart": None}, "uid": None},
        "spec": {"rules": [{"host": "a.example.com", "http": None}], "tls": None},
    }
    assert INGRESS_SCHEMA.fits(document)
    assert document == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "a", "labels": {"chart": ""}},
        "spec": {"rules": [{"host": "a.example.com"}]},
    }
    for wrong in (
        {"metadata": {"name": 12}},
        {"spec": {"rules": [{"hots": "a"}]}},
        {"spec": {"tls": [{"hosts": [1]}]}},
    ):
        assert not INGRESS_SCHEMA.fits(wrong)
