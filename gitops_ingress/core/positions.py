"""Field positions of the documents the fast reader reads, stored once per shape.

A SourceMap needs the (line, column) of every field path of a document. As a dict of path tuples
that is about 11 KB per Ingress, more than the parsed object itself: 10,000 Ingresses spent more
time in page faults and allocation for it than in reading the YAML. But the documents of one
repository share their field paths, and most share their whole layout (the same fields in the
same order). So:

* every field path exists once, as a node of a trie (``PathNode``) that the reader walks down as it
  reads: no path tuple is built or hashed per field;
* the layout of a document (its nodes in reading order) is interned, and documents with the same
  layout share one ``path -> slot`` dict;
* each document keeps only its own positions, a flat array of (line, column) per slot.

``CompactMarks`` is the read-only mapping a SourceMap gets; it answers exactly as the dict of the
same positions would. Both caches hold only immutable paths and read-only layouts, so sharing them
between files, documents and threads cannot leak one document's data into another; both are
bounded (the trie is replaced and the layouts forgotten when they grow past their limits), and a
layout is keyed by the node objects themselves, so a replaced trie can never be confused with a
new one.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping

from gitops_ingress.core.models import FieldPath

# Far more than the distinct field paths and document layouts of a large repository.
_MAX_NODES = 50_000
_MAX_LAYOUTS = 4_096


class PathNode:
    """One field path, and the nodes of its children by key or list index."""

    __slots__ = ("children", "path")

    def __init__(self, path: FieldPath) -> None:
        self.path = path
        self.children: dict[str | int, PathNode] = {}


_root = PathNode(())
_node_count = 0
_layouts: dict[tuple[PathNode, ...], dict[FieldPath, int]] = {}


def root_node() -> PathNode:
    """The node of the empty path, where every document starts."""
    return _root


def child_node(node: PathNode, key: str | int) -> PathNode:
    """The node of ``node.path + (key,)``; readers look in ``node.children`` first themselves."""
    global _root, _node_count
    found = node.children.get(key)
    if found is not None:
        return found
    if _node_count >= _MAX_NODES:
        # Start a new trie; the current document finishes on the old one, which then goes away.
        _root, _node_count = PathNode(()), 0
        _layouts.clear()
    _node_count += 1
    found = node.children[key] = PathNode(node.path + (key,))
    return found


class CompactMarks(Mapping[FieldPath, tuple[int, int]]):
    """(line, column) by field path: a shared layout plus this document's own positions."""

    __slots__ = ("_positions", "_shift", "_slots")

    def __init__(self, nodes: list[PathNode], positions: array[int]) -> None:
        """``nodes[i]``'s position is ``positions[2 * i]`` (line), ``positions[2 * i + 1]`` (column).

        The reader gives every path at most one node in ``nodes`` (a second mark of the same path
        overwrites its slot's position instead).
        """
        key = tuple(nodes)
        slots = _layouts.get(key)
        if slots is None:
            slots = {node.path: slot for slot, node in enumerate(nodes)}
            if len(_layouts) >= _MAX_LAYOUTS:
                _layouts.clear()
            _layouts[key] = slots
        self._slots = slots
        self._positions = positions
        self._shift = 0

    def shifted(self, lines: int) -> CompactMarks:
        """The same fields at the same columns, ``lines`` further down: the marks of a document of
        the same layout elsewhere (core/fastyaml.py's replays), sharing this one's arrays."""
        moved = CompactMarks.__new__(CompactMarks)
        moved._slots, moved._positions, moved._shift = self._slots, self._positions, self._shift + lines
        return moved

    def __getitem__(self, path: FieldPath) -> tuple[int, int]:
        slot = self._slots[path]
        return self._positions[2 * slot] + self._shift, self._positions[2 * slot + 1]

    def get(self, path: FieldPath, default: tuple[int, int] | None = None) -> tuple[int, int] | None:  # type: ignore[override]
        slot = self._slots.get(path)
        if slot is None:
            return default
        return self._positions[2 * slot] + self._shift, self._positions[2 * slot + 1]

    def __contains__(self, path: object) -> bool:
        return path in self._slots

    def __iter__(self) -> Iterator[FieldPath]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    def __repr__(self) -> str:
        return f"CompactMarks({dict(self)!r})"
