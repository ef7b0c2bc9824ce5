"""The rate-limit family: ``limit-rps``, ``limit-rpm``, ``limit-connections``,
``limit-burst-multiplier`` and ``limit-allowlist`` (its older name ``limit-whitelist``), after
ingress-nginx's ratelimit annotation: zones per Ingress keyed by the client address, a burst of
the rate times the multiplier (default 5) taken at once (``nodelay``), 503 for a request over a
limit (ingress-nginx's ``limit-req-status-code`` and ``limit-conn-status-code`` defaults).

``RequestLimits`` is what a route keeps; the proxy keeps the counts (proxy/ratelimit.py), one set
per proxy worker: nginx shares its zones between workers, so N workers admit up to N times the
rate. The arithmetic is nginx's ``limit_req``: a request is refused when the excess it would add
passes the burst, so a fresh client gets ``burst + 1`` requests at once, then the rate.
``limit-connections`` counts the client's requests in progress on the Ingress (nginx's
``limit_conn`` counts a connection while one of its requests is processed there).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_ingress.core.annotations import access, values
from gitops_ingress.core.annotations.model import AnnotationSpec, Network, Status, client_ip

FAMILY = "rate-limits"
DEFAULT_BURST_MULTIPLIER = 5
LIMITED_STATUS = 503  # ingress-nginx's limit-req-status-code and limit-conn-status-code
_PER_WORKER = "counted per proxy worker (nginx shares its zones between workers)"

SPECS = (
    AnnotationSpec("limit-rps", Status.DIFFERENT, _PER_WORKER, values.integer(0, 1_000_000), FAMILY),
    AnnotationSpec("limit-rpm", Status.DIFFERENT, _PER_WORKER, values.integer(0, 60_000_000), FAMILY),
    AnnotationSpec(
        "limit-connections",
        Status.DIFFERENT,
        _PER_WORKER + "; what is counted is the client's requests in progress",
        values.integer(0, 1_000_000),
        FAMILY,
    ),
    AnnotationSpec("limit-burst-multiplier", Status.HONOURED, "", values.integer(1, 1000), FAMILY),
    AnnotationSpec("limit-allowlist", Status.HONOURED, "", access.networks, FAMILY),
    AnnotationSpec("limit-whitelist", Status.HONOURED, "", access.networks, FAMILY),
)


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """The limits of one Ingress's routes: requests per second and per minute (0: none), the
    requests in progress a client may have (0: any), the burst multiplier, the exempt ranges."""

    rps: int = 0
    rpm: int = 0
    connections: int = 0
    burst_multiplier: int = DEFAULT_BURST_MULTIPLIER
    allowlist: tuple[str, ...] = ()
    _networks: tuple[Network, ...] = field(default=(), init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_networks", tuple(ipaddress.ip_network(cidr) for cidr in self.allowlist))

    @property
    def rates(self) -> tuple[tuple[float, float], ...]:
        """(requests per second, bucket capacity) of each rate set: capacity ``burst + 1``."""
        found = []
        if self.rps:
            found.append((float(self.rps), float(self.rps * self.burst_multiplier + 1)))
        if self.rpm:
            found.append((self.rpm / 60.0, float(self.rpm * self.burst_multiplier + 1)))
        return tuple(found)

    def exempts(self, address: str) -> bool:
        """Whether ``limit-allowlist`` takes this client out of every limit."""
        if not self._networks:
            return False
        ip = client_ip(address)
        return ip is not None and any(ip in network for network in self._networks)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rps": self.rps, "rpm": self.rpm, "connections": self.connections}
        data["burst_multiplier"] = self.burst_multiplier
        data["allowlist"] = list(self.allowlist)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestLimits:
        return cls(
            int(data.get("rps") or 0),
            int(data.get("rpm") or 0),
            int(data.get("connections") or 0),
            int(data.get("burst_multiplier") or DEFAULT_BURST_MULTIPLIER),
            tuple(data.get("allowlist") or ()),
        )


def _number(parsed: Mapping[str, object], name: str, default: int = 0) -> int:
    value = parsed.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def policy(parsed: Mapping[str, object]) -> RequestLimits | None:
    """The Ingress's limits; None when it sets no rate and no connection limit."""
    limit = RequestLimits(
        rps=_number(parsed, "limit-rps"),
        rpm=_number(parsed, "limit-rpm"),
        connections=_number(parsed, "limit-connections"),
        burst_multiplier=_number(parsed, "limit-burst-multiplier", DEFAULT_BURST_MULTIPLIER),
        allowlist=next(
            (v for n in ("limit-allowlist", "limit-whitelist") if isinstance(v := parsed.get(n), tuple)), ()
        ),
    )
    return limit if limit.rps or limit.rpm or limit.connections else None
