"""Document layouts of the fast reader (core/fastyaml.py, step 2): compiled once, replayed per document.

A layout is what the structural pass built for a document of given line skeletons, with a
placeholder (``Slot``) where each line's value went. Every later document of those skeletons has
the same containers, keys and order, and differs only in its lines' values; so the layout is
turned into one Python expression that builds the whole document from its lines' values in one
go: nested dict and list displays, ``v[7]`` where line 7's scalar goes, ``v[9][1][0]`` for the
second item of line 9's flow list. Evaluating a display is several times cheaper than
replaying the containers step by step, and a display builds fresh containers on every call, so
nothing mutable is shared between documents. Only keys (as ``repr`` literals of str) and line
numbers go into the source, never a value. A layout too deep for the compiler is not compiled:
its documents take the structural pass, as a first document does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gitops_ingress.core.fastyaml_lines import FLOW, SCALAR, LineShape
from gitops_ingress.core.positions import CompactMarks

Replay = Callable[[Sequence[Any]], dict[str, Any]]


class Slot:
    """Where a value goes in a layout: the document's line (from 0), and the flow list item (-1: none)."""

    __slots__ = ("item", "line")

    def __init__(self, line: int, item: int = -1) -> None:
        self.line = line
        self.item = item


def slot_of(shape: LineShape, index: int) -> Any:
    """What the structural pass stores for line ``index`` when compiling: placeholders, not values."""
    if shape.kind == SCALAR:
        return Slot(index)
    if shape.kind != FLOW:
        return None  # nothing, or {}: no value of the line's own
    return tuple((Slot(index, item), offset) for item, (_, offset) in enumerate(shape.value))


class Layout:
    """A document layout: how to build its value, and the positions it was made with."""

    __slots__ = ("depth", "first", "line", "marks", "replay")

    def __init__(self, replay: Replay, marks: CompactMarks, first: int, line: int, depth: int) -> None:
        self.replay = replay  # the document's value from its lines' values
        self.marks = marks  # the positions of the document it was made from, whose first line
        self.first = first  # had this index in its file
        self.line = line  # that document's start line
        self.depth = depth  # the limits are checked against this and len(marks)


def layout_of(root: dict[str, Any], marks: CompactMarks, first: int, line: int, depth: int) -> Layout | None:
    """The layout of the structural pass's result ``root`` (made with slots); None when the
    compiler refuses its expression (nested deeper than it allows)."""
    try:
        source = f"lambda v: {_display(root)}"
        replay = eval(compile(source, "<fastyaml layout>", "eval"), {"__builtins__": {}})
    except (_NotALiteral, SyntaxError, RecursionError, MemoryError):
        return None
    return Layout(replay, marks, first, line, depth)


class _NotALiteral(Exception):
    """A key whose ``repr`` is not a str literal: that layout is not compiled."""


def _key(key: object) -> str:
    # untrusted YAML: only a str's repr is known to be a literal and nothing else (a float key's
    # repr can be ``nan``, a name); the fast reader's keys are str, anything else is refused here
    if type(key) is not str:
        raise _NotALiteral(key)
    return repr(key)


def _display(value: Any) -> str:
    """The expression that builds ``value`` (a container or slot of the pass) from ``v``."""
    if type(value) is dict:
        return "{" + ", ".join(f"{_key(key)}: {_display(item)}" for key, item in value.items()) + "}"
    if type(value) is list:
        return "[" + ", ".join(_display(item) for item in value) + "]"
    if value is None:
        return "None"
    if value.item < 0:
        return f"v[{value.line}]"
    return f"v[{value.line}][{value.item}][0]"
