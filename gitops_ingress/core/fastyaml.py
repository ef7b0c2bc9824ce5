"""A fast reader for the plain block YAML that Kubernetes manifests are nearly always written in.

PyYAML spends about a microsecond per node on Python node and mark objects before we even build
values; for 10,000 Ingresses that alone is most of the time budget. Manifests written by people and
tools use a small part of YAML: block mappings and sequences, plain or simply quoted scalars, a
few one-line flow lists, comments. This reader handles exactly that part and gives up (returns
None) at the first thing outside it: tabs, anchors, tags, block scalars, multi-line scalars,
escapes, duplicate keys, odd indentation, anything it is not sure of. The caller then uses the
full PyYAML path, which also produces every finding. So this reader never reports and never
guesses; a property test (tests/core/test_fastyaml_against_pyyaml.py) checks against PyYAML itself
that whenever it answers, PyYAML accepts the text and gives the same values and positions.

Why it is built this way: everything about one line that does not depend on the lines around it
(indent, dash, key, the resolved scalar value, flow list items, or "give up") is its *shape*,
computed with one regular expression and memoised by the line's text in the ``LineShapes`` of the
load (no module state: the caller decides what one load is). Manifests repeat most of their lines
(``pathType: Prefix``, ``kind: Ingress``, ``- path: /``), so most lines cost one dict lookup; the
loop over a file's lines then only does the structural part (indentation stack, field paths,
positions). Containers are built fresh per line, so nothing mutable is ever shared. The
positions go into ``positions.CompactMarks`` (field paths shared between documents, a flat array of
numbers per document), which keeps a large repository's memory, and so its time, down.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Mapping
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from gitops_ingress.core.models import FieldPath
from gitops_ingress.core.positions import CompactMarks, PathNode, child_node, root_node
from gitops_ingress.core.settings import LimitSettings
from gitops_ingress.core.yamltree import (
    BOOL,
    FLOAT,
    IMPLICIT,
    INT,
    NULL,
    STR,
    plain_tag,
)

Parsed = list[tuple[Any, Mapping[FieldPath, tuple[int, int]], int]]

# indent, optional "- " (or a bare "-"), optional simple key and ":", then the rest of the line.
_LINE = re.compile(r"""( *)(?:(-)(?: +|$))?(?:([A-Za-z0-9_][A-Za-z0-9_./-]*|"[^"\\]*"|'[^']*'):(?: +|$))?(.*)""")
_DOUBLE = re.compile(r'"([^"\\]*)"(?: +(?:#.*)?)?')
_SINGLE = re.compile(r"'((?:[^']|'')*)'(?: +(?:#.*)?)?")
# A plain item stops at "?" like at "," and the brackets (PyYAML's flow rule): "[1:?]" is no item.
_FLOW_ITEM = re.compile(r""" *(?:"([^"\\]*)"|'([^']*)'|([^\s,#"'\[\]{}&*!|>%@`?][^,#"'\[\]{}?]*?)) *(,|\]$)""")
# A plain scalar may not start with an indicator; these we leave to PyYAML.
_PLAIN_BAD_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_IMPLICIT_STARTS = frozenset(IMPLICIT)


# Anything but newline and printable characters: tabs, CR, BOM, NEL and the Unicode line breaks
# (YAML 1.1 line ends), control characters (PyYAML rejects them). The full path handles or reports.
_UNUSUAL = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")

# What follows ``key:`` or ``- `` on a line: nothing (a block or null follows), a scalar, ``{}``,
# or a flow list of scalars (stored as ((value, column offset), ...)).
_NOTHING, _SCALAR, _EMPTY_MAP, _FLOW = 0, 1, 2, 3
# What sort of line a shape is: content, blank or comment, document marker.
_CONTENT, _SKIP, _MARKER = 0, 1, 2
_SHAPES_MAX = 8192
_NEVER = 1 << 30


class LineShapes:
    """The shapes of the lines one load has read: line text -> shape (None: "give up").

    Create one per load (the files of one tree) and pass it to each file's read: the files of a
    repository share most of their lines, which is what makes the memo pay. A shape is a pure
    function of the text and holds only immutable values (str, int, float, bool, None, tuples), so
    sharing it between files and documents cannot leak state; it is cleared when full so memory
    stays bounded on any input.
    """

    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo: dict[str, _Shape] = {}


class _Shape:
    """What one line says on its own (``_shape``): named fields with exact types, not a tuple of Any."""

    __slots__ = ("column", "dash", "item_column", "key", "kind", "sort", "value", "value_column")

    def __init__(
        self,
        sort: int,
        column: int = 0,
        dash: bool = False,
        item_column: int = 0,
        key: str | None = None,
        kind: int = _NOTHING,
        value: Any = None,
        value_column: int = 0,
    ) -> None:
        self.sort = sort
        self.column = column  # where the line's content starts (0-based)
        self.dash = dash  # a "- " item
        self.item_column = item_column  # where a "- " item's content starts
        self.key = key  # the key before ":", unquoted
        self.kind = kind  # what follows the key or dash (_NOTHING, _SCALAR, ...)
        self.value = value
        self.value_column = value_column  # where the value after the key or dash starts (1-based)


_SKIP_LINE = _Shape(_SKIP)
_MARKER_LINE = _Shape(_MARKER)


class _GiveUp(Exception):
    """The text uses YAML this reader does not handle; the caller falls back to PyYAML."""


def _scalar(text: str) -> Any:
    """A plain scalar's value, resolved like PyYAML's safe loader."""
    if text[:1] in _PLAIN_BAD_START or ": " in text or text.endswith(":") or " #" in text:
        raise _GiveUp
    if text[:1] not in _IMPLICIT_STARTS:
        return text
    tag = plain_tag(text)
    if tag is STR:
        return text
    if tag == NULL:
        return None
    if tag == BOOL:
        return text.lower() in ("yes", "true", "on")
    if tag == INT:
        if text.isdigit() and (text[0] != "0" or text == "0"):
            return int(text)  # plain decimal; a leading 0 means octal in YAML 1.1
        return SafeConstructor().construct_yaml_int(ScalarNode(tag, text))
    if tag == FLOAT:
        return SafeConstructor().construct_yaml_float(ScalarNode(tag, text))
    raise _GiveUp  # timestamps and the like: let the full path decide


def _value(text: str) -> tuple[int, Any]:
    """(kind, payload) of the text after ``key: `` or ``- `` (comments stripped); never a block."""
    first = text[:1]
    if first == '"':
        match = _DOUBLE.fullmatch(text)
        if match is None:
            raise _GiveUp
        return _SCALAR, match.group(1)
    if first == "'":
        match = _SINGLE.fullmatch(text)
        if match is None:
            raise _GiveUp
        return _SCALAR, match.group(1).replace("''", "'")
    if first == "[":
        return _FLOW, _flow_list(text)
    if first == "{":
        if text.rstrip() != "{}" and not text.startswith("{} #"):
            raise _GiveUp
        return _EMPTY_MAP, None
    hash_at = text.find(" #")
    if hash_at >= 0:
        text = text[:hash_at]
    return _SCALAR, _scalar(text.rstrip())


def _flow_list(text: str) -> tuple[tuple[Any, int], ...]:
    """``[a, 'b', "c"]`` -> ((value, offset of the item in text), ...)."""
    body = text.rstrip()
    if body == "[]":
        return ()
    items: list[tuple[Any, int]] = []
    position = 1
    while position < len(body):
        match = _FLOW_ITEM.match(body, position)
        if match is None:
            raise _GiveUp
        double, single, plain = match.group(1, 2, 3)
        if double is not None:
            items.append((double, match.start(1) - 1))  # the item starts at its quote
        elif single is not None:
            items.append((single.replace("''", "'"), match.start(2) - 1))
        else:
            items.append((_scalar(plain), match.start(3)))
        position = match.end()
        if match.group(4) == "]":
            if position != len(body):
                raise _GiveUp
            return tuple(items)
    raise _GiveUp


def _shape(raw: str) -> _Shape | None:
    """What one line says on its own; None when it is outside what this reader handles."""
    if raw.startswith("---") and (len(raw) == 3 or raw[3] == " "):
        after = raw[3:].strip()
        return None if after and not after.startswith("#") else _MARKER_LINE
    match = _LINE.match(raw)
    indent, dash, key, rest = match.groups()  # type: ignore[union-attr]
    if not dash and key is None and (not rest or rest[0] == "#"):
        return _SKIP_LINE
    try:
        if key is not None:
            if key[0] in "\"'":
                key = key[1:-1]
                if "''" in key:
                    return None
            elif key[0] in _IMPLICIT_STARTS and plain_tag(key) is not STR:
                return None
        item_column = match.start(3 if key is not None else 4) if dash else 0  # type: ignore[union-attr]
        first = rest[:1]
        if not first or first == "#":
            kind, value = _NOTHING, None
        elif (
            first not in _PLAIN_BAD_START
            and first not in _IMPLICIT_STARTS
            and " #" not in rest
            and ": " not in rest
            and rest[-1] not in ": "
        ):
            kind, value = _SCALAR, rest  # the common case: a plain string with nothing to resolve
        else:
            kind, value = _value(rest)
    except _GiveUp:
        return None
    return _Shape(_CONTENT, len(indent), bool(dash), item_column, key, kind, value, len(raw) - len(rest) + 1)


def _made(
    kind: int,
    value: Any,
    line: int,
    column: int,
    node: PathNode,
    nodes: list[PathNode],
    positions: list[int],
) -> Any:
    """A fresh value of a non-scalar kind (``{}`` or a flow list, whose items get positions)."""
    if kind == _EMPTY_MAP:
        return {}
    items: list[Any] = []
    for item, offset in value:
        nodes.append(child_node(node, len(items)))
        positions.append(line)
        positions.append(column + offset)
        items.append(item)
    return items


def read_simple(text: str, limits: LimitSettings, shapes: LineShapes | None = None) -> Parsed | None:
    """Every document as (value, marks, start line), or None if the text needs the full reader.

    ``shapes``: the memo of the load this file belongs to (a fresh one when not given).
    """
    if _UNUSUAL.search(text) or ("..." in text and "\n..." in "\n" + text):
        return None
    lines = text.split("\n")
    lines.append("---")  # a sentinel marker ends the last document
    documents: Parsed = []
    explicit = False  # the current document began with a "---" line
    max_depth = limits.max_yaml_depth
    memo = (shapes or LineShapes()).memo
    # The marks of the current document: nodes[i] (its field path) is at positions[2i], [2i+1].
    nodes: list[PathNode] = []
    positions: list[int] = []
    # Open block collections as (column, container, path node, is a list).
    stack: list[tuple[int, Any, PathNode, bool]] = []
    # A key or item with nothing after it: (container, key/index, its node, its column, its slot).
    pending: tuple[Any, Any, PathNode, int, int] | None = None
    root: dict[str, Any] | None = None
    start_line = 0
    # Column that owns the last one-line scalar: a deeper next line would continue it.
    scalar_owner = _NEVER
    for number, raw in enumerate(lines, 1):
        shape = memo.get(raw)
        if shape is None:
            shape = _shape(raw)
            if shape is None:
                return None
            if len(memo) >= _SHAPES_MAX:
                memo.clear()
            memo[raw] = shape
        sort = shape.sort
        if sort == _SKIP:
            continue
        if sort == _MARKER:
            if root is not None:
                if pending is not None and type(pending[0]) is list:
                    return None  # a bare "-" item at the end
                if len(nodes) > limits.max_yaml_nodes:
                    return None  # one mark per key and item: the full path reports the limit
                documents.append((root, CompactMarks(nodes, array("q", positions)), start_line))
                if len(documents) > limits.max_documents_per_file:
                    return None
            elif explicit:
                return None  # an explicit empty document: PyYAML decides its position
            explicit = True
            nodes, positions, stack, pending, root, scalar_owner = [], [], [], None, None, _NEVER
            continue
        column = shape.column
        dash = shape.dash
        item_column = shape.item_column
        key = shape.key
        kind = shape.kind
        value = shape.value
        if column > scalar_owner:
            return None
        if pending is not None:
            owner, slot, pending_node, pending_indent, pending_mark = pending
            pending = None
            if column > pending_indent or (dash and column == pending_indent and type(owner) is dict):
                container: Any = [] if dash else {}
                owner[slot] = container
                stack.append((column, container, pending_node, dash))
                if len(stack) > max_depth:
                    return None
                if type(owner) is list:  # "-" then the item on the next line: the item is there
                    positions[2 * pending_mark] = number
                    positions[2 * pending_mark + 1] = column + 1
            elif type(owner) is list:
                return None  # a bare "-" item: PyYAML decides where its null sits
        elif root is None:
            if dash:
                return None  # a list document: the full path reports it
            root = {}
            node = root_node()
            stack.append((column, root, node, False))
            start_line = number
            nodes.append(node)
            positions.append(number)
            positions.append(column + 1)
        frame = stack[-1]
        if frame[0] != column or (frame[3] and not dash):
            # Deeper frames end here; so does a same-column list ("key:\n- a\nnext: b") at a key line.
            while stack:
                frame = stack[-1]
                if frame[0] > column or (frame[0] == column and frame[3] and not dash):
                    stack.pop()
                else:
                    break
            else:
                return None
            if frame[0] != column:
                return None
        _, container, node, is_list = frame
        scalar_owner = _NEVER
        if dash:
            if not is_list:
                return None
            index = len(container)
            node = node.children.get(index) or child_node(node, index)
            nodes.append(node)
            positions.append(number)
            positions.append(item_column + 1)
            if key is None:
                if kind == _NOTHING:
                    container.append(None)
                    pending = (container, index, node, column, len(nodes) - 1)
                    continue
                if kind == _SCALAR:
                    container.append(value)
                else:
                    container.append(_made(kind, value, number, shape.value_column, node, nodes, positions))
                scalar_owner = column
                continue
            mapping: dict[str, Any] = {}
            container.append(mapping)
            stack.append((item_column, mapping, node, False))
            if len(stack) > max_depth:
                return None
            container = mapping
            column = item_column
        elif key is None or is_list:
            return None
        if key in container:
            return None  # the full path reports duplicates with both lines
        node = node.children.get(key) or child_node(node, key)
        nodes.append(node)
        positions.append(number)
        positions.append(column + 1)
        if kind == _NOTHING:
            container[key] = None
            pending = (container, key, node, column, len(nodes) - 1)
            continue
        if kind == _SCALAR:
            container[key] = value
        else:
            container[key] = _made(kind, value, number, shape.value_column, node, nodes, positions)
        scalar_owner = column
    return documents
