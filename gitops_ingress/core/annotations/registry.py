"""The registry: the one place that knows every ``nginx.ingress.kubernetes.io/*`` key.

Each family module (routing, redirects, canary, access, auth, cors, defaultbackend, limits, rates,
backends, affinity, refused, catalogue) lists its specs; this module
puts them in one table, answers ``lookup`` for any key (by name, then by the refused patterns,
then "unknown"), and compiles an Ingress's honoured annotations into ``RouteEffects``. Adding an
annotation is one spec in its family's module plus its effect in ``effects_of``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from gitops_ingress.core.annotations import (
    access,
    affinity,
    auth,
    backends,
    canary,
    catalogue,
    cors,
    defaultbackend,
    limits,
    rates,
    redirects,
    refused,
    routing,
)
from gitops_ingress.core.annotations.model import (
    PREFIX,
    AnnotationSpec,
    AnnotationValueError,
    RouteEffects,
    Status,
)

_FAMILIES = (
    routing.SPECS,
    redirects.SPECS,
    canary.SPECS,
    access.SPECS,
    auth.SPECS,
    cors.SPECS,
    defaultbackend.SPECS,
    limits.SPECS,
    rates.SPECS,
    backends.SPECS,
    affinity.SPECS,
    catalogue.SPECS,
)
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


def _text(values: Mapping[str, object], name: str) -> str:
    value = values.get(name)
    return value if isinstance(value, str) else ""


def _number(values: Mapping[str, object], name: str, default: int) -> int:
    value = values.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _flag(values: Mapping[str, object], name: str) -> bool | None:
    value = values.get(name)
    return value if isinstance(value, bool) else None


def _names(values: Mapping[str, object], *names: str) -> tuple[str, ...]:
    """The first of ``names`` that is set (a tuple of strings by its parser), else ``()``."""
    for name in names:
        value = values.get(name)
        if isinstance(value, tuple):
            return tuple(str(item) for item in value)
    return ()


def _codes(values: Mapping[str, object]) -> tuple[int, ...]:
    """custom-http-errors, unless ``disable-proxy-intercept-errors`` or ``enable-custom-http-errors:
    "false"`` turns it off."""
    value = values.get("custom-http-errors")
    if not isinstance(value, tuple) or _flag(values, "disable-proxy-intercept-errors"):
        return ()
    if _flag(values, "enable-custom-http-errors") is False:
        return ()
    return tuple(int(code) for code in value if isinstance(code, int))


def uses_regex(values: Mapping[str, object]) -> bool:
    """Whether parsed annotation ``values`` make every path of the Ingress a regular expression
    (ingress-nginx: ``rewrite-target`` implies ``use-regex``)."""
    return bool(_text(values, "rewrite-target")) or bool(_flag(values, "use-regex"))


# the keys ``uses_regex`` reads: only these keys' specs are named so (``lookup``)
_REGEX_KEYS = (PREFIX + "rewrite-target", PREFIX + "use-regex")


def makes_paths_regex(annotations: Mapping[str, str]) -> bool:
    """``effects_of(annotations).regex``, without building the effects (validation asks this of
    every Ingress; only the route compiler needs the rest), nor parsing the annotations when
    neither key it depends on is there (most Ingresses: parsing them again was a tenth of the
    annotation checks)."""
    if not any(key in annotations for key in _REGEX_KEYS):
        return False
    return uses_regex(parsed(annotations))


def effects_of(annotations: Mapping[str, str], namespace: str = "") -> RouteEffects | None:
    """What the annotations of an Ingress in ``namespace`` do to its routes; None when they do
    nothing (most Ingresses)."""
    if not annotations:
        return None
    values = parsed(annotations)
    if not values:
        return None
    redirect_url, redirect_code = "", 0
    if "temporal-redirect" in values:  # ingress-nginx: temporal wins over permanent
        redirect_url, redirect_code = _text(values, "temporal-redirect"), _number(values, "temporal-redirect-code", 302)
    elif "permanent-redirect" in values:
        redirect_url = _text(values, "permanent-redirect")
        redirect_code = _number(values, "permanent-redirect-code", 301)
    rewrite_target = _text(values, "rewrite-target")
    effects = RouteEffects(
        rewrite_target=rewrite_target,
        regex=uses_regex(values),
        app_root=_text(values, "app-root"),
        x_forwarded_prefix=_text(values, "x-forwarded-prefix"),
        upstream_vhost=_text(values, "upstream-vhost"),
        redirect_url=redirect_url,
        redirect_code=redirect_code,
        ssl_redirect=_flag(values, "ssl-redirect"),
        force_ssl_redirect=bool(_flag(values, "force-ssl-redirect")),
        server_aliases=_names(values, "server-alias"),
        from_to_www=bool(_flag(values, "from-to-www-redirect")),
        allow_ranges=_names(values, "allowlist-source-range", "whitelist-source-range"),
        deny_ranges=_names(values, "denylist-source-range"),
        cors=cors.policy(values),
        basic_auth=auth.basic_auth(values, namespace),
        forward_auth=auth.forward_auth(values),
        default_backend=_text(values, "default-backend"),
        custom_errors=_codes(values),
        body_limit=limits.body_limit(values),
        connect_timeout=limits.seconds(values, "proxy-connect-timeout"),
        read_timeout=limits.seconds(values, "proxy-read-timeout"),
        send_timeout=limits.seconds(values, "proxy-send-timeout"),
        buffering=bool(_flag(values, "proxy-buffering")),
        service_upstream=bool(_flag(values, "service-upstream")),
        rate_limit=rates.policy(values),
        affinity=affinity.policy(values),
    )
    return None if effects == NO_EFFECTS else effects


NO_EFFECTS = RouteEffects()
