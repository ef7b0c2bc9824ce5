"""The default-backend family: ``default-backend`` (ingress-nginx's "Default Backend" annotation).

The named Service, in the Ingress's namespace, answers the Ingress's requests when the route's own
Service has no ready endpoint (ingress-nginx: "the configured service in the Ingress rule does not
have any active endpoints"), instead of the 503. Its port is the route's own (ingress-nginx takes
the Service's first port, which only a cluster knows). ``custom-http-errors``, which would send
the listed statuses there too, is not honoured yet (catalogue.py).
"""

from __future__ import annotations

import re

from gitops_ingress.core.annotations.model import AnnotationSpec, AnnotationValueError, Status

FAMILY = "default-backend"

_SERVICE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")  # a DNS-1035 label, as Service names are


def service_name(value: str) -> str:
    text = value.strip()
    if not _SERVICE.match(text):
        raise AnnotationValueError(f'"{value}" is not a Service name (a DNS label in the Ingress\'s namespace)')
    return text


SPECS = (
    AnnotationSpec(
        "default-backend",
        Status.DIFFERENT,
        "answers when the route's Service has no ready endpoint, on the route's port; not for custom-http-errors yet",
        service_name,
        FAMILY,
    ),
)
