"""What the request path counts into: one ``RequestSeries`` per label set, a plain class.

The request path asks an observer (proxy/observe.py) for a route's series once per cached route
(proxy/decide.py) and calls ``count`` on it for every answer. The series is this one concrete
class, not a Protocol, because the request path is compiled (setup.py): a call through a Protocol
is a generic Python method call (boxing the status and the seconds, parsing them back), about as
costly as the counting itself, where a call on a compiled class is a direct C call.
``metrics.ProxyMetrics`` keeps the series it hands out and renders them; ``observe.NullObserver``
hands out one nobody reads.
"""

from __future__ import annotations

from typing import Final

LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STATUS_CLASSES: Final = 6  # 1xx to 5xx by status // 100; index 0 holds anything outside 100-599


class Latency:
    """A latency histogram: counts per bucket of LATENCY_BUCKETS (the last one is +Inf) and the sum."""

    __slots__ = ("buckets", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum = 0.0


class RequestSeries:
    """The counts of one label set (kind, branch, host, protocol)."""

    __slots__ = ("by_class", "latency")

    def __init__(self, latency: Latency) -> None:
        self.by_class = [0] * STATUS_CLASSES
        self.latency = latency  # shared by every series of one kind

    def count(self, status: int, seconds: float) -> None:
        """One answer with this status, ``seconds`` after its request head was complete."""
        status_class = status // 100
        self.by_class[status_class if 0 < status_class < STATUS_CLASSES else 0] += 1
        latency = self.latency
        index = 0  # bisect_left by hand: most answers land in the first bucket or two
        while index < len(LATENCY_BUCKETS) and seconds > LATENCY_BUCKETS[index]:
            index += 1
        latency.buckets[index] += 1
        latency.sum += seconds
