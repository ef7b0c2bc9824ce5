"""Prometheus metrics of one proxy process, on a registry of its own.

``ProxyMetrics`` implements ``observe.ProxyObserver``; the request path calls it once per request
and twice per connection. Why it is built this way:

* Its own ``CollectorRegistry``, never the global one: two proxies in one process (tests, the
  ``serve`` command with a local proxy) must not share or clash on series.
* A custom collector over plain ints and floats instead of prometheus-client's Counter and
  Histogram objects: theirs take a lock and walk the bucket list in Python on every call (about
  4 us per request here), ours is a dict update and a ``bisect`` (well under 1 us). No lock is
  needed because everything runs on the worker's one event loop: the request path, the route
  source that swaps tables, and the admin server that renders ``/metrics``.
* Label values come from the route table (rule host groups, branches), so their number is bounded
  by configuration; a hard cap (``max_series``) folds anything past it into ``other`` so a bug or
  a flood of unknown hosts can never grow memory without bound.
* Route table version and reload count follow the ``SnapshotHolder`` through its listener.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gitops_ingress.proxy.snapshot import Snapshot, SnapshotHolder

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OTHER = "other"
NO_HOST = "-"  # requests that matched no host group
PREFIX = "gitops_ingress_proxy_"

__all__ = ["CONTENT_TYPE_LATEST", "ProxyMetrics"]

RequestKey = tuple[str, str, str, int]  # kind, branch, host, status // 100


class _Latency:
    __slots__ = ("buckets", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0


class ProxyMetrics:
    """The proxy's metrics; ``render()`` gives the text exposition for ``/metrics``."""

    def __init__(self, max_series: int = 10_000, build: str = "source") -> None:
        self._max_series = max_series
        self._build = build  # proxy/build.py: "compiled" or "source"
        self._requests: dict[RequestKey, int] = {}
        self._latency: dict[str, _Latency] = {}
        self._errors: dict[str, int] = {}
        self._open = 0
        self._version = 0
        self._routes = 0
        self._reloads = 0
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self)

    # --- ProxyObserver: called on the request path -------------------------------------------

    def request_finished(self, kind: str, branch: str, host: str, status: int, seconds: float) -> None:
        key = (kind, branch, host, status // 100)
        requests = self._requests
        if key in requests:
            requests[key] += 1
        elif len(requests) < self._max_series:
            requests[key] = 1
        else:
            capped = (kind, OTHER if branch else "", OTHER, status // 100)
            requests[capped] = requests.get(capped, 0) + 1
        latency = self._latency.get(kind)
        if latency is None:
            latency = self._latency[kind] = _Latency()
        latency.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency.sum += seconds

    def upstream_error(self, reason: str) -> None:
        self._errors[reason] = self._errors.get(reason, 0) + 1

    def connection_opened(self) -> None:
        self._open += 1

    def connection_closed(self) -> None:
        self._open -= 1

    # --- off the request path ----------------------------------------------------------------

    def follow(self, holder: SnapshotHolder) -> None:
        """Track the holder's route table version and reloads from now on."""
        if holder.ready:
            self._set_state(holder.current)
        holder.subscribe(self.snapshot_swapped)

    def snapshot_swapped(self, snapshot: Snapshot) -> None:
        self._reloads += 1
        self._set_state(snapshot)

    def _set_state(self, snapshot: Snapshot) -> None:
        state = snapshot.state
        self._version = state.version
        self._routes = len(state.stable) + sum(len(t) for t in state.previews.values())

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        """The prometheus-client collector protocol: the current values as metric families."""
        requests = CounterMetricFamily(
            PREFIX + "requests",
            "Requests answered, by route kind (stable or preview), branch, rule host and status class.",
            labels=("kind", "branch", "host", "status_class"),
        )
        for (kind, branch, host, status_class), count in sorted(self._requests.items()):
            requests.add_metric((kind, branch, host or NO_HOST, f"{status_class}xx"), count)
        yield requests
        latency = HistogramMetricFamily(
            PREFIX + "request_duration_seconds",
            "Time from the request head to the last byte of the answer, by route kind.",
            labels=("kind",),
        )
        for kind, hist in sorted(self._latency.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*map(str, LATENCY_BUCKETS), "+Inf"), hist.buckets, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric((kind,), buckets, hist.sum)
        yield latency
        errors = CounterMetricFamily(
            PREFIX + "upstream_errors",
            "Upstream failures by reason (connect, timeout, reset, protocol, no-endpoint).",
            labels=("reason",),
        )
        for reason, count in sorted(self._errors.items()):
            errors.add_metric((reason,), count)
        yield errors
        yield GaugeMetricFamily(PREFIX + "open_connections", "Open client connections.", value=self._open)
        yield GaugeMetricFamily(
            PREFIX + "route_table_version", "Version of the routing state being served.", value=self._version
        )
        yield GaugeMetricFamily(
            PREFIX + "routes", "Routes in the routing state being served (stable and every preview).",
            value=self._routes,
        )
        yield CounterMetricFamily(
            PREFIX + "route_table_reloads", "Route tables swapped in since start.", value=self._reloads
        )
        info = GaugeMetricFamily(
            PREFIX + "build_info", "Which build of the request path runs (compiled by mypyc or source).",
            labels=("build",),
        )
        info.add_metric((self._build,), 1)
        yield info
