"""The redirect family: HTTPS enforcement, permanent and temporal redirects, from/to www."""

from __future__ import annotations

from gitops_ingress.core.annotations import values
from gitops_ingress.core.annotations.model import AnnotationSpec, Status

FAMILY = "redirects"
_KEEPS_SLASH = (
    "the 308 keeps the request URI as sent; ingress-nginx drops a trailing slash unless preserve-trailing-slash"
)

SPECS = (
    AnnotationSpec("ssl-redirect", Status.DIFFERENT, _KEEPS_SLASH, values.boolean, FAMILY),
    AnnotationSpec("force-ssl-redirect", Status.DIFFERENT, _KEEPS_SLASH, values.boolean, FAMILY),
    AnnotationSpec("permanent-redirect", Status.HONOURED, "", values.url, FAMILY),
    AnnotationSpec("permanent-redirect-code", Status.HONOURED, "", values.redirect_code, FAMILY),
    AnnotationSpec("temporal-redirect", Status.HONOURED, "", values.url, FAMILY),
    AnnotationSpec("temporal-redirect-code", Status.HONOURED, "", values.redirect_code, FAMILY),
    AnnotationSpec(
        "from-to-www-redirect",
        Status.DIFFERENT,
        "the other name is answered over plain HTTP; with TLS it needs a certificate for both names",
        values.boolean,
        FAMILY,
    ),
    AnnotationSpec(
        "preserve-trailing-slash",
        Status.DIFFERENT,
        '"true" is the only behaviour: the HTTPS redirect always keeps a trailing slash',
        values.boolean,
        FAMILY,
    ),
)
