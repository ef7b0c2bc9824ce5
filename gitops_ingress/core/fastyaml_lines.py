"""What one line of plain block YAML says on its own: the *shape* the fast reader (core/fastyaml.py) reads.

Everything about a line that does not depend on the lines around it: its indent, a ``- `` dash,
a key, and what follows (nothing, a resolved scalar, ``{}``, a one-line flow list of scalars), or
"give up" (None) for anything outside the part of YAML the reader handles. ``shape_of`` computes it
with one regular expression; ``plain_value`` finds that a line differs from a known one only in
its plain scalar value (``  name: app-1`` and ``  name: app-2``), so that its shape is exactly the
known line's with that value (why: see its docstring), without running the expression.

Each shape also has a ``skeleton``: an id for everything but its scalar value (given by the load's
``fastyaml.LineShapes``), so two documents whose lines have the same skeletons have the same
structure and positions, and differ only in their scalars (what core/fastyaml.py's layouts replay).
"""

from __future__ import annotations

import re
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from gitops_ingress.core.yamltree import (
    BOOL,
    FLOAT,
    IMPLICIT,
    INT,
    NULL,
    STR,
    plain_tag,
)

# indent, optional "- " (or a bare "-"), optional simple key and ":", then the rest of the line.
_LINE = re.compile(r"""( *)(?:(-)(?: +|$))?(?:([A-Za-z0-9_][A-Za-z0-9_./-]*|"[^"\\]*"|'[^']*'):(?: +|$))?(.*)""")
_DOUBLE = re.compile(r'"([^"\\]*)"(?: +(?:#.*)?)?')
_SINGLE = re.compile(r"'((?:[^']|'')*)'(?: +(?:#.*)?)?")
# A plain item stops at "?" like at "," and the brackets (PyYAML's flow rule): "[1:?]" is no item.
_FLOW_ITEM = re.compile(r""" *(?:"([^"\\]*)"|'([^']*)'|([^\s,#"'\[\]{}&*!|>%@`?][^,#"'\[\]{}?]*?)) *(,|\]$)""")
# A plain scalar may not start with an indicator; these we leave to PyYAML.
_PLAIN_BAD_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_IMPLICIT_STARTS = frozenset(IMPLICIT)
# What ends, quotes or nests a plain item in a flow list, or is whitespace there.
_FLOW_STOP = re.compile(r"""[\s,#"'\[\]{}?]""")


# Anything but newline and printable characters: tabs, CR, BOM, NEL and the Unicode line breaks
# (YAML 1.1 line ends), control characters (PyYAML rejects them). The full path handles or reports.
# Only lines that are not ASCII need it (``usual``), so it is compiled on first use, through re's
# own cache: compiling its ranges took a hundredth of a second of every run.
UNUSUAL = "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"

# What follows ``key:`` or ``- `` on a line: nothing (a block or null follows), a scalar, ``{}``,
# or a flow list of scalars (stored as ((value, column offset), ...)).
NOTHING, SCALAR, EMPTY_MAP, FLOW = 0, 1, 2, 3
# What sort of line a shape is: content, blank or comment, document marker.
CONTENT, SKIP, MARKER = 0, 1, 2


class LineShape:
    """What one line says on its own (``shape_of``): named fields with exact types, not a tuple of Any."""

    __slots__ = ("column", "dash", "item_column", "key", "kind", "skeleton", "sort", "value", "value_column")

    def __init__(
        self,
        sort: int,
        column: int = 0,
        dash: bool = False,
        item_column: int = 0,
        key: str | None = None,
        kind: int = NOTHING,
        value: Any = None,
        value_column: int = 0,
        skeleton: int = 0,
    ) -> None:
        self.sort = sort
        self.column = column  # where the line's content starts (0-based)
        self.dash = dash  # a "- " item
        self.item_column = item_column  # where a "- " item's content starts
        self.key = key  # the key before ":", unquoted
        self.kind = kind  # what follows the key or dash (NOTHING, SCALAR, ...)
        self.value = value
        self.value_column = value_column  # where the value after the key or dash starts (1-based)
        self.skeleton = skeleton  # the id of skeleton_key() in the load (LineShapes); 0 until given

    def skeleton_key(self) -> tuple[Any, ...]:
        """Everything but a scalar's value: what the structure and positions of a document depend on."""
        extra: tuple[Any, ...] = ()
        if self.kind == FLOW:  # its items' columns are positions; their values are the items
            extra = (self.value_column, tuple(offset for _, offset in self.value))
        return (self.sort, self.column, self.dash, self.item_column, self.key, self.kind, *extra)


SKIP_LINE = LineShape(SKIP, skeleton=SKIP)
MARKER_LINE = LineShape(MARKER, skeleton=MARKER)
FIRST_SKELETON = 3  # the ids below are CONTENT (unused), SKIP and MARKER


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
        return SCALAR, match.group(1)
    if first == "'":
        match = _SINGLE.fullmatch(text)
        if match is None:
            raise _GiveUp
        return SCALAR, match.group(1).replace("''", "'")
    if first == "[":
        return FLOW, _flow_list(text)
    if first == "{":
        if text.rstrip() != "{}" and not text.startswith("{} #"):
            raise _GiveUp
        return EMPTY_MAP, None
    hash_at = text.find(" #")
    if hash_at >= 0:
        text = text[:hash_at]
    return SCALAR, _scalar(text.rstrip())


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


def _plain_string(rest: str) -> bool:
    """Is the non-empty text after a key or dash a plain string with nothing to resolve (no
    indicator or implicit type at its start, no comment, no ``: ``, no space first or last)?"""
    first = rest[0]
    return (
        first != " "
        and first not in _PLAIN_BAD_START
        and first not in _IMPLICIT_STARTS
        and " #" not in rest
        and ": " not in rest
        and rest[-1] not in ": "
    )


def shape_of(raw: str) -> LineShape | None:
    """What one line says on its own; None when it is outside what this reader handles."""
    if raw.startswith("---") and (len(raw) == 3 or raw[3] == " "):
        after = raw[3:].strip()
        return None if after and not after.startswith("#") else MARKER_LINE
    match = _LINE.match(raw)
    indent, dash, key, rest = match.groups()  # type: ignore[union-attr]
    if not dash and key is None and (not rest or rest[0] == "#"):
        return SKIP_LINE
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
            kind, value = NOTHING, None
        elif _plain_string(rest):
            kind, value = SCALAR, rest  # the common case: a plain string with nothing to resolve
        else:
            kind, value = _value(rest)
    except _GiveUp:
        return None
    return LineShape(CONTENT, len(indent), bool(dash), item_column, key, kind, value, len(raw) - len(rest) + 1)


def usual(raw: str) -> bool:
    """Has the text none of the characters the reader leaves to PyYAML (``UNUSUAL``)? For ASCII,
    ``isprintable`` is exactly that test (newlines aside, which a line has none of) and much faster."""
    if raw.isascii():
        return raw.isprintable()
    return re.search(UNUSUAL, raw) is None


def plain_value(rest: str) -> str | None:
    """``rest``, the text after the prefix of some known line's plain scalar value (indent, dash,
    key, ``:`` and one space), when it is a plain string that needs nothing resolved and holds no
    unusual character; else None. The line's shape is then the known line's, with this value.

    Why that is ``shape_of(line)``: the line expression never backtracks (every group is optional
    and the rest matches anything), so on the same prefix followed by a character other than a
    space it takes the same indent, dash and key; the rest of the line is then the value, and a
    value passing the same test as ``shape_of``'s common case is stored as it is."""
    if not rest or not _plain_string(rest) or not usual(rest):
        return None
    return rest


def flow_item(rest: str) -> tuple[tuple[str, int]] | None:
    """The value of a one-item flow list ``[X]``, ``((X, 1),)``, when ``rest`` is exactly that and X
    a plain string that needs nothing resolved, with no space, no flow indicator and no unusual
    character; else None. After the prefix of a known line whose value is a one-item flow list
    (its item at offset 1: same skeleton), the line's shape is that line's with this value.

    Why that is ``shape_of(line)``: the line's key is the known one's (``plain_value`` says why);
    ``_flow_list`` on ``[X]`` takes X as one plain item (none of the characters that end or quote
    one), at offset 1, and resolves it as ``_scalar`` does, which for a string passing
    ``_plain_string`` is X itself."""
    if len(rest) < 3 or rest[0] != "[" or rest[-1] != "]":
        return None
    item = rest[1:-1]
    if not item.isascii() or not item.isprintable() or not _plain_string(item) or _FLOW_STOP.search(item):
        return None
    return ((item, 1),)
