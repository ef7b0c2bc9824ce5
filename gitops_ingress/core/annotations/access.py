"""The access family: which client addresses may use a route (ingress-nginx's
whitelist-source-range, its newer name allowlist-source-range, and denylist-source-range).
The client address is the peer's, or with ``trusted_proxies`` the one their X-Forwarded-For
names (proxy/forwarded.py), as ingress-nginx's with ``use-forwarded-headers``."""

from __future__ import annotations

import ipaddress

from gitops_ingress.core.annotations.model import AnnotationSpec, AnnotationValueError, Status

FAMILY = "access"


def networks(value: str) -> tuple[str, ...]:
    """A comma-separated list of CIDRs or addresses, each normalised (``10.0.0.1/8`` -> ``10.0.0.0/8``)."""
    found: list[str] = []
    for part in value.split(","):
        text = part.strip()
        if not text:
            continue
        try:
            found.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise AnnotationValueError(f'"{text}" is not an IP address or CIDR') from None
    if not found:
        raise AnnotationValueError("expected a comma-separated list of CIDRs")
    return tuple(found)


SPECS = (
    AnnotationSpec("whitelist-source-range", Status.HONOURED, "", networks, FAMILY),
    AnnotationSpec("allowlist-source-range", Status.HONOURED, "", networks, FAMILY),
    AnnotationSpec("denylist-source-range", Status.HONOURED, "", networks, FAMILY),
)
