"""Refused annotations: every ``*-snippet`` (raw nginx configuration, CVE-2021-25742) and every
``auth-tls-*`` (client certificates are not supported yet; serving without the check would open
what the Ingress meant to close). A refused annotation on one of our Ingresses is an error."""

from __future__ import annotations

from gitops_ingress.core.annotations.model import AnnotationSpec, Status

FAMILY = "refused"

SNIPPET = AnnotationSpec(
    "*-snippet",
    Status.REFUSED,
    "raw nginx configuration is never accepted (CVE-2021-25742); use the dedicated annotation",
    family=FAMILY,
)
AUTH_TLS = AnnotationSpec(
    "auth-tls-*",
    Status.REFUSED,
    "client certificate authentication is not supported: serving without it would let every client in",
    family=FAMILY,
)

# Named so the support table and the migration page list them; any other key of the same shape is
# refused by pattern (registry.lookup).
SNIPPETS = (
    "configuration-snippet",
    "server-snippet",
    "auth-snippet",
    "modsecurity-snippet",
    "stream-snippet",
)
AUTH_TLS_KEYS = (
    "auth-tls-secret",
    "auth-tls-verify-depth",
    "auth-tls-verify-client",
    "auth-tls-error-page",
    "auth-tls-pass-certificate-to-upstream",
    "auth-tls-match-cn",
)


def pattern_for(name: str) -> AnnotationSpec | None:
    if name.endswith("-snippet"):
        return SNIPPET
    if name.startswith("auth-tls-"):
        return AUTH_TLS
    return None
