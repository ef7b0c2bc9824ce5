"""The limits family: ``proxy-body-size`` (nginx's ``client_max_body_size`` per location),
``proxy-connect-timeout`` / ``proxy-read-timeout`` / ``proxy-send-timeout`` (whole seconds, as
ingress-nginx writes them into ``proxy_connect_timeout`` / ``proxy_read_timeout`` /
``proxy_send_timeout``), applied to the upstream connection of each request of the route, and
``proxy-buffering`` (``on``: the response is read ahead of the client and held, proxy/annotated.py).

``proxy-send-timeout`` is nginx's: the time between two successive writes of the request to the
upstream, that is how long the upstream may leave the proxy's request bytes untaken (its socket
full) before the request ends in 504; the proxy's own ``send_timeout`` applies otherwise.

A size is nginx's: a whole number of bytes, or with ``k``/``m``/``g`` (either case) for KiB,
MiB, GiB; ``0`` turns the route's check off. The proxy's own ``max_body`` (proxy/config.py) is
checked first, when the head arrives, so a route cannot raise it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gitops_ingress.core.annotations import values
from gitops_ingress.core.annotations.model import AnnotationSpec, AnnotationValueError, Status

FAMILY = "limits"

_SIZE = re.compile(r"([0-9]{1,15})([kKmMgG]?)\Z")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


_seconds = values.integer(1, 7 * 24 * 3600)


def size(value: str) -> int:
    found = _SIZE.match(value.strip())
    if found is None:
        raise AnnotationValueError(f'"{value}" is not a size: write bytes, or a number with k, m or g (such as 8m)')
    return int(found.group(1)) * _UNITS[found.group(2).lower()]


SPECS = (
    AnnotationSpec(
        "proxy-body-size",
        Status.DIFFERENT,
        "the proxy's own max_body, when set, still applies first (a route cannot raise it)",
        size,
        FAMILY,
    ),
    AnnotationSpec(
        "proxy-connect-timeout",
        Status.DIFFERENT,
        "applies to new connections to HTTP/1.1 upstreams; HTTP/2 upstreams share connections and keep the proxy's",
        _seconds,
        FAMILY,
    ),
    AnnotationSpec("proxy-read-timeout", Status.HONOURED, "", _seconds, FAMILY),
    AnnotationSpec(
        "proxy-send-timeout",
        Status.DIFFERENT,
        "applies to HTTP/1.1 upstreams; HTTP/2 upstreams take request bodies by flow control, under the read timeout",
        _seconds,
        FAMILY,
    ),
    AnnotationSpec(
        "proxy-buffering",
        Status.DIFFERENT,
        "on: the response is held in memory up to the proxy's buffered_response (1 MiB) and sent when complete or "
        "when that fills (no temporary files); proxy-buffer-size and proxy-buffers-number stay nginx's",
        values.boolean,
        FAMILY,
    ),
)


def seconds(parsed: Mapping[str, object], name: str) -> int:
    """A timeout annotation's seconds; 0: unset (the proxy's own applies)."""
    value = parsed.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def body_limit(parsed: Mapping[str, object]) -> int | None:
    """Bytes a request body of the route may have; None: no route limit (unset or ``0``)."""
    limit = parsed.get("proxy-body-size")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None
