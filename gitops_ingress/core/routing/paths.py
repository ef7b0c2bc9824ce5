"""The path a request is matched and forwarded under: dot-segments removed, or refused.

A backend that normalises ``/public/../admin`` itself reaches ``/admin``; a proxy that matched the
raw text routed it by the ``/public`` rule, past whatever guards ``/admin``. So the proxy (and
every other caller of the routing core that is given a request path) first brings the path to
the one form both sides read the same way, matches that, and forwards that
(docs/routing.md, "Request paths"):

1. refused (``UnsafePath``): a raw backslash, a NUL (raw or ``%00``), and an encoded slash or
   backslash (``%2f``, ``%5c``) that separates a dot-segment inside a segment (``..%2f``,
   ``%5c..``): a backend that decodes it before removing dot-segments would climb out of the
   rule that matched. An encoded slash between ordinary characters (``group%2Fproject``) is data
   and stays as it is.
2. percent-encoded unreserved characters (RFC 3986 2.3: letters, digits, ``-._~``) are decoded,
   hex case-insensitively, so ``%2e%2E`` is ``..`` and ``%61dmin`` is ``admin``; any other escape
   stays exactly as sent;
3. runs of ``/`` are merged into one (nginx's ``merge_slashes on``, which ingress-nginx keeps):
   merged *before* dot-segments are removed, because ``/public//../admin`` is ``/public/admin``
   by RFC 3986 but ``/admin`` to a backend that merges first;
4. dot-segments are removed as RFC 3986 section 5.2.4 does; ``..`` above the root stays at the
   root. A segment that is a dot-segment followed by a ``;`` parameter (``..;``) is refused:
   some servlet containers read it as ``..``.

The query is not part of the path: callers cut it off before and put it back after. A path with
none of ``%``, ``\\``, ``//`` and NUL, and no ``.`` right after a ``/`` (dots in file names such as
``/app.min.js`` are no dot-segments), is returned as the very object it was (``normalize_path``'s
first lines), so the common case costs a few byte scans.
"""

from __future__ import annotations

import re

from gitops_ingress.core.errors import GitopsIngressError

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_SLASHES = re.compile(r"/{2,}")
_ENCODED_SEPARATOR = re.compile(r"%(?:2[fF]|5[cC])")
_DOT_SEGMENTS = frozenset((".", ".."))


class UnsafePath(GitopsIngressError):
    """A request path that cannot be normalised safely (the proxy answers 400)."""


def normalize_path(path: str) -> str:
    """``path`` (no query) in the form it is matched and forwarded under; raises UnsafePath.

    ``path`` is the request's path as text (the proxy decodes its bytes with surrogateescape, so
    every byte survives the round trip); the result is ``path`` itself when nothing changes."""
    plain = path.find("%") < 0 and path.find("\\") < 0 and path.find("//") < 0 and path.find("\x00") < 0
    # nothing to decode, refuse or merge; and no dot-segment, which follows a slash (a dot in a
    # file name, as in /app.js, is none: such paths took the slow way, about 20k instructions
    # each time the route cache missed)
    if plain and (path.find(".") < 0 or (path.startswith("/") and path.find("/.") < 0)):
        return path
    return _normalized(path)


def _normalized(path: str) -> str:
    """normalize_path the long way, for every path (tests check the short way against it)."""
    if path.find("\\") >= 0 or path.find("\x00") >= 0:
        raise UnsafePath("backslash or NUL in the request path")
    decoded = _ESCAPE.sub(_decode_unreserved, path) if path.find("%") >= 0 else path
    if decoded.find("%") >= 0:
        lowered = decoded.lower()
        if lowered.find("%00") >= 0:
            raise UnsafePath("encoded NUL in the request path")
        if lowered.find("%2f") >= 0 or lowered.find("%5c") >= 0:
            _refuse_encoded_dot_separators(decoded)
    merged = _SLASHES.sub("/", decoded)
    result = _remove_dot_segments(merged) if merged.find(".") >= 0 else merged
    return path if result == path else result


def normalize_target(target: str) -> str:
    """A path with an optional ``?query``: the path normalised, the query kept as it is (the
    tools that take a request path from a person: ``routes --path``, ``/api/v1/resolve``)."""
    path, mark, query = target.partition("?")
    return normalize_path(path) + mark + query


def _decode_unreserved(match: re.Match[str]) -> str:
    value = int(match.group(1), 16)
    return chr(value) if value in _UNRESERVED else match.group(0)


def _refuse_encoded_dot_separators(path: str) -> None:
    for segment in path.split("/"):
        pieces = _ENCODED_SEPARATOR.split(segment)
        if len(pieces) > 1 and any(piece.split(";", 1)[0] in _DOT_SEGMENTS for piece in pieces):
            raise UnsafePath("an encoded slash or backslash next to a dot-segment")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 over an absolute path whose slashes are already merged."""
    segments = path.split("/")  # segments[0] is "" (the path starts with "/")
    out: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments[1:], 1):
        if segment in _DOT_SEGMENTS:
            if segment == ".." and out:
                out.pop()
            if index == last:
                out.append("")  # "/a/.." is "/", "/a/." is "/a/": the trailing slash stays
        elif segment.split(";", 1)[0] in _DOT_SEGMENTS:
            raise UnsafePath("a dot-segment with a ';' parameter")
        else:
            out.append(segment)
    return "/" + "/".join(out)
