"""The HTTPS redirect of a TLS host: one implementation for the proxy and the diff.

ingress-nginx answers some requests itself, before any upstream is chosen: the annotations'
redirects (``RouteEffects.redirect``: the www twin, ``app-root``, ``permanent-redirect`` /
``temporal-redirect``, ``force-ssl-redirect``), then the redirect of a host with TLS reached over
plain HTTP (the proxy's ``--https-redirect``), unless its route says ``ssl-redirect: "false"``.
The proxy decides the latter here on its request path (proxy/decide.py), and the route diff with
the same functions (core/routing/answer.py), so what the diff promises is what the proxy does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitops_ingress.core.annotations import RouteEffects

TLS_REDIRECT_STATUS = 308  # keeps the method and body, unlike 301


def https_applies(effects: RouteEffects | None) -> bool:
    """Whether a TLS host's plain-HTTP requests on this route are redirected to HTTPS."""
    return effects is None or effects.ssl_redirect is not False


def https_location(host: str, target: bytes) -> bytes:
    """Where a TLS host's plain-HTTP request is sent: ``host`` normalised, no port."""
    return b"https://" + host.encode() + target
