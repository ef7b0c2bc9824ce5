"""The backend family: ``backend-protocol`` (core/protocols.py gives it its effect),
``load-balance`` and ``service-upstream``.

``service-upstream: "true"`` sends the route's requests to the Service's cluster IP and port,
one endpoint that kube-proxy balances, instead of to its ready endpoints: the Kubernetes route
source resolves it so (proxy/sources/cluster.py); in the backend map (``proxy``, ``serve``)
the map is where a Service lives, so its URLs are used as they are.
"""

from __future__ import annotations

from gitops_ingress.core.annotations import values
from gitops_ingress.core.annotations.model import AnnotationSpec, Status

FAMILY = "backends"

PROTOCOLS = ("HTTP", "HTTPS", "GRPC", "GRPCS", "AJP", "FCGI", "AUTO_HTTP")
BALANCERS = ("round_robin", "ewma")


protocol = values.choice(PROTOCOLS, "a backend protocol")
balancer = values.choice(BALANCERS, "a load-balancing algorithm")


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
        "HTTP, HTTPS, GRPC and GRPCS (HTTP/2 upstreams); AJP, FCGI and AUTO_HTTP keep the endpoint's own scheme",
        protocol,
        FAMILY,
    ),
    AnnotationSpec(
        "service-upstream",
        Status.DIFFERENT,
        "the Kubernetes route source uses the Service's cluster IP; the backend map's URLs are the Service there",
        values.boolean,
        FAMILY,
    ),
)
