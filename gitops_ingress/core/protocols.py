"""Backend protocols: how the proxy talks to an endpoint, and the three places that say so.

An endpoint's URL scheme is its protocol (docs/proxy.md, "Backend protocols"): ``http`` and
``https`` are HTTP/1.1 (https over TLS), ``h2c`` and ``grpc`` are HTTP/2 in cleartext with prior
knowledge, ``grpcs`` is HTTP/2 over TLS (ALPN ``h2``). The scheme comes from the backend map's URL
(core/backends.py), from a Service port's ``appProtocol`` (``kubernetes.io/h2c``, ``grpc``; the
Kubernetes route source reads it), and from an Ingress's
``nginx.ingress.kubernetes.io/backend-protocol`` annotation (ingress-nginx's values HTTP, HTTPS,
GRPC, GRPCS), which wins over the other two as it does in ingress-nginx, where HTTPS is TLS with
HTTP/1.1 (``proxy_pass https://``) and GRPC/GRPCS are ``grpc_pass``. This module is the one
place that parses all three.
"""

from __future__ import annotations

BACKEND_PROTOCOL_ANNOTATION = "nginx.ingress.kubernetes.io/backend-protocol"
SCHEMES = ("http", "https", "h2c", "grpc", "grpcs")
H2_SCHEMES = frozenset(("h2c", "grpc", "grpcs"))
TLS_SCHEMES = frozenset(("https", "grpcs"))
DEFAULT_PORTS = {"http": 80, "https": 443, "h2c": 80, "grpc": 80, "grpcs": 443}
# ingress-nginx's annotation values (HTTPS is TLS with HTTP/1.1 there: proxy_pass https://)
_ANNOTATION_SCHEMES = {"HTTP": "http", "HTTPS": "https", "GRPC": "grpc", "GRPCS": "grpcs"}
_APP_PROTOCOL_SCHEMES = {
    "kubernetes.io/h2c": "h2c",
    "grpc": "grpc",
    "h2c": "h2c",
    "https": "https",
    "kubernetes.io/https": "https",
}


def annotation_scheme(value: str | None) -> str | None:
    """The scheme the backend-protocol annotation asks for; None when absent or not one we speak
    (AUTO_HTTP, FCGI: the endpoint's own scheme then applies)."""
    return _ANNOTATION_SCHEMES.get(value.strip().upper()) if value else None


def app_protocol_scheme(value: str | None) -> str:
    """The scheme a Service port's ``appProtocol`` implies (plain HTTP/1.1 for anything else)."""
    return _APP_PROTOCOL_SCHEMES.get(value or "", "http")
