"""labelSelector and fieldSelector: parsed once per request, then matched against objects.

The grammar follows k8s.io/apimachinery/pkg/labels (equality, set-based ``in``/``notin``,
existence ``key`` / ``!key``) and pkg/fields (``=``, ``==``, ``!=`` on a per-kind allow-list of
field paths). Unsupported field labels answer 400, as the API server does, so a client that relies
on a selector the real server rejects fails here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .resources import ResourceType
from .status import bad_request

Matcher = Callable[[dict[str, Any]], bool]

_EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "/secrets": ("type",),
    "/namespaces": ("status.phase",),
    "/events": (
        "involvedObject.kind",
        "involvedObject.name",
        "involvedObject.namespace",
        "involvedObject.uid",
        "reason",
        "type",
        "source",
    ),
}
_LABEL_KEY = re.compile(r"^([a-z0-9A-Z.\-]+/)?[A-Za-z0-9]([A-Za-z0-9_.\-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class _Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: frozenset[str]

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # "!=" and "notin"


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s+\((.*)\)$")
_EQ_RE = re.compile(r"^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$")


def _parse_requirement(text: str) -> _Requirement:
    if m := _SET_RE.match(text):
        values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
        req = _Requirement(m.group(1), m.group(2), values)
    elif m := _EQ_RE.match(text):
        op = "!=" if m.group(2) == "!=" else "="
        req = _Requirement(m.group(1), op, frozenset([m.group(3)]))
    elif text.startswith("!"):
        req = _Requirement(text[1:].strip(), "!exists", frozenset())
    else:
        req = _Requirement(text, "exists", frozenset())
    if not _LABEL_KEY.match(req.key):
        raise bad_request(f'unable to parse requirement: invalid label key "{req.key}"')
    return req


def label_matcher(selector: str) -> Matcher:
    requirements = [_parse_requirement(p) for p in _split_top_level(selector)]

    def match(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(labels) for r in requirements)

    return match


def _field_value(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def field_matcher(rt: ResourceType, selector: str) -> Matcher:
    allowed = ("metadata.name", "metadata.namespace") + _EXTRA_FIELDS.get(f"/{rt.plural}", ())
    terms: list[tuple[str, bool, str]] = []
    for part in _split_top_level(selector):
        m = _EQ_RE.match(part)
        if not m:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{part}'")
        if m.group(1) not in allowed:
            raise bad_request(f"field label not supported: {m.group(1)}")
        terms.append((m.group(1), m.group(2) != "!=", m.group(3)))

    def match(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, path) == want) == equal for path, equal, want in terms)

    return match


def combined(rt: ResourceType, label_selector: str, field_selector: str) -> Matcher:
    matchers = []
    if label_selector:
        matchers.append(label_matcher(label_selector))
    if field_selector:
        matchers.append(field_matcher(rt, field_selector))
    return lambda obj: all(m(obj) for m in matchers)
