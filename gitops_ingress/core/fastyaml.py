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

Why it is built this way, in three steps, each memoised in the ``LineShapes`` of the load (no
module state: the caller decides what one load is):

1. Lines. Everything about one line that does not depend on the lines around it is its *shape*
   (core/fastyaml_lines.py), memoised by the line's text. Manifests repeat most of their lines
   (``pathType: Prefix``, ``kind: Ingress``), so most lines cost one dict lookup; a line that
   differs from a known one only in its plain value (``name: app-7``) or in the item of a one-item
   flow list (``hosts: [app-7.example.com]``) reuses that line's shape with its own value: no
   shape is made or remembered for it (such lines are mostly unique, a new shape each cost more
   than the rest of reading them, and remembering them pushed the lines that do repeat out of the
   memo). So a line's value is read from a list beside its shape's. A line that comes by its
   prefix with the known line's own value is that line: it goes back into the memo (a full memo is
   cleared, and the lines that repeat must not stay on the slower prefix path after that).
2. Documents. The structural part (indentation stack, field paths, positions) runs over a
   document's shapes. Its result depends only on the shapes' *skeletons* (everything but the
   scalar values), and the documents of a repository mostly share one layout: the same fields in
   the same order. So the second time a document's skeletons are seen, the structural pass is
   run once more with placeholders for the values, and what it built becomes a *layout*: the
   containers to make, in order, and which line's value goes where. Every later document of that
   layout is rebuilt from its lines' values by replaying it, with no indentation logic at all.
3. Positions go into ``positions.CompactMarks`` (field paths shared between documents, a flat
   array of numbers per document); a replayed document shares its layout's array, shifted by the
   lines between them.

Containers are built fresh for every document (by the pass or the replay), so nothing mutable is
ever shared; the limits (depth, nodes, documents) are checked on replays as on the pass.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from typing import Any

from gitops_ingress.core.fastyaml_layout import Layout, layout_of, slot_of
from gitops_ingress.core.fastyaml_lines import (
    CONTENT,
    EMPTY_MAP,
    FIRST_SKELETON,
    FLOW,
    MARKER_LINE,
    NOTHING,
    SCALAR,
    SKIP,
    LineShape,
    flow_item,
    plain_value,
    shape_of,
    usual,
)
from gitops_ingress.core.models import FieldPath
from gitops_ingress.core.positions import CompactMarks, PathNode, child_node, root_node
from gitops_ingress.core.settings import LimitSettings

Parsed = list[tuple[Any, Mapping[FieldPath, tuple[int, int]], int]]

_SHAPES_MAX = 8192
_LAYOUTS_MAX = 1024
_NEVER = 1 << 30
_UNSEEN = object()  # a layout key not met yet (None: met once, not compiled)


class LineShapes:
    """What one load has learnt about its lines and documents: shapes by line text, shapes by the
    prefix before a plain value, skeleton ids, and layouts by the skeletons of a document.

    Create one per load (the files of one tree), or keep one across loads on one thread (the sync
    engine's build threads), and pass it to each file's read: the files of a repository share most
    of their lines and layouts, which is what makes the memos pay. One is not for several threads at
    once: skeleton ids are counted without a lock. A shape
    and a layout hold only immutable values (str, int, float, bool, None, tuples), so sharing them
    between files and documents cannot leak state; each memo is cleared when full, so memory stays
    bounded on any input. Skeleton ids are never reused (the counter goes on past a clear), so a
    layout can never be replayed for a document it was not made from.
    """

    __slots__ = ("layouts", "memo", "next_skeleton", "prefixes", "skeletons")

    def __init__(self) -> None:
        self.memo: dict[str, LineShape] = {}
        self.prefixes: dict[str, LineShape] = {}  # "  name" (before ": ") -> a shape whose value other lines replace
        self.skeletons: dict[tuple[Any, ...], int] = {}
        self.layouts: dict[tuple[int, ...], Layout | bool | None] = {}  # False: never compiles
        self.next_skeleton = FIRST_SKELETON

    def shape(self, raw: str) -> LineShape | None:
        """The shape of a line in neither memo (now remembered); None: the reader gives up."""
        if not usual(raw):
            return None
        shape = shape_of(raw)
        if shape is None:
            return None
        if shape.sort == CONTENT:
            self._give_skeleton(shape)
            colon = raw.find(": ")
            if shape.key is not None and colon == shape.value_column - 3 and _by_prefix(shape):
                _bounded(self.prefixes)[raw[:colon]] = shape
        _bounded(self.memo)[raw] = shape
        return shape

    def _give_skeleton(self, shape: LineShape) -> None:
        key = shape.skeleton_key()
        found = self.skeletons.get(key)
        if found is None:
            found = self.next_skeleton
            self.next_skeleton += 1
            _bounded(self.skeletons)[key] = found
        shape.skeleton = found


def _by_prefix(shape: LineShape) -> bool:
    """Can lines of this shape but another value be read by its prefix: a plain scalar after it
    (``plain_value``), or a one-item flow list (``flow_item``), whose item is at offset 1?"""
    return shape.kind == SCALAR or (shape.kind == FLOW and len(shape.value) == 1 and shape.value[0][1] == 1)


def _bounded(memo: dict[Any, Any]) -> dict[Any, Any]:
    """``memo``, emptied first when it is full."""
    if len(memo) >= _SHAPES_MAX:
        memo.clear()
    return memo


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
    if kind == EMPTY_MAP:
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

    ``shapes``: the memos of the load this file belongs to (a fresh one when not given).
    """
    if "..." in text and "\n..." in "\n" + text:
        return None
    load = shapes or LineShapes()
    memo, prefixes = load.memo, load.prefixes
    lines = text.split("\n")
    lines.append("---")  # a sentinel marker ends the last document
    # Each line's shape and value. A line is checked for unusual characters (``usual``) once,
    # when first met: whatever is in the memos passed that check, and lines cover the text.
    found: list[LineShape] = []
    values: list[Any] = []
    markers: list[int] = []
    for raw in lines:
        shape = memo.get(raw)
        if shape is None:
            head, colon, rest = raw.partition(": ")
            known = prefixes.get(head) if colon else None
            if known is not None:
                value = plain_value(rest) if known.kind == SCALAR else flow_item(rest)
                if value is not None:  # a known line's prefix, another value of its kind
                    if value == known.value:  # the known line's own shape: remembered again after a clear
                        _bounded(memo)[raw] = known
                    found.append(known)
                    values.append(value)
                    continue
            shape = load.shape(raw)
            if shape is None:
                return None
        if shape is MARKER_LINE:
            markers.append(len(found))
        found.append(shape)
        values.append(shape.value)
    documents: Parsed = []
    start = 0
    for end in markers:
        document = _document(found[start:end], values[start:end], start, limits, load)
        if isinstance(document, tuple):
            documents.append(document)
            if len(documents) > limits.max_documents_per_file:
                return None
        elif document is not None or start > 0:
            return None  # given up; or an explicit empty document, whose position PyYAML decides
        start = end + 1
    return documents


def _document(
    shapes: list[LineShape], values: list[Any], first: int, limits: LimitSettings, load: LineShapes
) -> tuple[Any, CompactMarks, int] | bool | None:
    """The document of the lines ``shapes`` with their ``values`` (the first at index ``first``),
    None when it holds nothing, False when the reader gives up: by its layout when known, else by
    the structural pass."""
    key = tuple([shape.skeleton for shape in shapes])
    layout = load.layouts.get(key, _UNSEEN)
    if layout is _UNSEEN:
        if len(load.layouts) >= _LAYOUTS_MAX:
            load.layouts.clear()
        load.layouts[key] = None
    elif layout is None:
        layout = load.layouts[key] = _compiled(shapes, first, limits)
    if not isinstance(layout, Layout):  # met once, or the pass gives up or finds nothing
        done = _structure(shapes, values, first, limits)
        return done[:3] if isinstance(done, tuple) else done
    if len(layout.marks) > limits.max_yaml_nodes or layout.depth > limits.max_yaml_depth:
        return False
    shift = first - layout.first
    return layout.replay(values), layout.marks.shifted(shift), layout.line + shift


def _structure(
    shapes: Sequence[LineShape], values: Sequence[Any], first: int, limits: LimitSettings
) -> tuple[Any, CompactMarks, int, int] | bool | None:
    """The structural pass over one document's lines and their values (``first``: the index of
    the first line): its (value, marks, start line, depth), None when it holds nothing, False when
    the reader gives up. ``_compiled`` passes ``fastyaml_layout.Slot`` placeholders as the values."""
    max_depth = limits.max_yaml_depth
    # The marks of the document: nodes[i] (its field path) is at positions[2i], [2i+1].
    nodes: list[PathNode] = []
    positions: list[int] = []
    # Open block collections as (column, container, path node, is a list).
    stack: list[tuple[int, Any, PathNode, bool]] = []
    depth = 0
    # A key or item with nothing after it: (container, key/index, its node, its column, its slot).
    pending: tuple[Any, Any, PathNode, int, int] | None = None
    root: dict[str, Any] | None = None
    start_line = 0
    # Column that owns the last one-line scalar: a deeper next line would continue it.
    scalar_owner = _NEVER
    for index, shape in enumerate(shapes):
        if shape.sort == SKIP:
            continue
        number = first + index + 1
        column = shape.column
        dash = shape.dash
        item_column = shape.item_column
        key = shape.key
        kind = shape.kind
        value = values[index]
        if column > scalar_owner:
            return False
        if pending is not None:
            owner, slot, pending_node, pending_indent, pending_mark = pending
            pending = None
            if column > pending_indent or (dash and column == pending_indent and type(owner) is dict):
                container: Any = [] if dash else {}
                owner[slot] = container
                stack.append((column, container, pending_node, dash))
                depth = max(depth, len(stack))
                if type(owner) is list:  # "-" then the item on the next line: the item is there
                    positions[2 * pending_mark] = number
                    positions[2 * pending_mark + 1] = column + 1
            elif type(owner) is list:
                return False  # a bare "-" item: PyYAML decides where its null sits
        elif root is None:
            if dash:
                return False  # a list document: the full path reports it
            root = {}
            node = root_node()
            stack.append((column, root, node, False))
            depth = max(depth, 1)
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
                return False
            if frame[0] != column:
                return False
        _, container, node, is_list = frame
        scalar_owner = _NEVER
        if dash:
            if not is_list:
                return False
            index_in = len(container)
            node = node.children.get(index_in) or child_node(node, index_in)
            nodes.append(node)
            positions.append(number)
            positions.append(item_column + 1)
            if key is None:
                if kind == NOTHING:
                    container.append(None)
                    pending = (container, index_in, node, column, len(nodes) - 1)
                    continue
                if kind == SCALAR:
                    container.append(value)
                else:
                    container.append(_made(kind, value, number, shape.value_column, node, nodes, positions))
                scalar_owner = column
                continue
            mapping: dict[str, Any] = {}
            container.append(mapping)
            stack.append((item_column, mapping, node, False))
            depth = max(depth, len(stack))
            container = mapping
            column = item_column
        elif key is None or is_list:
            return False
        if key in container:
            return False  # the full path reports duplicates with both lines
        node = node.children.get(key) or child_node(node, key)
        nodes.append(node)
        positions.append(number)
        positions.append(column + 1)
        if kind == NOTHING:
            container[key] = None
            pending = (container, key, node, column, len(nodes) - 1)
            continue
        if kind == SCALAR:
            container[key] = value
        else:
            container[key] = _made(kind, value, number, shape.value_column, node, nodes, positions)
        scalar_owner = column
    if root is None:
        return None
    if pending is not None and type(pending[0]) is list:
        return False  # a bare "-" item at the end
    if len(nodes) > limits.max_yaml_nodes or depth > max_depth:
        return False  # one mark per key and item: the full path reports the limit
    return root, CompactMarks(nodes, array("q", positions)), start_line, depth


def _compiled(shapes: Sequence[LineShape], first: int, limits: LimitSettings) -> Layout | bool:
    """The layout of a document of these shapes; False when there is none to make (the pass gives
    up or finds nothing, or the layout is too deep to compile): a pure function of the skeletons,
    so it is not tried again for them."""
    done = _structure(shapes, [slot_of(shape, index) for index, shape in enumerate(shapes)], first, limits)
    if not isinstance(done, tuple):
        return False
    root, marks, line, depth = done
    return layout_of(root, marks, first, line, depth) or False
