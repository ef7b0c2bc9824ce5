"""The authentication family: ``auth-type: basic`` with ``auth-secret``, ``auth-secret-type`` and
``auth-realm`` (ingress-nginx's "Basic Authentication").

The Secret is named ``name`` (in the Ingress's namespace) or ``namespace/name``; its credentials
are an htpasswd file under the key ``auth`` (``auth-file``, the default) or one key per user
(``auth-map``), parsed by core/htpasswd.py where each route source finds Secrets (the proxy's
``--secret-dir``, the cluster's API). ``auth-type: digest`` is refused as an invalid value: serving
the route without the check would open what the Ingress meant to close.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gitops_ingress.core.annotations.model import AnnotationSpec, AnnotationValueError, BasicAuth, Status

FAMILY = "auth"

_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z")  # a DNS-1123 subdomain, as Secret names are


def auth_type(value: str) -> str:
    text = value.strip().lower()
    if text == "digest":
        raise AnnotationValueError(
            "digest authentication is not supported; use basic (over HTTPS) or auth-url: the route would be refused"
        )
    if text != "basic":
        raise AnnotationValueError(f'"{value}" is not an auth type: write basic')
    return text


def secret_name(value: str) -> tuple[str, str]:
    """``name`` or ``namespace/name`` -> (namespace or "", name)."""
    text = value.strip()
    namespace, _, name = text.rpartition("/")
    if not _NAME.match(name) or (namespace and not _NAME.match(namespace)) or text.count("/") > 1:
        raise AnnotationValueError(f'"{value}" is not a Secret name: write name or namespace/name')
    return namespace, name


def secret_type(value: str) -> str:
    text = value.strip()
    if text not in ("auth-file", "auth-map"):
        raise AnnotationValueError(f'"{value}" is not a secret type: write auth-file or auth-map')
    return text


def realm(value: str) -> str:
    if any(c in value for c in '"\\\r\n\0'):
        raise AnnotationValueError("a realm must be one line without quotes or backslashes")
    return value


SPECS = (
    AnnotationSpec(
        "auth-type",
        Status.DIFFERENT,
        "basic only: digest is refused (an error), never served without the check",
        auth_type,
        FAMILY,
    ),
    AnnotationSpec(
        "auth-secret",
        Status.DIFFERENT,
        "the Secret comes from the cluster, or from --secret-dir DIR/<namespace>/<name>/ for files and serve",
        secret_name,
        FAMILY,
    ),
    AnnotationSpec("auth-secret-type", Status.HONOURED, "", secret_type, FAMILY),
    AnnotationSpec("auth-realm", Status.HONOURED, "", realm, FAMILY),
)


def basic_auth(parsed: Mapping[str, object], namespace: str) -> BasicAuth | None:
    """The basic auth of an Ingress in ``namespace``; None unless ``auth-type`` is basic. Without a
    valid ``auth-secret`` the name is empty: the route is denied (validation reports it)."""
    if parsed.get("auth-type") != "basic":
        return None
    found = parsed.get("auth-secret")
    secret_namespace, name = found if isinstance(found, tuple) else ("", "")
    kind = parsed.get("auth-secret-type")
    return BasicAuth(
        namespace=str(secret_namespace or namespace),
        name=str(name),
        secret_type=kind if isinstance(kind, str) else "auth-file",
        realm=str(parsed.get("auth-realm") or ""),
    )


def missing_secret(annotations: Mapping[str, str], prefix: str) -> bool:
    """``auth-type`` is set but ``auth-secret`` is not: ingress-nginx denies such a location."""
    return prefix + "auth-type" in annotations and prefix + "auth-secret" not in annotations
