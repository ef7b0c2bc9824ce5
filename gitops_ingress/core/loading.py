"""YAML bytes -> documents of plain Python values with the position of every field, or findings.

This is the file-level half of loading (size, encoding, syntax, document count, depth guard).
Clean manifests in plain block style go through ``fastyaml`` (measured 2.4 times faster on the
benchmark corpus); anything else, and every file with a problem, goes through PyYAML and the node
walk in ``yamltree``, which is where findings come from. Every problem becomes a ``Finding``;
nothing here raises on bad input.

The C composer recurses on the C stack and crashes the interpreter on very deep nesting (measured:
100,000 nested brackets). A cheap upper bound on the depth (bracket count plus twice the longest
line) decides whether a file needs a depth-checking pass over parser events first; ordinary files
never pay for it.

Positions are the file's own: lines as ``\n`` ends them (as editors, git and review tools count),
columns in characters. PyYAML also ends lines at ``\r``, NEL, LS and PS, does not count a BOM, and
puts errors at the end of the stream on a line after the last one; ``_Places`` turns its marks into
places inside the file. A file with none of those characters only pays a comparison per mark.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Any

import yaml
from yaml.nodes import Node

from gitops_ingress.core.fastyaml import LineShapes, read_simple
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import SourceMap, model
from gitops_ingress.core.settings import LimitSettings
from gitops_ingress.core.yamltree import MAX_WALK_DEPTH, Builder, Loader, Stop, error

# Above this bound the C composer's recursion is not known to be safe: check depth on events first.
_SAFE_COMPOSE_DEPTH = 1000
_LIBYAML_DEPTH_PROBLEM = "exceeded maximum nesting depth"
# libyaml reports a reader error's position in bytes, the pure-Python reader in characters.
_BYTE_POSITIONS = issubclass(Loader, getattr(yaml, "CSafeLoader", ()))
# Where PyYAML ends a line; and the characters that make its lines or columns differ from ours.
_YAML_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_ODD_PLACES = re.compile("[\r\x85\u2028\u2029\ufeff]")
_FINAL_BREAK = re.compile("(?:\r\n|[\r\n\x85\u2028\u2029])\\Z")


@model  # frozen to the type checker only, as the models: one is made per document
class Document:
    """One YAML document of a file."""

    data: Any
    source: SourceMap
    index: int
    line: int


@dataclass(frozen=True, slots=True)
class LoadedFile:
    path: str
    documents: tuple[Document, ...]
    findings: tuple[Finding, ...]


class _Places:
    """PyYAML's (line, column), both 1-based, as a place inside the file's own lines."""

    __slots__ = ("_last", "_newlines", "_starts", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._last = text.count("\n") + (0 if text.endswith("\n") else 1)  # the last line's number
        # Offsets where PyYAML's lines start, only when they differ from ours.
        self._starts: list[int] | None = None
        self._newlines: list[int] = []
        if _ODD_PLACES.search(text):
            self._starts = [1 if text.startswith("\ufeff") else 0]  # libyaml skips a BOM
            self._starts.extend(match.end() for match in _YAML_BREAK.finditer(text))
            self._newlines = [index for index, char in enumerate(text) if char == "\n"]

    def mark(self, line: int, column: int) -> tuple[int, int]:
        if self._starts is None:
            if line <= self._last:
                return line, column
            return self.offset(len(self._text))
        starts = self._starts
        if line > len(starts):
            return self.offset(len(self._text))
        return self.offset(starts[line - 1] + column - 1)

    def offset(self, offset: int) -> tuple[int, int]:
        """The (line, column) of the character at ``offset``; the end of the stream is on the last line."""
        text = self._text
        if offset >= len(text):
            # The end of the stream: just after the last line's text, not on a line of its own.
            ending = _FINAL_BREAK.search(text)
            offset = ending.start() if ending is not None else len(text)
        if self._starts is None:
            line_start = text.rfind("\n", 0, offset) + 1
            line = text.count("\n", 0, offset) + 1
        else:
            line = bisect_left(self._newlines, offset) + 1
            line_start = self._newlines[line - 2] + 1 if line > 1 else 0
        column = offset - line_start + 1
        if offset > line_start and text[line_start] == "\ufeff":
            column -= 1  # a BOM is not a character anyone sees (libyaml skips one at any line's start)
        return line, column

    def finding(self, finding: Finding) -> Finding:
        if finding.line <= 0:
            return finding
        line, column = self.mark(finding.line, finding.column)
        if (line, column) == (finding.line, finding.column):
            return finding
        return replace(finding, line=line, column=column)

    def marks(self, marks: dict[Any, tuple[int, int]]) -> dict[Any, tuple[int, int]]:
        if self._starts is None and all(line <= self._last for line, _ in marks.values()):
            return marks
        return {path: self.mark(line, column) for path, (line, column) in marks.items()}


def _depth_bound(data: bytes) -> int:
    """An upper bound on nesting: every flow level needs a bracket, every block level a column."""
    flow = data.count(b"[") + data.count(b"{")
    longest = max(map(len, data.split(b"\n")), default=0)
    return flow + 2 * longest + 2


def _too_deep(path: str, data: bytes, limit: int, places: _Places) -> Finding | None:
    """Walk parser events only (no composing) and report the first place deeper than ``limit``."""
    loader = Loader(data)
    depth = 0
    try:
        while True:
            event = loader.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return None
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limit:
                    mark = event.start_mark
                    line, column = places.mark(mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
                    return error(
                        path,
                        "yaml/depth",
                        f"nesting is deeper than {limit} levels",
                        line,
                        column,
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        if _is_parser_depth_limit(exc):
            return _yaml_error(path, data, exc, places)
        return None  # the composing pass reports syntax errors with their position
    finally:
        loader.dispose()


def _line_of(data: bytes, offset: int) -> tuple[int, int]:
    """The line and (character) column of the byte at ``offset``; the bytes before it are UTF-8."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, len(data[line_start:offset].decode("utf-8", "replace")) + 1


def _is_parser_depth_limit(exc: yaml.YAMLError) -> bool:
    """libyaml 0.2.6 (in PyYAML 6.0.4's wheels) refuses nesting beyond 1000 levels by itself.

    Its scanner looks ahead for a simple key, so the error can come before the first event of a
    deeply nested flow collection, and before our own depth count sees anything.
    """
    return _LIBYAML_DEPTH_PROBLEM in str(getattr(exc, "problem", "") or "")


def _yaml_error(path: str, data: bytes, exc: yaml.YAMLError, places: _Places) -> Finding:
    if _is_parser_depth_limit(exc):
        mark = getattr(exc, "problem_mark", None)
        line, column = places.mark(mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        return error(path, "yaml/depth", "nesting is deeper than the YAML parser allows (1000 levels)", line, column)
    if isinstance(exc, yaml.reader.ReaderError):
        offset = len(data[: exc.position].decode("utf-8", "replace")) if _BYTE_POSITIONS else exc.position
        line, column = places.offset(offset)
        return error(path, "yaml/syntax", f"character {exc.character!r} is not allowed in YAML", line, column)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = places.mark(mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"{context}: {problem}" if context else str(problem)
    text_lines = data.split(b"\n")
    for candidate in (line, line - 1):
        if 0 < candidate <= len(text_lines):
            text = text_lines[candidate - 1]
            indent = text[: len(text) - len(text.lstrip(b" \t"))]
            if b"\t" in indent and text.strip():
                return error(
                    path,
                    "yaml/tab",
                    "a tab is used for indentation",
                    candidate,
                    indent.index(b"\t") + 1,
                    "indent with spaces; YAML does not allow tabs there",
                )
    return error(path, "yaml/syntax", message, line, column)


def load_yaml_file(
    path: str, data: bytes, limits: LimitSettings, *, fast: bool = True, shapes: LineShapes | None = None
) -> LoadedFile:
    """Every document of one file, with findings for anything that is not clean YAML.

    ``fast=False`` skips the fast reader (tests compare the two paths). ``shapes``: the fast
    reader's memo, shared by the files of one load (one is made for this file when not given).
    """
    if len(data) > limits.max_file_bytes:
        return LoadedFile(path, (), (_too_large(path, len(data), limits.max_file_bytes),))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_of(data, exc.start)
        finding = error(
            path,
            "yaml/encoding",
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x})",
            line,
            column,
            "save the file as UTF-8",
        )
        return LoadedFile(path, (), (finding,))
    simple = read_simple(text, limits, shapes) if fast else None
    if simple is not None:
        clean = tuple(
            Document(data=value, source=SourceMap(path, marks), index=index, line=line)
            for index, (value, marks, line) in enumerate(simple)
        )
        return LoadedFile(path, clean, ())
    places = _Places(text)
    if _depth_bound(data) > _SAFE_COMPOSE_DEPTH:
        deep = _too_deep(path, data, min(limits.max_yaml_depth, MAX_WALK_DEPTH), places)
        if deep is not None:
            return LoadedFile(path, (), (deep,))
    documents: list[Document] = []
    findings: list[Finding] = []
    track_aliases = b"&" in data
    loader = Loader(data)
    try:
        while loader.check_node():
            node = loader.get_node()
            index = len(documents)
            if index >= limits.max_documents_per_file:
                mark = node.start_mark
                findings.append(
                    error(
                        path,
                        "yaml/too-many-documents",
                        f"more than {limits.max_documents_per_file} documents in one file",
                        *places.mark(mark.line + 1, mark.column + 1),
                        "split the file",
                    )
                )
                break
            documents.append(_document(path, node, index, limits, track_aliases, findings, places))
    except yaml.YAMLError as exc:
        findings.append(_yaml_error(path, data, exc, places))
    except RecursionError:
        findings.append(error(path, "yaml/depth", "nesting is too deep to read"))
    finally:
        loader.dispose()
    return LoadedFile(path, tuple(documents), tuple(findings))


def _document(
    path: str,
    node: Node,
    index: int,
    limits: LimitSettings,
    track_aliases: bool,
    findings: list[Finding],
    places: _Places,
) -> Document:
    mark = node.start_mark
    builder = Builder(path, limits, track_aliases)
    builder.marks[()] = (mark.line + 1, mark.column + 1)
    try:
        data = builder.child(node, (), 0)
    except Stop:
        data = None
    marks = places.marks(builder.marks)
    line, column = marks[()]
    findings.extend(map(places.finding, builder.findings))
    if data is not None and not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a scalar"
        findings.append(
            error(
                path,
                "yaml/not-a-mapping",
                f"document {index + 1} is {kind}, not a mapping (an object)",
                line,
                column,
                "each document must be one Kubernetes object",
            )
        )
    return Document(data=data, source=SourceMap(path, marks), index=index, line=line)


def _too_large(path: str, size: int, limit: int) -> Finding:
    return error(
        path,
        "yaml/too-large",
        f"the file is {size} bytes, more than the limit of {limit} bytes",
        hint="split it into smaller files or raise policy.limits.max_file_bytes",
    )


def load_yaml_mapping(
    path: str, data: bytes, limits: LimitSettings
) -> tuple[dict[str, Any] | None, tuple[Finding, ...]]:
    """One mapping document (for ``gitops-ingress.yaml``); None when the file is empty or broken."""
    document, findings = load_yaml_mapping_document(path, data, limits)
    return (document.data if document is not None else None), findings


def load_yaml_mapping_document(
    path: str, data: bytes, limits: LimitSettings
) -> tuple[Document | None, tuple[Finding, ...]]:
    """Like ``load_yaml_mapping`` but keeps the positions, for callers that report on fields."""
    loaded = load_yaml_file(path, data, limits)
    findings = list(loaded.findings)
    documents = [doc for doc in loaded.documents if doc.data is not None]
    if len(documents) > 1:
        findings.append(error(path, "yaml/too-many-documents", "expected a single document", documents[1].line, 1))
    if any(f.severity is Severity.ERROR for f in findings) or not documents:
        return None, tuple(findings)
    return documents[0], tuple(findings)
