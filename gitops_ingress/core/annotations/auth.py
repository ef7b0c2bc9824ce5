"""The authentication family: ``auth-type: basic`` with ``auth-secret``, ``auth-secret-type`` and
``auth-realm`` (ingress-nginx's "Basic Authentication"), and ``auth-url`` with ``auth-method``,
``auth-response-headers``, ``auth-signin``, ``auth-signin-redirect-param`` and
``auth-request-redirect`` (its "External Authentication"; the proxy's side is proxy/forwardauth.py).

The Secret is named ``name`` (in the Ingress's namespace) or ``namespace/name``; its credentials
are an htpasswd file under the key ``auth`` (``auth-file``, the default) or one key per user
(``auth-map``), parsed by core/htpasswd.py where each route source finds Secrets (the proxy's
``--secret-dir``, the cluster's API). ``auth-type: digest`` is refused as an invalid value: serving
the route without the check would open what the Ingress meant to close.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gitops_ingress.core.annotations import values
from gitops_ingress.core.annotations.authn import SIGNIN_VARIABLES, BasicAuth, ForwardAuth
from gitops_ingress.core.annotations.model import AnnotationSpec, AnnotationValueError, Status

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


def realm(value: str) -> str:
    if any(c in value for c in '"\\\r\n\0'):
        raise AnnotationValueError("a realm must be one line without quotes or backslashes")
    return value


_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]+\Z")  # an HTTP token: a method or a header name
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # ingress-nginx's ValidMethods


def auth_url(value: str) -> str:
    """An absolute http(s) URL with a host, without nginx variables (we do not expand them)."""
    text = values.url(value)
    if "$" in text:
        raise AnnotationValueError(f'"{value}": nginx variables ($host, ...) are not supported in auth-url')
    if "@" in text.split("/", 3)[2]:
        raise AnnotationValueError(f'"{value}": credentials in the auth URL are not supported')
    return text


def header_names(value: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names or not all(_TOKEN.match(name) for name in names):
        raise AnnotationValueError(f'"{value}" is not a comma-separated list of header names')
    return names


def signin_url(value: str) -> str:
    """An absolute http(s) URL; the nginx variables ingress-nginx's users put in it are kept."""
    text = value.strip()
    rest = text
    for name in SIGNIN_VARIABLES:
        rest = rest.replace(name, "x")  # a stand-in, so the URL's shape is checked as it will be
    if "$" in rest:
        raise AnnotationValueError(f'"{value}": only {", ".join(SIGNIN_VARIABLES)} may be used in auth-signin')
    values.url(rest)
    return text


def redirect_param(value: str) -> str:
    text = value.strip()
    if not re.match(r"[A-Za-z0-9_\-]+\Z", text):
        raise AnnotationValueError(f'"{value}" is not a query parameter name')
    return text


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
    AnnotationSpec(
        "auth-secret-type", Status.HONOURED, "", values.one_of(("auth-file", "auth-map"), "a secret type"), FAMILY
    ),
    AnnotationSpec("auth-realm", Status.HONOURED, "", realm, FAMILY),
    AnnotationSpec(
        "auth-url",
        Status.DIFFERENT,
        "no nginx variables in the URL; the subrequest waits at most the route's read timeout (and 30 s); "
        "its Set-Cookie is not passed to the client",
        auth_url,
        FAMILY,
    ),
    AnnotationSpec("auth-method", Status.HONOURED, "", values.one_of(_METHODS, "an HTTP method", str.upper), FAMILY),
    AnnotationSpec("auth-response-headers", Status.HONOURED, "", header_names, FAMILY),
    AnnotationSpec(
        "auth-signin",
        Status.DIFFERENT,
        "only $host, $http_host, $scheme, $request_uri and $escaped_request_uri are filled in",
        signin_url,
        FAMILY,
    ),
    AnnotationSpec("auth-signin-redirect-param", Status.HONOURED, "", redirect_param, FAMILY),
    AnnotationSpec("auth-request-redirect", Status.HONOURED, "", values.header_value, FAMILY),
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


def forward_auth(parsed: Mapping[str, object]) -> ForwardAuth | None:
    """The external authentication of an Ingress; None without a valid ``auth-url``."""
    url = parsed.get("auth-url")
    if not isinstance(url, str):
        return None
    headers = parsed.get("auth-response-headers")
    return ForwardAuth(
        url=url,
        method=str(parsed.get("auth-method") or "GET"),
        response_headers=headers if isinstance(headers, tuple) else (),
        signin=str(parsed.get("auth-signin") or ""),
        redirect_param=str(parsed.get("auth-signin-redirect-param") or "rd"),
        request_redirect=str(parsed.get("auth-request-redirect") or ""),
    )


def missing_secret(annotations: Mapping[str, str], prefix: str) -> bool:
    """``auth-type`` is set but ``auth-secret`` is not: ingress-nginx denies such a location."""
    return prefix + "auth-type" in annotations and prefix + "auth-secret" not in annotations
