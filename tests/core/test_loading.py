"""YAML loading: positions, and a finding (never an exception) for every kind of bad input."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings

from gitops_ingress.core.fastyaml import read_simple
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.loading import load_yaml_file, load_yaml_mapping
from gitops_ingress.core.settings import LimitSettings
from tests.core.yaml_texts import TEXTS

LIMITS = LimitSettings()
PATH = "environments/prod/web.yaml"


def only(findings, rule):
    found = [f for f in findings if f.rule == rule]
    assert len(found) == 1, findings
    assert found[0].file == PATH
    return found[0]


def test_positions_of_keys_and_items_are_one_based():
    loaded = load_yaml_file(PATH, b"a: 1\nb:\n  - x\n  - {c: d}\n", LIMITS)
    assert loaded.findings == ()
    (doc,) = loaded.documents
    assert doc.data == {"a": 1, "b": ["x", {"c": "d"}]}
    assert doc.source.marks[("a",)] == (1, 1)
    assert doc.source.marks[("b", 0)] == (3, 5)
    assert doc.source.marks[("b", 1, "c")] == (4, 6)
    assert doc.line == 1


def test_scalars_resolve_like_yaml_1_1():
    (doc,) = load_yaml_file(
        PATH, b"i: 0x10\nb: yes\nn: ~\nf: 1.5\ns: '80'\nt: 2024-01-01\nw: !!str 12\nname: no\n", LIMITS
    ).documents
    assert doc.data == {
        "i": 16,
        "b": True,
        "n": None,
        "f": 1.5,
        "s": "80",
        "t": "2024-01-01",
        "w": "12",
        "name": False,
    }


def test_multi_document_file_keeps_index_and_start_line():
    loaded = load_yaml_file(PATH, b"a: 1\n---\n---\nb: 2\n", LIMITS)
    assert [(d.index, d.line, d.data) for d in loaded.documents] == [
        (0, 1, {"a": 1}),
        (1, 3, None),
        (2, 4, {"b": 2}),
    ]
    assert loaded.findings == ()


@pytest.mark.parametrize("data", [b"", b"---\n", b"# only a comment\n"])
def test_empty_file_or_document_is_fine(data):
    loaded = load_yaml_file(PATH, data, LIMITS)
    assert loaded.findings == ()
    assert all(doc.data is None for doc in loaded.documents)


def test_duplicate_key_names_both_lines():
    loaded = load_yaml_file(PATH, b"metadata:\n  name: a\n  x: 1\n  name: b\n", LIMITS)
    finding = only(loaded.findings, "yaml/duplicate-key")
    assert finding.severity is Severity.ERROR
    assert (finding.line, finding.column) == (4, 3)
    assert "line 2" in finding.message and "line 4" in finding.message
    assert loaded.documents[0].data == {"metadata": {"name": "a", "x": 1}}


def billion_laughs() -> bytes:
    lines = [b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        name, prev = chr(97 + level).encode(), chr(96 + level).encode()
        lines.append(name + b": &" + name + b" [" + b",".join([b"*" + prev] * 9) + b"]")
    return b"\n".join(lines) + b"\n"


def test_alias_bomb_is_reported_quickly_without_expanding():
    started = time.perf_counter()
    loaded = load_yaml_file(PATH, billion_laughs(), LIMITS)
    # expanding the bomb would take minutes and gigabytes; the bound only tells the two apart
    assert time.perf_counter() - started < 5
    finding = only(loaded.findings, "yaml/alias-bomb")
    assert finding.severity is Severity.ERROR
    assert finding.line > 1
    assert loaded.documents[0].data is None


def test_a_few_aliases_are_fine_and_merge_keys_work():
    data = b"base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n"
    (doc,) = load_yaml_file(PATH, data, LIMITS).documents
    assert doc.data["use"] == {"x": 1, "y": 3}
    assert doc.source.marks[("use", "y")] == (4, 3)


def test_recursive_alias_is_reported():
    loaded = load_yaml_file(PATH, b"a: &a [*a]\n", LIMITS)
    assert only(loaded.findings, "yaml/alias-bomb").line == 1


def test_file_over_the_size_limit_is_not_parsed():
    data = b"a: " + b"x" * (5 * 1024 * 1024) + b"\n"
    started = time.perf_counter()
    loaded = load_yaml_file(PATH, data, LIMITS)
    assert time.perf_counter() - started < 5  # parsing 5 MiB would be far slower; a bound, not a benchmark
    finding = only(loaded.findings, "yaml/too-large")
    assert str(LIMITS.max_file_bytes) in finding.message
    assert loaded.documents == ()


def test_invalid_utf8_names_the_line():
    loaded = load_yaml_file(PATH, b"a: 1\nb: caf\xe9\n", LIMITS)
    finding = only(loaded.findings, "yaml/encoding")
    assert (finding.line, finding.column) == (2, 7)


def test_tab_indentation():
    loaded = load_yaml_file(PATH, b"metadata:\n\tname: web\n", LIMITS)
    finding = only(loaded.findings, "yaml/tab")
    assert finding.line == 2 and finding.severity is Severity.ERROR


def test_broken_document_gives_syntax_error_with_position():
    loaded = load_yaml_file(PATH, b"a: 1\n---\nspec:\n  rules: [\n    - host\n", LIMITS)
    finding = only(loaded.findings, "yaml/syntax")
    assert finding.line >= 4 and finding.column >= 1
    assert loaded.documents[0].data == {"a": 1}


def test_list_at_top_level_is_not_a_mapping():
    loaded = load_yaml_file(PATH, b"---\n- kind: Ingress\n- kind: Ingress\n", LIMITS)
    finding = only(loaded.findings, "yaml/not-a-mapping")
    assert finding.line == 2


def test_deep_nesting_is_reported_not_crashing():
    for data in (
        b"[" * 200_000 + b"]" * 200_000,
        b"a:\n" + b"".join(b" " * i + b"- \n" for i in range(1, 100)),
    ):
        loaded = load_yaml_file(PATH, data, LIMITS)
        assert only(loaded.findings, "yaml/depth").severity is Severity.ERROR


def test_too_many_documents():
    limits = LimitSettings(max_documents_per_file=3)
    loaded = load_yaml_file(PATH, b"a: 1\n---\na: 2\n---\na: 3\n---\na: 4\n", limits)
    assert only(loaded.findings, "yaml/too-many-documents").line == 7
    assert len(loaded.documents) == 3


def test_too_many_nodes():
    data = b"a: [" + b",".join(b"1" for _ in range(1000)) + b"]\n"
    loaded = load_yaml_file(PATH, data, LimitSettings(max_yaml_nodes=500))
    assert only(loaded.findings, "yaml/too-many-nodes").line == 1


@pytest.mark.parametrize("data", [b"a: !!python/object:os.system x\n", b"a: !custom x\n", b"a: !!set {x}\n!foo b: 1\n"])
def test_non_standard_tags_are_reported(data):
    loaded = load_yaml_file(PATH, data, LIMITS)
    assert any(f.rule == "yaml/tag" for f in loaded.findings)


def test_control_characters_are_a_syntax_error():
    loaded = load_yaml_file(PATH, b"a: 1\nb: \x07\n", LIMITS)
    assert only(loaded.findings, "yaml/syntax").line == 2


def test_load_yaml_mapping():
    assert load_yaml_mapping(PATH, b"a: 1\n", LIMITS) == ({"a": 1}, ())
    assert load_yaml_mapping(PATH, b"", LIMITS) == (None, ())
    data, findings = load_yaml_mapping(PATH, b"a: 1\n---\nb: 2\n", LIMITS)
    assert data is None and findings[0].rule == "yaml/too-many-documents"
    data, findings = load_yaml_mapping(PATH, b"- 1\n", LIMITS)
    assert data is None and findings[0].rule == "yaml/not-a-mapping"


# The fast reader (fastyaml) must agree with the full PyYAML path whenever it answers.


def full_path(data: bytes):
    loaded = load_yaml_file(PATH, data, LIMITS, fast=False)
    return [(doc.data, dict(doc.source.marks), doc.line) for doc in loaded.documents], loaded.findings


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(TEXTS)
def test_fast_reader_agrees_with_pyyaml_whenever_it_answers(text):
    fast = read_simple(text, LIMITS)
    if fast is None:
        return
    documents, findings = full_path(text.encode())
    assert findings == ()
    assert [(value, dict(marks), line) for value, marks, line in fast] == documents


def test_fast_reader_handles_the_usual_manifest_style():
    text = (
        "# a comment\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web  # inline\n"
        "  annotations:\n    nginx.ingress.kubernetes.io/proxy-body-size: '8m'\nspec:\n  tls:\n"
        '    - hosts: ["a.example.com", b.example.com]\n  rules:\n  - host: a.example.com\n    http:\n'
        "      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n"
        "            name: web\n            port: {}\n"
    )
    fast = read_simple(text, LIMITS)
    assert fast is not None
    documents, findings = full_path(text.encode())
    assert findings == ()
    assert [(value, dict(marks), line) for value, marks, line in fast] == documents
