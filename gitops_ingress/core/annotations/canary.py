"""The canary family: a canary Ingress (``canary: "true"``) with the main Ingress's host and path
takes some of its requests: by header, then by cookie, then by weight (ingress-nginx's Canary
section). routing/compile.py folds it into the main route as ``RouteEffects.canary``; the proxy
picks per request (proxy/annotated.py). As in ingress-nginx, the canary Ingress's other
annotations are not applied: its requests get the main route's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gitops_ingress.core.annotations import values
from gitops_ingress.core.annotations.model import PREFIX, AnnotationSpec, AnnotationValueError, Status

FAMILY = "canary"


def header_name(value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", text):
        raise AnnotationValueError(f'"{value}" is not a header name')
    return text.lower()


def pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise AnnotationValueError(f'"{value}" is not a regular expression ({exc})') from None
    return value


SPECS = (
    AnnotationSpec(
        "canary",
        Status.DIFFERENT,
        "a canary Ingress without a main Ingress of the same host and path is served as an ordinary one",
        values.boolean,
        FAMILY,
    ),
    AnnotationSpec("canary-by-header", Status.HONOURED, "", header_name, FAMILY),
    AnnotationSpec("canary-by-header-value", Status.HONOURED, "", values.header_value, FAMILY),
    AnnotationSpec(
        "canary-by-header-pattern", Status.DIFFERENT, "the pattern is Python's re, not PCRE", pattern, FAMILY
    ),
    AnnotationSpec("canary-by-cookie", Status.HONOURED, "", header_name, FAMILY),
    AnnotationSpec(
        "canary-weight",
        Status.DIFFERENT,
        "each proxy worker draws on its own, as each nginx worker does",
        values.integer(0, 1_000_000),
        FAMILY,
    ),
    AnnotationSpec("canary-weight-total", Status.HONOURED, "", values.integer(1, 1_000_000), FAMILY),
)


def policy(annotations: Mapping[str, str]) -> dict[str, object] | None:
    """The canary's rules as ``Canary`` keyword arguments, or None when the Ingress is no canary.
    Values that do not parse are left out (validation reports them)."""
    parsed: dict[str, object] = {}
    for spec in SPECS:
        raw = annotations.get(PREFIX + spec.name)
        if raw is None:
            continue
        try:
            parsed[spec.name] = spec.parse(raw)
        except AnnotationValueError:
            continue
    if parsed.get("canary") is not True:
        return None
    names = {
        "canary-by-header": "header",
        "canary-by-header-value": "header_value",
        "canary-by-header-pattern": "header_pattern",
        "canary-by-cookie": "cookie",
        "canary-weight": "weight",
        "canary-weight-total": "weight_total",
    }
    return {field: parsed[key] for key, field in names.items() if key in parsed}
