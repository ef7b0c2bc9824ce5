"""The rewrite family: rewrite-target, use-regex, app-root, x-forwarded-prefix, upstream-vhost,
server-alias (ingress-nginx's Rewrite, Use Regex, Server Alias and upstream vhost sections)."""

from __future__ import annotations

from gitops_ingress.core.annotations import values
from gitops_ingress.core.annotations.model import AnnotationSpec, Status

FAMILY = "routing"

SPECS = (
    AnnotationSpec(
        "rewrite-target",
        Status.DIFFERENT,
        "regex is Python's re, not PCRE, matched against the raw (undecoded) path",
        values.rewrite_target,
        FAMILY,
    ),
    AnnotationSpec(
        "use-regex",
        Status.DIFFERENT,
        "regex is Python's re, not PCRE; like ingress-nginx it turns every path of the host into ~* (case-insensitive, start-anchored)",
        values.boolean,
        FAMILY,
    ),
    AnnotationSpec("app-root", Status.HONOURED, "", values.uri_path, FAMILY),
    AnnotationSpec("x-forwarded-prefix", Status.HONOURED, "", values.header_value, FAMILY),
    AnnotationSpec("upstream-vhost", Status.HONOURED, "", values.host_name, FAMILY),
    AnnotationSpec(
        "server-alias",
        Status.HONOURED,
        "an alias that is also a rule host is ignored, as in ingress-nginx",
        values.host_list,
        FAMILY,
    ),
)
