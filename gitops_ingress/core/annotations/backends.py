"""The backend family. Only ``backend-protocol`` so far; its GRPC and GRPCS values belong to the
HTTP/2 upstream work (issue 15), which will give them their effect here."""

from __future__ import annotations

from gitops_ingress.core.annotations.model import AnnotationSpec, AnnotationValueError, Status

FAMILY = "backends"

PROTOCOLS = ("HTTP", "HTTPS", "GRPC", "GRPCS", "AJP", "FCGI", "AUTO_HTTP")


def protocol(value: str) -> str:
    text = value.strip().upper()
    if text not in PROTOCOLS:
        raise AnnotationValueError(f'"{value}" is not a backend protocol: one of {", ".join(PROTOCOLS)}')
    return text


SPECS = (
    AnnotationSpec(
        "backend-protocol",
        Status.DIFFERENT,
        "HTTP and HTTPS (TLS follows the backend's https:// endpoint); GRPC/GRPCS come with HTTP/2 upstreams",
        protocol,
        FAMILY,
    ),
)
