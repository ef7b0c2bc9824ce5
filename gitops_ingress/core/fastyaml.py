"""A fast reader for the plain block YAML that Kubernetes manifests are nearly always written in.

PyYAML spends about a microsecond per node on Python node and mark objects before we even build
values; for 10,000 Ingresses that alone is most of the time budget. Manifests written by people and
tools use a small part of YAML: block mappings and sequences, plain or simply quoted scalars, a
few one-line flow lists, comments. This reader handles exactly that part, one regular expression
per line, and gives up (returns None) at the first thing outside it: tabs, anchors, tags, block
scalars, multi-line scalars, escapes, duplicate keys, odd indentation, anything it is not sure of.
The caller then uses the full PyYAML path, which also produces every finding. So this reader never
reports and never guesses; a differential test checks that whenever it answers, it gives the same
values and positions as the full path.
"""

from __future__ import annotations

import re
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from gitops_ingress.core.models import FieldPath
from gitops_ingress.core.settings import LimitSettings
from gitops_ingress.core.yamltree import BOOL, FLOAT, IMPLICIT, INT, NULL, STR, plain_tag

Parsed = list[tuple[Any, dict[FieldPath, tuple[int, int]], int]]

# indent, optional "- " (or a bare "-"), optional simple key and ":", then the rest of the line.
_LINE = re.compile(
    r"""( *)(?:(-)(?: +|$))?(?:([A-Za-z0-9_][A-Za-z0-9_./-]*|"[^"\\]*"|'[^']*'):(?: +|$))?(.*)"""
)
_DOUBLE = re.compile(r'"([^"\\]*)"(?: +(?:#.*)?)?')
_SINGLE = re.compile(r"'((?:[^']|'')*)'(?: +(?:#.*)?)?")
_FLOW_ITEM = re.compile(r""" *(?:"([^"\\]*)"|'([^']*)'|([^\s,#"'\[\]{}&*!|>%@`][^,#"'\[\]{}]*?)) *(,|\]$)""")
# A plain scalar may not start with an indicator; these we leave to PyYAML.
_PLAIN_BAD_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_IMPLICIT_STARTS = frozenset(IMPLICIT)


# Anything but newline and printable characters: tabs, CR, BOM, NEL and the Unicode line breaks
# (YAML 1.1 line ends), control characters (PyYAML rejects them). The full path handles or reports.
_UNUSUAL = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


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


def _value(
    text: str, line: int, column: int, path: FieldPath, marks: dict[FieldPath, tuple[int, int]]
) -> Any:
    """The value after ``key: `` or ``- `` on one line (comments stripped); never a block."""
    first = text[:1]
    if first == '"':
        match = _DOUBLE.fullmatch(text)
        if match is None:
            raise _GiveUp
        return match.group(1)
    if first == "'":
        match = _SINGLE.fullmatch(text)
        if match is None:
            raise _GiveUp
        return match.group(1).replace("''", "'")
    if first == "[":
        return _flow_list(text, line, column, path, marks)
    if first == "{":
        if text.rstrip() != "{}" and not text.startswith("{} #"):
            raise _GiveUp
        return {}
    hash_at = text.find(" #")
    if hash_at >= 0:
        text = text[:hash_at]
    return _scalar(text.rstrip())


def _flow_list(
    text: str, line: int, column: int, path: FieldPath, marks: dict[FieldPath, tuple[int, int]]
) -> list[Any]:
    body = text.rstrip()
    if body == "[]":
        return []
    items: list[Any] = []
    position = 1
    while position < len(body):
        match = _FLOW_ITEM.match(body, position)
        if match is None:
            raise _GiveUp
        double, single, plain = match.group(1, 2, 3)
        start = (
            match.start(1) if double is not None else match.start(2) if single is not None else match.start(3)
        )
        if double is not None or single is not None:
            start -= 1  # the quote
        marks[path + (len(items),)] = (line, column + start)
        if double is not None:
            items.append(double)
        elif single is not None:
            items.append(single.replace("''", "'"))
        else:
            items.append(_scalar(plain))
        position = match.end()
        if match.group(4) == "]":
            if position != len(body):
                raise _GiveUp
            return items
    raise _GiveUp


class _Frame:
    """An open block collection: its column, the container, its field path."""

    __slots__ = ("indent", "container", "path", "is_list")

    def __init__(self, indent: int, container: Any, path: FieldPath) -> None:
        self.indent = indent
        self.container = container
        self.path = path
        self.is_list = type(container) is list


def _document(
    lines: list[str], first_line: int, limits: LimitSettings
) -> tuple[Any, dict[FieldPath, tuple[int, int]], int]:
    """One document's lines (no markers) -> (value, marks, start line); raises _GiveUp."""
    marks: dict[FieldPath, tuple[int, int]] = {}
    stack: list[_Frame] = []
    pending: tuple[Any, Any, FieldPath, int] | None = None  # (container, key/index, path, indent)
    root: dict[str, Any] | None = None
    start_line = 0
    # Column that owns the last one-line scalar: a deeper next line would continue it.
    scalar_owner = 1 << 30
    line_match = _LINE.match
    max_depth = limits.max_yaml_depth
    for offset, raw in enumerate(lines):
        match = line_match(raw)
        indent, dash, key, rest = match.groups()  # type: ignore[union-attr]
        if not dash and key is None and (not rest or rest[0] == "#"):
            continue
        number = first_line + offset
        column = len(indent)
        if column > scalar_owner:
            raise _GiveUp
        if pending is not None:
            owner, slot, pending_path, pending_indent = pending
            pending = None
            if column > pending_indent or (dash and column == pending_indent and type(owner) is dict):
                container: Any = [] if dash else {}
                owner[slot] = container
                stack.append(_Frame(column, container, pending_path))
                if len(stack) > max_depth:
                    raise _GiveUp
                if type(owner) is list:
                    marks[pending_path] = (number, column + 1)  # "-" then the item on the next line
            elif type(owner) is list:
                raise _GiveUp  # a bare "-" item: PyYAML decides where its null sits
        elif root is None:
            if dash:
                raise _GiveUp  # a list document: the full path reports it
            root = {}
            stack.append(_Frame(column, root, ()))
            start_line = number
            marks[()] = (number, column + 1)
        # Deeper frames end here; so does a same-column list ("key:\n- a\nnext: b") at a key line.
        while stack and (
            stack[-1].indent > column or (stack[-1].indent == column and stack[-1].is_list and not dash)
        ):
            stack.pop()
        if not stack or stack[-1].indent != column:
            raise _GiveUp
        frame = stack[-1]
        scalar_owner = 1 << 30
        if dash:
            if not frame.is_list:
                raise _GiveUp
            items = frame.container
            item_path = frame.path + (len(items),)
            item_column = match.start(3 if key is not None else 4)  # type: ignore[union-attr]
            marks[item_path] = (number, item_column + 1)
            if key is None:
                if not rest or rest[0] == "#":
                    items.append(None)
                    pending = (items, len(items) - 1, item_path, column)
                    continue
                items.append(_value(rest, number, item_column + 1, item_path, marks))
                scalar_owner = column
                continue
            mapping: dict[str, Any] = {}
            items.append(mapping)
            frame = _Frame(item_column, mapping, item_path)
            stack.append(frame)
            if len(stack) > max_depth:
                raise _GiveUp
            column = item_column
        elif key is None or frame.is_list:
            raise _GiveUp
        if key[0] in "\"'":
            key = key[1:-1]
            if "''" in key:
                raise _GiveUp
        elif key[0] in _IMPLICIT_STARTS and plain_tag(key) is not STR:
            raise _GiveUp
        mapping = frame.container
        if key in mapping:
            raise _GiveUp  # the full path reports duplicates with both lines
        key_path = frame.path + (key,)
        marks[key_path] = (number, column + 1)
        if not rest or rest[0] == "#":
            mapping[key] = None
            pending = (mapping, key, key_path, column)
            continue
        first = rest[0]
        if (
            first not in _PLAIN_BAD_START
            and first not in _IMPLICIT_STARTS
            and " #" not in rest
            and ": " not in rest
            and rest[-1] not in ": "
        ):
            mapping[key] = rest  # the common case: a plain string with nothing to resolve
        else:
            mapping[key] = _value(rest, number, len(raw) - len(rest) + 1, key_path, marks)
        scalar_owner = column
    if root is None:
        raise _GiveUp  # an explicit empty document: PyYAML decides its position
    if pending is not None and type(pending[0]) is list:
        raise _GiveUp  # a bare "-" item at the end
    if len(marks) > limits.max_yaml_nodes:
        raise _GiveUp  # one mark per key and item: the full path reports the limit
    return root, marks, start_line


def read_simple(text: str, limits: LimitSettings) -> Parsed | None:
    """Every document as (value, marks, start line), or None if the text needs the full reader."""
    if _UNUSUAL.search(text) or ("..." in text and "\n..." in "\n" + text):
        return None
    lines = text.split("\n")
    documents: Parsed = []
    start = 0
    explicit = False  # the current document began with a "---" line
    try:
        for index, raw in enumerate([*lines, "---"]):  # a sentinel marker ends the last document
            if not raw.startswith("---") or (len(raw) > 3 and raw[3] != " "):
                continue
            after = raw[3:].strip()
            if after and not after.startswith("#"):
                return None  # content on the marker line
            body = lines[start:index]
            if any(line.strip() and not line.lstrip().startswith("#") for line in body):
                documents.append(_document(body, start + 1, limits))
            elif explicit:
                return None  # an explicit empty document: PyYAML decides its position
            start, explicit = index + 1, True
            if len(documents) > limits.max_documents_per_file:
                return None
    except _GiveUp:
        return None
    return documents
