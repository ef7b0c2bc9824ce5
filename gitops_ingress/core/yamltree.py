"""PyYAML nodes -> plain Python values plus the (line, column) of every field path.

Why it is built this way:

* PyYAML's C parser composes nodes (with marks) much faster than anything in Python, so we let it
  compose and build plain values ourselves in one tight walk, recording ``(line, column)`` per
  field path on the way. PyYAML's own constructor would lose the marks and silently keep the last
  of two duplicate keys; ours reports both lines.
* The composer shares one node object between an anchor and its aliases. When a file has anchors
  we memoise built values by node identity, so a billion-laughs document costs one walk of its
  distinct nodes while the *expanded* size is still counted against the limits: the bomb is
  reported, never expanded. Files without ``&`` skip that bookkeeping.
* The composer calls ``resolve`` for every node. Ours only marks plain scalars; the builder then
  resolves a plain scalar with one set lookup in the common case (it starts with a letter that no
  implicit type can start with), which removes a third of the composing time.
"""

from __future__ import annotations

from typing import Any, cast

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import FieldPath
from gitops_ingress.core.settings import LimitSettings

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_Y = "tag:yaml.org,2002:"
STR, MAP, SEQ, NULL = _Y + "str", _Y + "map", _Y + "seq", _Y + "null"
INT, FLOAT, BOOL, MERGE = _Y + "int", _Y + "float", _Y + "bool", _Y + "merge"
PLAIN = "?plain"  # our resolver's mark for a plain scalar not yet resolved
IMPLICIT: dict[str, list[tuple[str, Any]]] = {
    key: list(value) for key, value in yaml.resolver.Resolver.yaml_implicit_resolvers.items() if key is not None
}
_AS_TEXT = frozenset({_Y + "timestamp", _Y + "binary", _Y + "value"})
_MAPPING_TAGS = frozenset({MAP, _Y + "set"})
_SEQUENCE_TAGS = frozenset({SEQ, _Y + "omap", _Y + "pairs"})
# Our own walk recurses in Python; a configured depth beyond this is clamped.
MAX_WALK_DEPTH = 500


class Loader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, minus resolving: plain scalars get the PLAIN tag and are resolved later.

    The composer calls ``resolve`` for every node; doing the real work there costs a third of the
    composing time, while most values are quoted or start with a letter that no implicit type can
    start with, which the builder checks with one dict lookup.
    """

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return PLAIN if implicit[0] else STR
        return MAP if kind is MappingNode else SEQ


class Stop(Exception):
    """Ends the walk of a document after a fatal finding (bomb, depth)."""


def error(path: str, rule: str, message: str, line: int = 0, column: int = 0, hint: str = "") -> Finding:
    return Finding(rule=rule, severity=Severity.ERROR, message=message, file=path, line=line, column=column, hint=hint)


_BOOL_WORDS = frozenset(
    [
        "yes",
        "Yes",
        "YES",
        "no",
        "No",
        "NO",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
    ]
)
_NULL_WORDS = frozenset(("~", "null", "Null", "NULL", ""))
_WORD_STARTS = frozenset("yYnNtTfFoO")


def plain_tag(value: str) -> str:
    """The implicit tag of a plain scalar, as PyYAML's resolver decides it (YAML 1.1)."""
    first = value[:1]
    if first in _WORD_STARTS:
        if value in _BOOL_WORDS:
            return BOOL
        return NULL if value in _NULL_WORDS else STR
    for tag, regexp in IMPLICIT.get(first, ()):
        if regexp.match(value):
            return str(tag)
    return STR


class Builder:
    """Builds plain values from one document's nodes and records the position of every field."""

    __slots__ = (
        "aliases",
        "child",
        "constructor",
        "findings",
        "marks",
        "max_aliases",
        "max_depth",
        "max_nodes",
        "memo",
        "nodes",
        "path",
    )

    def __init__(self, path: str, limits: LimitSettings, track_aliases: bool) -> None:
        self.path = path
        self.marks: dict[FieldPath, tuple[int, int]] = {}
        self.findings: list[Finding] = []
        self.nodes = 0
        self.aliases = 0
        # id(node) -> (value, expanded node count); None while the node is being built.
        self.memo: dict[int, tuple[Any, int] | None] | None = {} if track_aliases else None
        self.max_depth = min(limits.max_yaml_depth, MAX_WALK_DEPTH)
        self.max_nodes = limits.max_yaml_nodes
        self.max_aliases = limits.max_yaml_aliases
        self.constructor = SafeConstructor()
        self.child = self._shared if track_aliases else self._node

    def _shared(self, node: Node, path: FieldPath, depth: int) -> Any:
        memo = self.memo
        key = id(node)
        if key in memo:  # type: ignore[operator]
            seen = memo[key]  # type: ignore[index]
            if seen is None:
                self._stop(node, "yaml/alias-bomb", "an alias refers to a node that contains it")
            value, size = seen  # type: ignore[misc]
            self.aliases += 1
            self.nodes += size
            if self.aliases > self.max_aliases or self.nodes > self.max_nodes:
                self._stop(
                    node,
                    "yaml/alias-bomb",
                    f"aliases expand to more than the limits ({self.max_aliases} aliases, {self.max_nodes} nodes)",
                )
            return value
        memo[key] = None  # type: ignore[index]
        before = self.nodes
        value = self._node(node, path, depth)
        memo[key] = (value, self.nodes - before + 1)  # type: ignore[index]
        return value

    def _node(self, node: Node, path: FieldPath, depth: int) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            tag = node.tag
            if tag is STR:
                return node.value
            return self._scalar(node, plain_tag(node.value) if tag is PLAIN else tag)
        if depth >= self.max_depth:
            self._stop(node, "yaml/depth", f"nesting is deeper than {self.max_depth} levels")
        items = node.value
        self.nodes += len(items) + 1
        if self.nodes > self.max_nodes:
            self._stop(node, "yaml/too-many-nodes", f"the document has more than {self.max_nodes} nodes")
        if node.tag not in (_SEQUENCE_TAGS if cls is SequenceNode else _MAPPING_TAGS):
            self._add(node, "yaml/tag", f"the YAML tag {node.tag} is not supported", "remove the tag")
        if cls is SequenceNode:
            return self._sequence(items, path, depth + 1)
        return self._mapping(items, path, depth + 1)

    def _sequence(self, items: list[Node], path: FieldPath, depth: int) -> list[Any]:
        marks = self.marks
        child = self.child
        result: list[Any] = []
        append = result.append
        for index, item in enumerate(items):
            item_path = path + (index,)
            mark = item.start_mark
            marks[item_path] = (mark.line + 1, mark.column + 1)
            append(child(item, item_path, depth))
        return result

    def _mapping(self, items: list[tuple[Node, Node]], path: FieldPath, depth: int) -> dict[Any, Any]:
        marks = self.marks
        child = self.child
        inline = self.memo is None
        mapping: dict[Any, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in items:
            key = key_node.value
            if key_node.__class__ is not ScalarNode or key_node.tag is not STR:
                tag = key_node.tag
                if tag is PLAIN and (key[:1] not in IMPLICIT or plain_tag(key) is STR):
                    pass
                elif tag is PLAIN and plain_tag(key) == MERGE:
                    merges.append(value_node)
                    continue
                else:
                    key = self._key(key_node)
                    if key is None:
                        continue
            mark = key_node.start_mark
            key_path = path + (key,)
            if key in mapping:
                self._duplicate(key, marks.get(key_path, (0, 0))[0], mark)
                continue
            marks[key_path] = (mark.line + 1, mark.column + 1)
            if inline and value_node.__class__ is ScalarNode:
                value = value_node.value
                tag = value_node.tag
                if tag is STR or (tag is PLAIN and value[:1] not in IMPLICIT):
                    mapping[key] = value
                    continue
            mapping[key] = child(value_node, key_path, depth)
        if merges:
            self._merge(mapping, merges, path, depth)
        return mapping

    def _duplicate(self, key: Any, first: int, mark: Any) -> None:
        self.findings.append(
            error(
                self.path,
                "yaml/duplicate-key",
                f'duplicate key "{key}": first on line {first}, again on line {mark.line + 1}',
                mark.line + 1,
                mark.column + 1,
                "remove one of them; YAML parsers silently keep only one",
            )
        )

    def _merge(self, mapping: dict[Any, Any], merges: list[Node], path: FieldPath, depth: int) -> None:
        """``<<: *base``: keys written in the mapping win over merged ones (YAML merge spec)."""
        marks = self.marks
        merge_path = path + ("<<",)
        for value_node in merges:
            sources = value_node.value if value_node.__class__ is SequenceNode else [value_node]
            for source in sources:
                merged = self.child(source, merge_path, depth)
                if not isinstance(merged, dict):
                    self._add(source, "yaml/merge", "a merge key (<<) needs a mapping or a list of mappings")
                    continue
                mark = source.start_mark
                for key, value in merged.items():
                    if key not in mapping:
                        mapping[key] = value
                        marks[path + (key,)] = (mark.line + 1, mark.column + 1)

    def _scalar(self, node: Node, tag: str) -> Any:
        try:
            if tag == STR:
                return node.value
            if tag == NULL:
                return None
            if tag == INT:
                return self.constructor.construct_yaml_int(cast(ScalarNode, node))
            if tag == BOOL:
                return self.constructor.construct_yaml_bool(cast(ScalarNode, node))
            if tag == FLOAT:
                return self.constructor.construct_yaml_float(cast(ScalarNode, node))
        except (ValueError, IndexError, KeyError, TypeError, yaml.YAMLError):  # e.g. "!!int" on ""
            self._add(node, "yaml/syntax", f"{node.value!r} is not a valid {tag[len(_Y) :]}")
            return node.value
        if tag not in _AS_TEXT:
            self._add(node, "yaml/tag", f"the YAML tag {tag} is not supported", "remove the tag")
        return node.value

    def _key(self, node: Node) -> str | None:
        if node.__class__ is not ScalarNode:
            self._add(node, "yaml/key", "a mapping key must be a scalar", "quote the key")
            return None
        tag = node.tag
        value = self._scalar(node, plain_tag(node.value) if tag is PLAIN else tag)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "null" if value is None else str(value)

    def _add(self, node: Node, rule: str, message: str, hint: str = "") -> None:
        mark = node.start_mark
        self.findings.append(error(self.path, rule, message, mark.line + 1, mark.column + 1, hint))

    def _stop(self, node: Node, rule: str, message: str) -> None:
        self._add(node, rule, message)
        raise Stop
