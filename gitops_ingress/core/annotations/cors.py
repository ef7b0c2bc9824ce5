"""The CORS family: ``enable-cors`` and ``cors-allow-origin``, ``-methods``, ``-headers``,
``-credentials``, ``cors-expose-headers``, ``cors-max-age`` (ingress-nginx's "Enable CORS").

The value rules are ingress-nginx's own (its cors parser's regular expressions); an origin list
entry is ``*`` alone, or ``http(s)://host[:port]`` where the host may start with ``*.`` (one
label). The compiled policy is ``model.Cors``; the proxy applies it (proxy/annotated.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from gitops_ingress.core.annotations import values
from gitops_ingress.core.annotations.model import CORS_MAX_AGE, AnnotationSpec, AnnotationValueError, Cors, Status

FAMILY = "cors"

_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9\-.]*(:[0-9]+)?\Z")
_METHODS = re.compile(r"([A-Za-z]+,?\s?)+\Z")
_HEADERS = re.compile(r"([A-Za-z0-9\-_]+,?\s?)+\Z")
_EXPOSE = re.compile(r"(([A-Za-z0-9\-_]+|\*),?\s?)+\Z")


def origins(value: str) -> tuple[str, ...]:
    found = tuple(part.strip() for part in value.split(",") if part.strip())
    if found == ("*",):
        return found
    for origin in found:
        if not _ORIGIN.match(origin):
            raise AnnotationValueError(
                f'"{origin}" is not an origin: write * alone, or http(s)://host[:port] (the host may start with *.)'
            )
    if not found:
        raise AnnotationValueError("expected * or a comma-separated list of origins")
    return found


def _listing(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        text = value.strip()
        if not pattern.match(text):
            raise AnnotationValueError(f'"{value}" is not a comma-separated list of {what}')
        return text

    return parse


SPECS = (
    AnnotationSpec(
        "enable-cors",
        Status.DIFFERENT,
        "an upstream's own Access-Control-* headers are kept beside ours (ingress-nginx replaces them)",
        values.boolean,
        FAMILY,
    ),
    AnnotationSpec(
        "cors-allow-origin",
        Status.DIFFERENT,
        "an origin must match whole (ingress-nginx anchors only the end)",
        origins,
        FAMILY,
    ),
    AnnotationSpec("cors-allow-methods", Status.HONOURED, "", _listing(_METHODS, "methods"), FAMILY),
    AnnotationSpec("cors-allow-headers", Status.HONOURED, "", _listing(_HEADERS, "header names"), FAMILY),
    AnnotationSpec("cors-allow-credentials", Status.HONOURED, "", values.boolean, FAMILY),
    AnnotationSpec("cors-expose-headers", Status.HONOURED, "", _listing(_EXPOSE, "header names or *"), FAMILY),
    AnnotationSpec("cors-max-age", Status.HONOURED, "", values.integer(0, 2**31 - 1), FAMILY),
)


def policy(parsed: Mapping[str, object]) -> Cors | None:
    """The CORS policy of an Ingress's parsed annotations; None unless ``enable-cors`` is true."""
    if parsed.get("enable-cors") is not True:
        return None
    defaults = Cors()
    found = parsed.get("cors-allow-origin")
    credentials = parsed.get("cors-allow-credentials")
    max_age = parsed.get("cors-max-age")
    return Cors(
        origins=found if isinstance(found, tuple) else defaults.origins,
        methods=str(parsed.get("cors-allow-methods") or defaults.methods),
        headers=str(parsed.get("cors-allow-headers") or defaults.headers),
        credentials=credentials if isinstance(credentials, bool) else True,
        expose=str(parsed.get("cors-expose-headers") or ""),
        max_age=max_age if isinstance(max_age, int) and not isinstance(max_age, bool) else CORS_MAX_AGE,
    )
