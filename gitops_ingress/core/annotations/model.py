"""What the annotation registry is made of: a status per key, one spec per key, and the compiled
effect an Ingress's annotations have on its routes (docs/migrating-from-ingress-nginx.md).

A spec knows one ``nginx.ingress.kubernetes.io/*`` key: how we treat it (``Status``), the one line
that says how we differ from ingress-nginx when we do, and a parser that turns the annotation's
string into a value or raises ``AnnotationValueError`` with a message that becomes a finding
(validation names the file, line and rule; a bad value is never a traceback).

``RouteEffects`` is what routing keeps of the honoured annotations of one Ingress, compiled once
when the table is built: a route without annotations carries ``None`` and the proxy's request path
never looks further (docs/dev/architecture.md, the request path pays per route at compile time).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitops_ingress.core.errors import GitopsIngressError

PREFIX = "nginx.ingress.kubernetes.io/"


class Status(str, enum.Enum):
    HONOURED = "honoured"
    DIFFERENT = "honoured-with-difference"
    IGNORED = "ignored"
    REFUSED = "refused"


class AnnotationValueError(GitopsIngressError):
    """An annotation's value that ingress-nginx would not accept either."""


Parser = Callable[[str], Any]


def _as_text(value: str) -> str:
    return value


@dataclass(frozen=True, slots=True)
class AnnotationSpec:
    """One key (without the prefix), its status, the difference or reason in one line, its parser."""

    name: str
    status: Status
    note: str = ""
    parse: Parser = _as_text
    family: str = ""

    @property
    def key(self) -> str:
        return PREFIX + self.name


_CAPTURE = re.compile(r"\$(\d+)")

# A rewrite target in pieces: literal text, or the number of a capture group.
TemplatePart = str | int


def rewrite_parts(target: str) -> tuple[TemplatePart, ...]:
    """``/v2/$1x$2`` -> ``("/v2/", 1, "x", 2)``: nginx's ``$n`` captures, all else literal."""
    parts: list[TemplatePart] = []
    for index, piece in enumerate(_CAPTURE.split(target)):
        if index % 2:
            parts.append(int(piece))
        elif piece:
            parts.append(piece)
    return tuple(parts)


def _capture(found: re.Match[str], number: int) -> str:
    """``$number`` of a match; a group that took no part, or that the regex lacks, is empty (nginx)."""
    if number == 0:
        return found.group(0)
    groups = found.groups()
    return (groups[number - 1] or "") if number <= len(groups) else ""


@dataclass(frozen=True, slots=True)
class RouteEffects:
    """The honoured annotations of one Ingress, as its routes apply them.

    ``regex``: the Ingress's paths are regular expressions (``use-regex`` or ``rewrite-target``);
    the route table then matches every non-Exact path of the host case-insensitively, anchored at
    the start only, longest path first (ingress-nginx's ``location ~*``).
    """

    rewrite_target: str = ""
    regex: bool = False
    app_root: str = ""
    x_forwarded_prefix: str = ""
    upstream_vhost: str = ""
    redirect_url: str = ""
    redirect_code: int = 0
    ssl_redirect: bool | None = None  # None: the default (redirect when the host has TLS)
    force_ssl_redirect: bool = False
    server_aliases: tuple[str, ...] = ()
    from_to_www: bool = False
    www_redirect: str = ""  # on the generated www/non-www twin of a host: 308 to this host
    _template: tuple[TemplatePart, ...] = field(default=(), init=False, repr=False, compare=False, hash=False)
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.rewrite_target:
            object.__setattr__(self, "_template", rewrite_parts(self.rewrite_target))

    def with_rewrite_path(self, path: str) -> RouteEffects:
        """The same effects with the rewrite regex of the route path compiled (one per route)."""
        if not self.rewrite_target:
            return self
        effects = RouteEffects(**{name: getattr(self, name) for name in _FIELDS})
        object.__setattr__(effects, "_pattern", re.compile(path, re.IGNORECASE))
        return effects

    def rewrite(self, path: str) -> str:
        """The upstream path for ``path`` (no query): nginx's ``rewrite "(?i)<path>" <target>``
        replaces the whole URI with the target when the route's regex is found in it."""
        pattern = self._pattern
        if pattern is None:
            return path
        found = pattern.search(path)
        if found is None:
            return path
        return "".join(part if isinstance(part, str) else _capture(found, part) for part in self._template)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if value not in ("", False, None, 0, ()):
                data[name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RouteEffects:
        values = {name: data[name] for name in _FIELDS if name in data}
        if "server_aliases" in values:
            values["server_aliases"] = tuple(values["server_aliases"])
        return cls(**values)


_FIELDS = (
    "rewrite_target",
    "regex",
    "app_root",
    "x_forwarded_prefix",
    "upstream_vhost",
    "redirect_url",
    "redirect_code",
    "ssl_redirect",
    "force_ssl_redirect",
    "server_aliases",
    "from_to_www",
    "www_redirect",
)
