"""Example paths for a regex path: requests a ``use-regex`` / ``rewrite-target`` route matches.

The route diff gives every entry an example request that the tables answer differently, so for a
host with regex paths it needs paths each regex really matches; ``/api/(.*)`` taken literally
matches nothing. ``samples(pattern)`` walks the pattern as Python's own parser reads it
(``re._parser``, the tree ``re.compile`` builds from) and writes strings it matches: the shortest
(every repeat at its minimum, the first branch, the first character of each class), a fuller
one (a repeat that may be empty taken once, with a fresh letter), the latter telling
``(/|$)(.*)``'s captures apart, and the same with the second, third and fourth alternative of
every branch (``/(api|v1)/`` has a sample under each name, and another rule may take one of them). Characters are chosen from those a request path carries as they
are (letters, digits, ``-._~/``); a sample is kept only when the route table would match it
(case-insensitively, anchored at the start, as ingress-nginx's ``location ~*``) and it is a
normalised path (core/routing/paths.py), so the example is a request that can be sent. A pattern
this cannot sample (lookarounds it cannot satisfy, a class of no path character) has no samples;
the diff then falls back to the literal path.
"""

from __future__ import annotations

import re
import re._constants as sre  # type: ignore[import-not-found]  # the opcodes of re._parser's tree
import re._parser as sre_parse  # type: ignore[import-not-found]  # no stubs: the parser re.compile uses
from typing import Any

from gitops_ingress.core.routing.paths import UnsafePath, normalize_path

PATH_CHARACTERS = "a0-._~/" + "bcdefghijklmnopqrstuvwxyz123456789"
FILL = "any"  # what a repeat that may be empty is filled with in the fuller sample
BRANCHES = 4  # the first alternatives of each ``a|b|c`` are each taken in a sample of their own
_CATEGORIES = {
    sre.CATEGORY_DIGIT: "0",
    sre.CATEGORY_NOT_DIGIT: "a",
    sre.CATEGORY_WORD: "a",
    sre.CATEGORY_NOT_WORD: "-",
    sre.CATEGORY_SPACE: "",  # no path character is a space: unsampleable
    sre.CATEGORY_NOT_SPACE: "a",
}


class _Unsampleable(Exception):
    pass


def samples(pattern: str) -> list[str]:
    """Normalised paths that ``pattern`` matches as the route table matches regex paths (empty
    when none could be written); the shortest first."""
    try:
        tree = sre_parse.parse(pattern, re.IGNORECASE)
        compiled = re.compile(pattern, re.IGNORECASE)
    except (re.error, OverflowError, RecursionError):
        return []
    found: list[str] = []
    for full, branch in ((False, 0), (True, 0), *((full, b) for b in range(1, BRANCHES) for full in (False, True))):
        try:
            text = _Writer(full, branch).sequence(tree)
        except (_Unsampleable, RecursionError):
            continue
        if not text.startswith("/"):
            text = "/" + text
        try:
            normal = normalize_path(text)
        except UnsafePath:
            continue
        if normal == text and compiled.match(text) and text not in found:
            found.append(text)
    return found


class _Writer:
    """One string for a parsed pattern; ``full``: repeats that may be empty are taken once."""

    def __init__(self, full: bool, branch: int) -> None:
        self.full = full
        self.branch = branch
        self.groups: dict[int, str] = {}

    def sequence(self, items: Any) -> str:
        return "".join(self.item(op, value) for op, value in items)

    def item(self, op: Any, value: Any) -> str:
        if op is sre.LITERAL:
            return chr(value)
        if op is sre.NOT_LITERAL:
            return next(c for c in PATH_CHARACTERS if c != chr(value).lower())
        if op is sre.ANY:
            return "a"
        if op is sre.IN:
            return _one_of(value)
        if op is sre.AT:
            return ""
        if op is sre.BRANCH:
            choices = value[1]
            return self.sequence(choices[min(self.branch, len(choices) - 1)])
        if op is sre.SUBPATTERN:
            number, _, _, inner = value
            text = self.sequence(inner)
            if number is not None:
                self.groups[number] = text
            return text
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, high, inner = value
            times = 1 if self.full and low == 0 and high != 0 else low
            if self.full and low == 0 and _is_any(inner):
                return FILL
            return "".join(self.sequence(inner) for _ in range(times))
        if op is sre.ATOMIC_GROUP:
            return self.sequence(value)
        if op is sre.GROUPREF:
            return self.groups.get(value, "")
        if op is sre.CATEGORY:
            return _category(value)
        raise _Unsampleable(op)  # lookarounds, conditionals: the match check would decide


def _is_any(inner: Any) -> bool:
    """``.`` or a negated class alone: a repeat of it takes the fill word."""
    return len(inner) == 1 and inner[0][0] in (sre.ANY, sre.NOT_LITERAL)


def _category(name: Any) -> str:
    found = _CATEGORIES.get(name, "")
    if not found:
        raise _Unsampleable(name)
    return found


def _one_of(items: Any) -> str:
    """The first path character a character class admits."""
    negated = bool(items) and items[0][0] is sre.NEGATE
    for char in PATH_CHARACTERS:
        if _admits(items[1:] if negated else items, char) != negated:
            return char
    raise _Unsampleable("class")


def _admits(items: Any, char: str) -> bool:
    code, other = ord(char), ord(char.upper())
    for op, value in items:
        if op is sre.LITERAL and value in (code, other):
            return True
        if op is sre.RANGE and (value[0] <= code <= value[1] or value[0] <= other <= value[1]):
            return True
        if op is sre.CATEGORY and _category_admits(value, char):
            return True
    return False


def _category_admits(name: Any, char: str) -> bool:
    checks = {
        sre.CATEGORY_DIGIT: char.isdigit(),
        sre.CATEGORY_NOT_DIGIT: not char.isdigit(),
        sre.CATEGORY_WORD: char.isalnum() or char == "_",
        sre.CATEGORY_NOT_WORD: not (char.isalnum() or char == "_"),
        sre.CATEGORY_SPACE: False,
        sre.CATEGORY_NOT_SPACE: True,
    }
    return checks.get(name, False)
