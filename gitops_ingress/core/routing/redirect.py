"""The proxy's own redirects for one request: one implementation for the proxy and the diff.

ingress-nginx answers some requests itself, before any upstream is chosen, in this order: the
www/non-www twin of a ``from-to-www-redirect`` host (308 to the annotated host), ``app-root``
(302 for ``/``), ``temporal-redirect`` / ``permanent-redirect`` (their codes), then HTTPS
enforcement (308; ``force-ssl-redirect`` even for a host without TLS). The proxy calls these on
its request path (proxy/annotated.py, proxy/decide.py) with the bytes it has, and the route diff
calls the same functions to say what a request's answer is (core/routing/answer.py), so what the
diff promises is what the proxy does. A host with TLS reached over plain HTTP is redirected too
(``--https-redirect``), unless its route says ``ssl-redirect: "false"``: ``https_applies``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitops_ingress.core.annotations import RouteEffects

TLS_REDIRECT_STATUS = 308  # keeps the method and body, unlike 301


def annotation_redirect(effects: RouteEffects, host: bytes, target: bytes, scheme: bytes) -> tuple[int, bytes] | None:
    """(status, Location) of the redirect a route's annotations ask for, or None to go on.
    ``host``: the Host as sent; ``target``: the origin-form target with its query."""
    if effects.www_redirect:
        return 308, scheme + b"://" + effects.www_redirect.encode() + target
    if effects.app_root:
        cut = target.find(b"?")
        if (target if cut < 0 else target[:cut]) == b"/":
            return 302, scheme + b"://" + host + effects.app_root.encode()
    if effects.redirect_url:
        return effects.redirect_code, effects.redirect_url.encode()
    if effects.force_ssl_redirect and scheme == b"http":
        return TLS_REDIRECT_STATUS, b"https://" + _without_port(host) + target
    return None


def https_applies(effects: RouteEffects | None) -> bool:
    """Whether a TLS host's plain-HTTP requests on this route are redirected to HTTPS."""
    return effects is None or effects.ssl_redirect is not False


def https_location(host: str, target: bytes) -> bytes:
    """Where a TLS host's plain-HTTP request is sent: ``host`` normalised, no port."""
    return b"https://" + host.encode() + target


def _without_port(host: bytes) -> bytes:
    if host.startswith(b"["):
        return host[: host.find(b"]") + 1]
    colon = host.rfind(b":")
    return host if colon < 0 else host[:colon]
