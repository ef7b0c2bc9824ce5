"""The registry: the one place that knows every ``nginx.ingress.kubernetes.io/*`` key.

Each family module (routing, redirects, backends, refused, catalogue) lists its specs; this module
puts them in one table, answers ``lookup`` for any key (by name, then by the refused patterns,
then "unknown"), and compiles an Ingress's honoured annotations into ``RouteEffects``. Adding an
annotation is one spec in its family's module plus its effect in ``effects_of``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from gitops_ingress.core.annotations import backends, canary, catalogue, redirects, refused, routing
from gitops_ingress.core.annotations.model import (
    PREFIX,
    AnnotationSpec,
    AnnotationValueError,
    RouteEffects,
    Status,
)

_FAMILIES = (routing.SPECS, redirects.SPECS, canary.SPECS, backends.SPECS, catalogue.SPECS)
REGISTRY: dict[str, AnnotationSpec] = {spec.name: spec for family in _FAMILIES for spec in family}
REGISTRY.update({name: refused.SNIPPET for name in refused.SNIPPETS})
REGISTRY.update({name: refused.AUTH_TLS for name in refused.AUTH_TLS_KEYS})

UNKNOWN = AnnotationSpec("", Status.IGNORED, "not an ingress-nginx annotation this project knows", family="unknown")


def lookup(key: str) -> AnnotationSpec | None:
    """The spec of an annotation key; None for keys outside ``nginx.ingress.kubernetes.io/``."""
    if not key.startswith(PREFIX):
        return None
    name = key[len(PREFIX) :]
    return REGISTRY.get(name) or refused.pattern_for(name) or UNKNOWN


def known_names() -> Iterator[tuple[str, AnnotationSpec]]:
    """Every named key with its spec, sorted: the support table and the migration page."""
    yield from sorted(REGISTRY.items())


def parsed(annotations: Mapping[str, str]) -> dict[str, object]:
    """The values of the honoured annotations that parse (validation reports the others)."""
    values: dict[str, object] = {}
    for key, raw in annotations.items():
        spec = lookup(key)
        if spec is None or spec.status not in (Status.HONOURED, Status.DIFFERENT) or spec.family == canary.FAMILY:
            continue  # the canary family is read by canary.policy
        try:
            values[spec.name] = spec.parse(raw)
        except AnnotationValueError:
            continue
    return values


def effects_of(annotations: Mapping[str, str]) -> RouteEffects | None:
    """What an Ingress's annotations do to its routes; None when they do nothing (most Ingresses)."""
    if not annotations:
        return None
    values = parsed(annotations)
    if not values:
        return None
    redirect_url, redirect_code = "", 0
    if "temporal-redirect" in values:  # ingress-nginx: temporal wins over permanent
        redirect_url, redirect_code = str(values["temporal-redirect"]), int(values.get("temporal-redirect-code", 302))  # type: ignore[call-overload]
    elif "permanent-redirect" in values:
        redirect_url, redirect_code = str(values["permanent-redirect"]), int(values.get("permanent-redirect-code", 301))  # type: ignore[call-overload]
    rewrite_target = str(values.get("rewrite-target", ""))
    ssl_redirect = values.get("ssl-redirect")
    effects = RouteEffects(
        rewrite_target=rewrite_target,
        regex=bool(rewrite_target) or bool(values.get("use-regex", False)),
        app_root=str(values.get("app-root", "")),
        x_forwarded_prefix=str(values.get("x-forwarded-prefix", "")),
        upstream_vhost=str(values.get("upstream-vhost", "")),
        redirect_url=redirect_url,
        redirect_code=redirect_code,
        ssl_redirect=ssl_redirect if isinstance(ssl_redirect, bool) else None,
        force_ssl_redirect=bool(values.get("force-ssl-redirect", False)),
        server_aliases=tuple(values.get("server-alias", ())),  # type: ignore[arg-type]
        from_to_www=bool(values.get("from-to-www-redirect", False)),
    )
    return None if effects == NO_EFFECTS else effects


NO_EFFECTS = RouteEffects()
