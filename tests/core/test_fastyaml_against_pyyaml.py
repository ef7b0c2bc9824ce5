"""The fast YAML reader held to PyYAML itself (``yaml.safe_load_all``), not to our own node walk.

The property, over generated block-style documents, over mutated real-looking manifests, and over
files of documents that repeat one layout with other values (some broken), read with one
``LineShapes`` as a repository is (so that lines are shaped by prefix and layouts replayed):

* whenever ``read_simple`` answers, PyYAML's safe loaders (the pure-Python one and the libyaml one
  the full path is built on) read the text without error and give exactly the same values, types
  included, and the position the reader gives every field is inside the file and is where
  PyYAML's own composer starts that node;
* whenever PyYAML fails, the reader declines (returns None), so the full path reports the problem;
* through ``load_yaml_file``, fast or not, every finding and every field position lies within the
  file's lines (lines as ``\\n`` ends them, the way editors, git and review tools count them).

Inputs are deterministic (derandomized, no example database) and bounded; the ``slow`` variant
runs many more. Every case the property found is pinned below as an explicit example.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from bench.validate import TEMPLATE
from gitops_ingress.core.fastyaml import LineShapes, read_simple
from gitops_ingress.core.fastyaml_layout import Layout
from gitops_ingress.core.loading import load_yaml_file
from gitops_ingress.core.settings import LimitSettings
from tests.core.yaml_texts import TEXTS, repeated

LIMITS = LimitSettings()
PATH = "environments/prod/shop/web.yaml"
FAILED = object()  # PyYAML raised: the text is not YAML it accepts
QUICK = settings(max_examples=200, deadline=None, derandomize=True, database=None)
LONG = settings(max_examples=2_000, deadline=None, derandomize=True, database=None)
# Texts the property found wrong, and the first two the issue reported (see the explicit tests below).
FOUND = [
    "k: [1:?]\n",  # "?" ends a plain scalar in a flow list: PyYAML and kubectl refuse the line
    "k: [e-@b*?]\n",
    "k: [\n",  # the error is at the end of the stream: it was reported on a line after the last
    "[",
    "a: [b #c] # c\n\n",
    "a: b\rc: [\r",  # PyYAML counts \r, NEL, LS and PS as line ends; editors and git count \n
    "a: b\x85c: [\x85",
    "a: b\u2028c: [",
    "a: b\u2029c: d\u2029e: [x",
    '\r---\n"q k": \r \n---\n',
    "\ufeffa: b\rc: d\r  e: f\r",
    "# c\na: 1\n---\n",  # an empty last document started on a line after the last
    "--- \n# c\n# tail",
    "éé: \x07\n",  # a character PyYAML refuses: its column was counted in bytes
    "\n\ufeffname: web\n",  # a BOM at a later line's start: libyaml skips it, no one sees it
]


def same(left: Any, right: Any) -> bool:
    """Equal and of the same types all the way down (``1 == 1.0 == True`` does not count)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return [(type(k), k) for k in left] == [(type(k), k) for k in right] and all(
            same(left[k], right[k]) for k in left
        )
    if isinstance(left, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, float):
        return repr(left) == repr(right) or (math.isnan(left) and math.isnan(right))
    return bool(left == right)


def pyyaml_values(text: str, loader: type) -> Any:
    try:
        return list(yaml.load_all(text, Loader=loader))
    except Exception:  # any failure (timestamps raise ValueError) means "PyYAML refuses"
        return FAILED


def place(text: str, mark: yaml.Mark) -> tuple[int, int]:
    """A PyYAML mark as (line, column) in the file's own lines, from its character index alone."""
    line_start = text.rfind("\n", 0, mark.index) + 1
    column = mark.index - line_start + 1
    if line_start == 0 and text.startswith("\ufeff"):
        column -= 1  # nobody sees a BOM
    return text.count("\n", 0, mark.index) + 1, column


def pyyaml_marks(text: str) -> list[tuple[dict[tuple[Any, ...], tuple[int, int]], int]] | None:
    """Per document: where PyYAML's composer starts each key and item, and the document's line."""

    def walk(node: yaml.Node, path: tuple[Any, ...], marks: dict[tuple[Any, ...], tuple[int, int]]) -> None:
        if len(path) > 20:
            return  # an alias inside its own anchor: the walk would never end
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and (*path, key.value) not in marks:  # the first of duplicates
                    marks[(*path, key.value)] = place(text, key.start_mark)
                    walk(value, (*path, key.value), marks)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                marks[(*path, index)] = place(text, item.start_mark)
                walk(item, (*path, index), marks)

    result = []
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    for node in nodes:
        marks = {(): place(text, node.start_mark)}
        walk(node, (), marks)
        result.append((marks, marks[()][0]))
    return result


def within(text: str, line: int, column: int) -> bool:
    """Is (line, column) a place in the file: a line it has, at most one past that line's end?"""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the final line end does not start another line
    return 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]) + 1


def check(text: str, shapes: LineShapes | None = None) -> None:
    """The property for one text; ``shapes``: the memos of the load it is read in (its own if None)."""
    fast = read_simple(text, LIMITS, shapes)
    if fast is not None:
        values = [value for value, _marks, _line in fast]
        for loader in (yaml.SafeLoader, yaml.CSafeLoader):
            expected = pyyaml_values(text, loader)
            assert expected is not FAILED, f"{loader.__name__} refuses what the fast reader read as {values!r}"
            assert same(values, expected), (values, expected)
        positions = [(dict(marks), line) for _value, marks, line in fast]
        assert positions == pyyaml_marks(text)
        for marks, line in positions:
            assert within(text, line, 1)
            assert all(within(text, *mark) for mark in marks.values()), marks
    reference = pyyaml_marks(text)
    for use_fast in (True, False):
        loaded = load_yaml_file(PATH, text.encode(), LIMITS, fast=use_fast, shapes=shapes)
        for finding in loaded.findings:
            assert within(text, finding.line, finding.column), finding
        for document in loaded.documents:
            assert within(text, document.line, 1), document.line
            assert all(within(text, *mark) for mark in document.source.marks.values()), document.source.marks
        if reference is not None and len(reference) == len(loaded.documents):
            for document, (marks, line) in zip(loaded.documents, reference, strict=True):
                if document.data is None:
                    continue  # an empty document: PyYAML puts it where the next one starts
                # Our walk names some keys differently (yes -> "true") and merges "<<": compare the rest.
                common = {path for path in document.source.marks.keys() & marks.keys() if "<<" not in path}
                assert {path: document.source.marks[path] for path in common} == {p: marks[p] for p in common}
                assert document.line == line
    try:
        list(yaml.compose_all(text.encode(), Loader=yaml.CSafeLoader))
    except yaml.YAMLError:
        assert any(finding.rule.startswith("yaml/") for finding in loaded.findings), loaded.findings


@QUICK
@given(TEXTS)
def test_the_fast_reader_answers_only_as_pyyaml_does(text: str) -> None:
    check(text)


@QUICK
@given(repeated())
def test_repeated_layouts_are_read_only_as_pyyaml_reads_them(files: list[str]) -> None:
    shapes = LineShapes()
    for text in files:
        check(text, shapes)


@pytest.mark.parametrize("text", FOUND)
def test_each_case_the_property_found(text: str) -> None:
    check(text)


def replayed(shapes: LineShapes) -> int:
    """How many layouts the load compiled (and so replays)."""
    return sum(isinstance(layout, Layout) for layout in shapes.layouts.values())


def test_a_repository_of_one_layout_is_replayed_and_read_as_pyyaml_reads_it() -> None:
    shapes = LineShapes()
    files = ["---\n".join(TEMPLATE.format(n=n + 5 * index, team=index % 3) for n in range(5)) for index in range(6)]
    for text in files:
        check(text, shapes)
    assert replayed(shapes) >= 1  # the check above went through replays, not only the structural pass


@pytest.mark.parametrize(
    "value",
    [
        "*alias",
        '"open',
        "'open",
        "a: b",
        "x #c",
        "[a",
        "{a: 1}",
        "|",
        "1.5",
        "yes",
        "~",
        "2001-12-14",
        "0x1F",
        "",
        "'q'",
    ],
)
def test_a_broken_or_other_value_in_a_replayed_layout_is_read_as_pyyaml_reads_it(value: str) -> None:
    shapes = LineShapes()
    plain = "---\n".join(TEMPLATE.format(n=n, team=1) for n in range(4))
    check(plain, shapes)
    assert replayed(shapes) >= 1
    odd = TEMPLATE.format(n=9, team=1).replace("name: web-9", f"name: {value}")
    check("---\n".join([plain, odd, TEMPLATE.format(n=10, team=1)]), shapes)  # the layout is met again after it
    check(plain, shapes)


def test_a_layout_too_deep_to_compile_is_read_by_the_structural_pass() -> None:
    # 300 nested mappings: past what Python's compiler nests in one expression (the layout's replay)
    deep = "".join(f"{'  ' * level}k{level}:\n" for level in range(300)) + "  " * 300 + "leaf: 1\n"
    limits = LimitSettings(max_yaml_depth=400)
    shapes = LineShapes()
    text = "---\n".join([deep] * 3)
    documents = read_simple(text, limits, shapes)
    assert documents is not None and replayed(shapes) == 0 and False in shapes.layouts.values()
    assert [value for value, _marks, _line in documents] == list(yaml.safe_load_all(text))
    assert [line for _value, _marks, line in documents] == [1, 303, 605]


def test_replayed_documents_share_no_container_and_keep_their_own_lines() -> None:
    shapes = LineShapes()
    text = "---\n".join(TEMPLATE.format(n=n, team=1) for n in range(4))
    documents = read_simple(text, LIMITS, shapes)
    assert documents is not None and replayed(shapes) >= 1
    first, last = documents[0][0], documents[-1][0]
    first["spec"]["rules"][0]["http"]["paths"].append("added")
    assert len(last["spec"]["rules"][0]["http"]["paths"]) == 3
    lines = [line for _value, _marks, line in documents]
    assert lines == [1] + [1 + n * (TEMPLATE.count("\n") + 1) for n in range(1, 4)]
    assert [marks[("spec", "rules", 0, "host")][0] for _value, marks, _line in documents] == [
        line + TEMPLATE.split("\n").index("    - host: app-{n}.example.com") for line in lines
    ]


@pytest.mark.parametrize("text", ["k: [1:?]\n", "k: [a?b]\n", "k: [e-@b*?]\n"])
def test_a_question_mark_in_a_flow_list_is_left_to_pyyaml(text: str) -> None:
    assert read_simple(text, LIMITS) is None
    assert pyyaml_values(text, yaml.SafeLoader) is FAILED


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("k: [\n", 1, 5),  # just after the "[" that is never closed
        ("[", 1, 2),
        ("a: b\r\nc: [\r\n", 2, 5),
        ("a: b\rc: [\r", 1, 10),  # one line as git and editors count them
        ("a: b\x85c: [\x85", 1, 10),
        ("a: b\u2028c: [", 1, 10),
        ("\ufeffk: [x", 1, 6),  # a BOM takes no column
        ("éé: \x07\n", 1, 5),  # columns count characters, not bytes
    ],
)
def test_a_syntax_error_is_reported_where_it_is_in_the_file(text: str, line: int, column: int) -> None:
    (finding,) = load_yaml_file(PATH, text.encode(), LIMITS).findings
    assert (finding.rule, finding.line, finding.column) == ("yaml/syntax", line, column)


def test_fields_after_odd_line_ends_are_placed_in_the_files_own_lines() -> None:
    (document,) = load_yaml_file(PATH, "a: b\rc:\x85  - d\u2028e: f\r\ng: h\n".encode(), LIMITS).documents
    assert dict(document.source.marks) == {(): (1, 1), ("a",): (1, 1), ("c",): (1, 6), ("c", 0): (1, 13)} | {
        ("e",): (1, 15),
        ("g",): (2, 1),
    }


def test_an_empty_last_document_is_placed_on_the_last_line() -> None:
    documents = load_yaml_file(PATH, b"# c\na: 1\n---\n", LIMITS).documents
    assert [(document.data, document.line) for document in documents] == [({"a": 1}, 2), (None, 3)]


@pytest.mark.slow
@pytest.mark.timeout(1200)
@LONG
@given(TEXTS)
def test_the_fast_reader_answers_only_as_pyyaml_does_at_length(text: str) -> None:
    check(text)


def test_a_layout_whose_key_is_not_a_str_is_not_compiled() -> None:
    # the compiled expression carries keys as repr literals: only a str's repr is known to be one
    from gitops_ingress.core.fastyaml_layout import Slot, layout_of
    from gitops_ingress.core.positions import CompactMarks

    marks = CompactMarks.__new__(CompactMarks)
    assert layout_of({float("nan"): Slot(0)}, marks, 0, 1, 1) is None
    compiled = layout_of({"a'b\\\"c": Slot(0)}, marks, 0, 1, 1)
    assert compiled is not None
    assert compiled.replay(["v"]) == {"a'b\\\"c": "v"}


@pytest.mark.parametrize("value", ["b\x07", "b\u2028c", "é\x85", "b\r", "b\ufeff", "é\tx"])
def test_an_unusual_character_after_a_known_prefix_is_left_to_pyyaml(value: str) -> None:
    # a line that differs from a known one only in its value is read without a shape of its own:
    # its value is still checked for the characters the reader leaves to PyYAML
    shapes = LineShapes()
    check("kind: Ingress\nname: a\n", shapes)
    assert "name" in shapes.prefixes
    text = f"kind: Ingress\nname: {value}\n"
    assert read_simple(text, LIMITS, shapes) is None
    check(text, shapes)
    assert read_simple("kind: Ingress\nname: é\n", LIMITS, shapes) == read_simple("kind: Ingress\nname: é\n", LIMITS)


def fast_marks(text: str, shapes: LineShapes | None = None) -> list[tuple[Any, dict[Any, Any], int]] | None:
    """``read_simple``'s answer with its marks as dicts, to compare two reads."""
    documents = read_simple(text, LIMITS, shapes)
    return None if documents is None else [(value, dict(marks), line) for value, marks, line in documents]


@pytest.mark.parametrize(
    "item",
    [
        *["app-2.example.com", "b", "x_y", "/api", "v1.2"],  # read by the known line's prefix
        *["a b", " a", "a ", "a,b", "a?", "a?b", "a#b", "a #b", "a:b", "a: b", "a:", "-a", "?a", ":a", "", "é"],
        *["1", "yes", "~", "1.5", "0x1F", "2001-12-14", "'q'", '"d"', "a]", "[a]", "{a}", "a}", "*a", "&a"],
        *["a] # c", "a]x", "a\x07", "é\u2028"],
    ],
)
def test_a_one_item_flow_list_after_a_known_prefix_is_read_as_pyyaml_reads_it(item: str) -> None:
    # a line that differs from a known one-item flow list only in its item takes the known line's
    # shape with its own item, unless the item is anything but a plain string with nothing to resolve
    shapes = LineShapes()
    check("kind: Ingress\nhosts: [a.example.com]\n", shapes)
    assert shapes.prefixes["hosts"].value == (("a.example.com", 1),)
    text = f"kind: Ingress\nhosts: [{item}]\n"
    by_prefix = fast_marks(text, shapes)
    check(text, shapes)
    assert by_prefix == fast_marks(text)  # as a load that never met the known line reads it
    if item in ("app-2.example.com", "b", "x_y", "/api", "v1.2"):
        assert by_prefix is not None and f"hosts: [{item}]" not in shapes.memo  # no shape of its own


def test_a_line_read_by_its_prefix_is_remembered_again_once_the_memo_was_cleared() -> None:
    # a full memo is cleared; the lines that then come by their known prefix with the known value
    # are that line itself, remembered again, not read by prefix ever after
    shapes = LineShapes()
    text = "---\n".join(TEMPLATE.format(n=n, team=1) for n in range(3))
    expected = fast_marks(text, shapes)
    shapes.memo.clear()
    assert fast_marks(text, shapes) == expected
    assert shapes.memo["kind: Ingress"] is shapes.prefixes["kind"]
    assert shapes.memo["    - hosts: [app-0.example.com]"] is shapes.prefixes["    - hosts"]
    assert "    - hosts: [app-2.example.com]" not in shapes.memo
