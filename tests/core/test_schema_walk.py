"""The type walk's two halves agree: the compiled reader (``Schema.read``) that ``read_document``
runs first, and the reporting walk (``check``, then ``Schema.build``) behind it. Documents are drawn
from the Ingress and IngressClass specs with right and wrong types, nulls and unknown keys; whatever
``read`` accepts or refuses, the object and the findings must be what the reporting walk alone gives."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_ingress.core.findings import Severity
from gitops_ingress.core.models import Ingress, IngressRule, IngressSpec, ObjectMeta, SourceMap
from gitops_ingress.core.validation.schema import (
    INGRESS_CLASS_SCHEMA,
    INGRESS_SCHEMA,
    Schema,
    Spec,
    read_document,
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


def _reporting_only(schema: Schema[Any]) -> Schema[Any]:
    return Schema(schema.spec, lambda value: None, schema.build)


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
    assert read_document(fast, schema, _SOURCE, "ns/x", severity) == read_document(
        slow, _reporting_only(schema), _SOURCE, "ns/x", severity
    )


def test_the_reader_builds_a_fitting_document_with_its_nulls_unset_and_leaves_it_alone():
    document = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "a", "labels": {"chart": None}, "uid": None},
        "spec": {"rules": [{"host": "a.example.com", "http": None}], "tls": None},
    }
    before = copy.deepcopy(document)
    assert INGRESS_SCHEMA.read(document) == Ingress(
        metadata=ObjectMeta(name="a", labels={"chart": ""}),
        spec=IngressSpec(rules=(IngressRule(host="a.example.com"),)),
    )
    assert document == before
    for wrong in (
        {"metadata": {"name": 12}},
        {"metadata": {"name": True}},
        {"spec": {"rules": [{"hots": "a"}]}},
        {"spec": {"tls": [{"hosts": [1]}]}},
        {"spec": {"rules": [None]}},
        {"spec": {"tls": {"hosts": []}}},
    ):
        assert INGRESS_SCHEMA.read(wrong) is None


def test_a_null_list_item_is_reported_in_the_words_the_models_used_and_refuses_the_object():
    document = {"spec": {"tls": [None, {"hosts": [None, "a"]}], "rules": [None]}, "bogus": 1}
    built, findings = read_document(document, INGRESS_SCHEMA, _SOURCE, "ns/x", Severity.WARNING)
    assert built is None
    assert [(f.rule, f.severity, f.message) for f in findings] == [
        ("schema/unknown-field", Severity.WARNING, 'bogus: unknown field "bogus"'),
        ("schema/type", Severity.ERROR, "spec.tls[0]: Input should be a valid dictionary or instance of IngressTLS"),
        ("schema/type", Severity.ERROR, "spec.tls[1].hosts[0]: Input should be a valid string"),
        ("schema/type", Severity.ERROR, "spec.rules[0]: Input should be a valid dictionary or instance of IngressRule"),
    ]


def test_the_lenient_build_ignores_unknown_fields_the_strict_read_refuses():
    document = {"metadata": {"name": "a", "uid": "u"}, "status": {}, "newField": {"x": 1}}
    assert INGRESS_SCHEMA.read(document) is None
    assert INGRESS_SCHEMA.build(document) == Ingress(metadata=ObjectMeta(name="a"))
