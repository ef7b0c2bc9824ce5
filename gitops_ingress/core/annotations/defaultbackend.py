r"""The default-backend family: ``default-backend`` (ingress-nginx's "Default Backend" annotation).

The named Service, in the Ingress's namespace, answers the Ingress's requests when the route's own
Service has no ready endpoint (ingress-nginx: "the configured service in the Ingress rule does not
have any active endpoints"), instead of the 503. Its port is the route's own (ingress-nginx takes
the Service's first port, which only a cluster knows).

``custom-http-errors`` lists statuses (ingress-nginx accepts 4xx and 5xx codes: its validator is
``^(?:[4,5]\d{2},?)*$``; spaces around a code are taken here) whose upstream answers are replaced
by the page of the ``default-backend`` Service, fetched with ingress-nginx's X-Code, X-Format, ...
headers and sent with the original status (proxy/customerrors.py). ``disable-proxy-intercept-errors:
"true"`` or ``enable-custom-http-errors: "false"`` (ingress-nginx's newer switch, true by default)
turns that off for the Ingress.
"""

from __future__ import annotations

import re

from gitops_ingress.core.annotations.model import AnnotationSpec, AnnotationValueError, Status
from gitops_ingress.core.annotations.values import boolean

FAMILY = "default-backend"

_SERVICE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")  # a DNS-1035 label, as Service names are


def service_name(value: str) -> str:
    text = value.strip()
    if not _SERVICE.match(text):
        raise AnnotationValueError(f'"{value}" is not a Service name (a DNS label in the Ingress\'s namespace)')
    return text


_CODE = re.compile(r"[45][0-9][0-9]\Z")


def status_codes(value: str) -> tuple[int, ...]:
    """A comma list of 4xx and 5xx status codes, as ingress-nginx accepts them."""
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts:
        raise AnnotationValueError("expected a comma-separated list of status codes such as 404,503")
    for part in parts:
        if not _CODE.match(part):
            raise AnnotationValueError(f'"{part}" is not a status code from 400 to 599')
    return tuple(sorted({int(part) for part in parts}))


SPECS = (
    AnnotationSpec(
        "default-backend",
        Status.DIFFERENT,
        "answers when the route's Service has no ready endpoint, and serves custom-http-errors' pages, on the "
        "route's port",
        service_name,
        FAMILY,
    ),
    AnnotationSpec(
        "custom-http-errors",
        Status.DIFFERENT,
        "the default-backend Service's page is sent with the upstream's status (ingress-nginx sends the page's "
        "own); without default-backend, the proxy's own page for that status",
        status_codes,
        FAMILY,
    ),
    AnnotationSpec("disable-proxy-intercept-errors", Status.HONOURED, "", boolean, FAMILY),
    AnnotationSpec("enable-custom-http-errors", Status.HONOURED, "", boolean, FAMILY),
)
