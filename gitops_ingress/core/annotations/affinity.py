"""The session affinity family: ``affinity: cookie`` and the ``session-cookie-*`` settings,
after ingress-nginx's sticky balancer: a request whose cookie names one of the Service's
endpoints goes there; any other is balanced as usual and its answer sets the cookie naming the
endpoint chosen (``HttpOnly`` always; ``Secure`` when asked, and on HTTPS whatever was asked, as
ingress-nginx's e2e affinity tests check). The cookie's value is an opaque digest of the
endpoint's address (``Affinity.value_of``), so it stays valid across reloads while the endpoint
exists. When the endpoint is gone, the request is balanced and given a new cookie; when it fails,
a retry goes elsewhere and the cookie is kept (ingress-nginx's ``session-cookie-change-on-failure``
default).

The cookie's Path is ``session-cookie-path``, or the route's own path (ingress-nginx's location
path; with regex paths it asks for ``session-cookie-path``, so do we: a warning otherwise is
ingress-nginx's, here the regex is used as written).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitops_ingress.core.annotations import values
from gitops_ingress.core.annotations.model import AnnotationSpec, AnnotationValueError, Status

FAMILY = "affinity"
DEFAULT_COOKIE = "INGRESSCOOKIE"
MODES = ("balanced", "persistent")
SAMESITE = ("None", "Lax", "Strict")
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+\Z")
_DOMAIN = re.compile(r"\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\Z")


def _kind(value: str) -> str:
    if value.strip().lower() != "cookie":
        raise AnnotationValueError(f'"{value}" is not an affinity type: "cookie" is the only one')
    return "cookie"


_mode = values.choice(MODES, "an affinity mode")
_samesite = values.choice(SAMESITE, "a SameSite value")


def _cookie_name(value: str) -> str:
    text = value.strip()
    if not _TOKEN.match(text):
        raise AnnotationValueError(f'"{value}" is not a cookie name')
    return text


def _domain(value: str) -> str:
    text = value.strip()
    if not _DOMAIN.match(text):
        raise AnnotationValueError(f'"{value}" is not a cookie domain')
    return text


_seconds = values.integer(0, 2**31 - 1)

SPECS = (
    AnnotationSpec("affinity", Status.HONOURED, "", _kind, FAMILY),
    AnnotationSpec(
        "affinity-mode",
        Status.DIFFERENT,
        "balanced and persistent both keep a session on its endpoint while it exists (no rebalancing on scale-up)",
        _mode,
        FAMILY,
    ),
    AnnotationSpec("session-cookie-name", Status.HONOURED, "", _cookie_name, FAMILY),
    AnnotationSpec("session-cookie-path", Status.HONOURED, "", values.uri_path, FAMILY),
    AnnotationSpec("session-cookie-domain", Status.HONOURED, "", _domain, FAMILY),
    AnnotationSpec("session-cookie-max-age", Status.HONOURED, "", _seconds, FAMILY),
    AnnotationSpec("session-cookie-expires", Status.HONOURED, "", _seconds, FAMILY),
    AnnotationSpec("session-cookie-samesite", Status.HONOURED, "", _samesite, FAMILY),
    AnnotationSpec("session-cookie-secure", Status.HONOURED, "", values.boolean, FAMILY),
)


@dataclass(frozen=True, slots=True)
class Affinity:
    """A route's sticky cookie: its name and attributes (0 / "": the attribute is left out)."""

    name: str = DEFAULT_COOKIE
    path: str = ""  # "": the route's path
    domain: str = ""
    max_age: int = 0
    expires: int = 0  # seconds from now, as ingress-nginx's session-cookie-expires
    samesite: str = ""
    secure: bool = False
    mode: str = "balanced"

    @staticmethod
    def value_of(host: str, port: int) -> str:
        """The cookie value naming an endpoint: not a secret, only stable and opaque."""
        return hashlib.sha1(f"{host}:{port}".encode(), usedforsecurity=False).hexdigest()

    def attributes(self, route_path: str, https: bool, expires_at: str) -> str:
        """Everything after ``name=value``: ``expires_at`` is the HTTP date of ``expires`` from now."""
        parts = [f"Path={self.path or route_path or '/'}"]
        if self.domain:
            parts.append(f"Domain={self.domain}")
        if self.expires:
            parts.append(f"Expires={expires_at}")
        if self.max_age:
            parts.append(f"Max-Age={self.max_age}")
        if self.secure or https:
            parts.append("Secure")
        parts.append("HttpOnly")
        if self.samesite:
            parts.append(f"SameSite={self.samesite}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        names = ("name", "path", "domain", "max_age", "expires", "samesite", "secure", "mode")
        return {name: getattr(self, name) for name in names}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Affinity:
        names = ("name", "path", "domain", "max_age", "expires", "samesite", "secure", "mode")
        return cls(**{name: data[name] for name in names if name in data})


def policy(parsed: Mapping[str, object]) -> Affinity | None:
    """The route's sticky cookie; None unless ``affinity: cookie``."""
    if parsed.get("affinity") != "cookie":
        return None

    def text(name: str, default: str = "") -> str:
        value = parsed.get(name)
        return value if isinstance(value, str) else default

    def number(name: str) -> int:
        value = parsed.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return Affinity(
        name=text("session-cookie-name", DEFAULT_COOKIE),
        path=text("session-cookie-path"),
        domain=text("session-cookie-domain"),
        max_age=number("session-cookie-max-age"),
        expires=number("session-cookie-expires"),
        samesite=text("session-cookie-samesite"),
        secure=parsed.get("session-cookie-secure") is True,
        mode=text("affinity-mode", "balanced"),
    )
