"""Parsers of annotation values, with ingress-nginx's own rules for what is accepted.

Each takes the annotation's string and returns the value, or raises ``AnnotationValueError`` with
a message that says what was expected; validation turns it into a finding at the annotation's line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gitops_ingress.core.annotations.model import AnnotationValueError

_TRUE = ("true", "1", "t", "yes", "on")  # Go's strconv.ParseBool plus nginx's on/off
_FALSE = ("false", "0", "f", "no", "off")
_HOST = re.compile(r"(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


def boolean(value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise AnnotationValueError(f'"{value}" is not a boolean: write "true" or "false"')


def integer(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise AnnotationValueError(f'"{value}" is not a whole number') from None
        if not low <= number <= high:
            raise AnnotationValueError(f"{number} is out of range: {low} to {high}")
        return number

    return parse


redirect_code = integer(300, 399)


def choice(choices: tuple[str, ...], what: str) -> Callable[[str], str]:
    """One of ``choices``, in any case, returned as the choice is spelt; ``what`` names the kind."""
    spelt = {option.lower(): option for option in choices}

    def parse(value: str) -> str:
        found = spelt.get(value.strip().lower())
        if found is None:
            raise AnnotationValueError(f'"{value}" is not {what}: one of {", ".join(choices)}')
        return found

    return parse


def one_of(choices: tuple[str, ...], what: str, normal: Callable[[str], str] = str.strip) -> Callable[[str], str]:
    """A parser that takes one of ``choices`` (after ``normal``, e.g. upper-casing), named ``what``."""

    def parse(value: str) -> str:
        text = normal(value.strip())
        if text not in choices:
            raise AnnotationValueError(f'"{value}" is not {what}: one of {", ".join(choices)}')
        return text

    return parse


def url(value: str) -> str:
    """An absolute http(s) URL, as ingress-nginx's redirect annotations require."""
    text = value.strip()
    if not re.match(r"https?://[^\s/]+", text) or any(c in text for c in " \t\r\n\"'`;{}"):
        raise AnnotationValueError(f'"{value}" is not an absolute http:// or https:// URL')
    return text


def uri_path(value: str) -> str:
    """A path starting with ``/``, free of characters nginx would read as configuration."""
    text = value.strip()
    if not text.startswith("/") or any(c in text for c in " \t\r\n\"'`;{}\\"):
        raise AnnotationValueError(f'"{value}" is not a path starting with "/" (no spaces, quotes, ; or braces)')
    return text


def rewrite_target(value: str) -> str:
    """A path with ``$n`` capture references, or an absolute URL; no configuration characters."""
    text = value.strip()
    if not text or any(c in text for c in " \t\r\n\"'`;{}\\"):
        raise AnnotationValueError(f'"{value}" is not a rewrite target (a path such as /$2, without spaces, quotes, ;)')
    return text


def header_value(value: str) -> str:
    if not value or any(c in value for c in "\r\n\0"):
        raise AnnotationValueError("a header value must be one line, not empty")
    return value


def host_name(value: str) -> str:
    text = value.strip().lower()
    if not _HOST.match(text):
        raise AnnotationValueError(f'"{value}" is not a host name')
    return text


def host_list(value: str) -> tuple[str, ...]:
    names = tuple(host_name(part) for part in value.split(",") if part.strip())
    if not names:
        raise AnnotationValueError("expected a comma-separated list of host names")
    return names
