"""The backend family: ``backend-protocol`` (its GRPC and GRPCS values belong to the HTTP/2
upstream work, issue 15, which will give them their effect here) and ``load-balance``."""

from __future__ import annotations

from gitops_ingress.core.annotations.model import AnnotationSpec, AnnotationValueError, Status

FAMILY = "backends"

PROTOCOLS = ("HTTP", "HTTPS", "GRPC", "GRPCS", "AJP", "FCGI", "AUTO_HTTP")
BALANCERS = ("round_robin", "ewma")


def protocol(value: str) -> str:
    text = value.strip().upper()
    if text not in PROTOCOLS:
        raise AnnotationValueError(f'"{value}" is not a backend protocol: one of {", ".join(PROTOCOLS)}')
    return text


def balancer(value: str) -> str:
    text = value.strip().lower()
    if text not in BALANCERS:
        raise AnnotationValueError(f'"{value}" is not a load-balancing algorithm: one of {", ".join(BALANCERS)}')
    return text


SPECS = (
    AnnotationSpec(
        "load-balance",
        Status.DIFFERENT,
        "endpoints are always taken round robin (proxy/pool.py); ewma is served as round_robin",
        balancer,
        FAMILY,
    ),
    AnnotationSpec(
        "backend-protocol",
        Status.DIFFERENT,
        "HTTP and HTTPS (TLS follows the backend's https:// endpoint); GRPC/GRPCS come with HTTP/2 upstreams",
        protocol,
        FAMILY,
    ),
)
