"""The redirect family: HTTPS enforcement, permanent and temporal redirects, from/to www."""

from __future__ import annotations

from gitops_ingress.core.annotations import values
from gitops_ingress.core.annotations.model import AnnotationSpec, Status

FAMILY = "redirects"

SPECS = (
    AnnotationSpec("ssl-redirect", Status.HONOURED, "", values.boolean, FAMILY),
    AnnotationSpec("force-ssl-redirect", Status.HONOURED, "", values.boolean, FAMILY),
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
        Status.HONOURED,
        "the HTTPS redirect always keeps the request's path as it was",
        values.boolean,
        FAMILY,
    ),
)
