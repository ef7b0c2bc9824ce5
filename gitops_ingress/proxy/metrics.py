"""Prometheus metrics of one proxy process, on a registry of its own.

``ProxyMetrics`` implements ``observe.ProxyObserver``. Why it is built this way:

* Its own ``CollectorRegistry``, never the global one: two proxies in one process (tests, the
  ``serve`` command with a local proxy) must not share or clash on series.
* A custom collector over plain ints and floats instead of prometheus-client's Counter and
  Histogram objects: theirs take a lock and walk the bucket list in Python on every call (about
  4 us per request here), ours are plain counters. No lock is needed because everything runs on
  the worker's one event loop: the request path, the route source that swaps tables, and the
  admin server that renders ``/metrics``.
* The labels of a request (kind, branch, rule host; the client protocol, h1 or h2) are known once its route is, so the request
  path asks for their ``RequestSeries`` (proxy/counting.py) once per cached route (proxy/decide.py) and counts into it
  directly: per request that is two list increments and a float add. Building and hashing a key
  tuple per request, two dict operations and a ``bisect`` call were a fifth of the proxy's own
  time per small request.
* Label values come from the route table (rule host groups, branches), so their number is bounded
  by configuration; a hard cap (``max_series``) folds anything past it into ``other`` so a bug or
  a flood of unknown hosts can never grow memory without bound.
* Route table version and reload count follow the ``SnapshotHolder`` through its listener.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gitops_ingress.proxy.counting import LATENCY_BUCKETS, Latency, RequestSeries
from gitops_ingress.proxy.snapshot import Snapshot, SnapshotHolder

OTHER: Final = "other"
NO_HOST: Final = "-"  # requests that matched no host group
PREFIX: Final = "gitops_ingress_proxy_"

__all__ = ["CONTENT_TYPE_LATEST", "ProxyMetrics"]

SeriesKey = tuple[str, str, str, str]  # kind, branch, host, protocol
GRPC_CODES: Final = 17  # grpc-status 0 (OK) to 16 (UNAUTHENTICATED); anything else is labelled "other"


class ProxyMetrics:
    """The proxy's metrics; ``render()`` gives the text exposition for ``/metrics``."""

    def __init__(self, max_series: int = 10_000, build: str = "source") -> None:
        self._max_series = max_series
        self._build = build  # proxy/build.py: "compiled" or "source"
        self._series: dict[SeriesKey, RequestSeries] = {}
        self._latency: dict[str, Latency] = {}
        self._errors: dict[str, int] = {}
        self._grpc: dict[tuple[str, int], int] = {}  # (host, code or GRPC_CODES for others) -> calls
        self._ignored_keys: dict[str, int] = {}
        self._open = 0
        self._version = 0
        self._routes = 0
        self._reloads = 0
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self)

    # --- ProxyObserver: called on the request path -------------------------------------------

    def request_counter(self, kind: str, branch: str, host: str, protocol: str = "h1") -> RequestSeries:
        key = (kind, branch, host, protocol)
        series = self._series.get(key)
        if series is None:
            if len(self._series) >= self._max_series:  # folded: see the module docstring
                key = (kind, OTHER if branch else "", OTHER, protocol)
                series = self._series.get(key)
            if series is None:
                latency = self._latency.get(kind)
                if latency is None:
                    latency = self._latency[kind] = Latency()
                series = self._series[key] = RequestSeries(latency)
        return series

    def grpc_answer(self, host: str, code: int) -> None:
        if not 0 <= code < GRPC_CODES:
            code = GRPC_CODES
        key = (host, code)
        if key not in self._grpc and len(self._grpc) >= self._max_series:  # folded, as requests are
            key = (OTHER, code)
        self._grpc[key] = self._grpc.get(key, 0) + 1

    def upstream_error(self, reason: str) -> None:
        self._errors[reason] = self._errors.get(reason, 0) + 1

    def preview_key_ignored(self, reason: str) -> None:
        self._ignored_keys[reason] = self._ignored_keys.get(reason, 0) + 1

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
            "Requests answered, by route kind (stable or preview), branch, rule host, client protocol "
            "(h1, h2) and status class.",
            labels=("kind", "branch", "host", "protocol", "status_class"),
        )
        for (kind, branch, host, protocol), series in sorted(self._series.items()):
            for status_class, count in enumerate(series.by_class):
                if count:
                    requests.add_metric((kind, branch, host or NO_HOST, protocol, f"{status_class}xx"), count)
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
        grpc = CounterMetricFamily(
            PREFIX + "grpc_calls",
            "gRPC calls answered, by rule host and grpc-status (0 OK to 16; other: anything else).",
            labels=("host", "grpc_status"),
        )
        for (host, code), count in sorted(self._grpc.items()):
            grpc.add_metric((host or NO_HOST, str(code) if code < GRPC_CODES else OTHER), count)
        yield grpc
        errors = CounterMetricFamily(
            PREFIX + "upstream_errors",
            "Upstream failures by reason (connect, timeout, reset, protocol, no-endpoint).",
            labels=("reason",),
        )
        for reason, count in sorted(self._errors.items()):
            errors.add_metric((reason,), count)
        yield errors
        ignored = CounterMetricFamily(
            PREFIX + "preview_keys_ignored",
            "Routing keys not followed (docs/previews.md), by reason (malformed, unsigned, forged, expired,"
            " unknown-branch, preview-host).",
            labels=("reason",),
        )
        for reason, count in sorted(self._ignored_keys.items()):
            ignored.add_metric((reason,), count)
        yield ignored
        yield GaugeMetricFamily(PREFIX + "open_connections", "Open client connections.", value=self._open)
        yield GaugeMetricFamily(
            PREFIX + "route_table_version", "Version of the routing state being served.", value=self._version
        )
        yield GaugeMetricFamily(
            PREFIX + "routes",
            "Routes in the routing state being served (stable and every preview).",
            value=self._routes,
        )
        yield CounterMetricFamily(
            PREFIX + "route_table_reloads", "Route tables swapped in since start.", value=self._reloads
        )
        info = GaugeMetricFamily(
            PREFIX + "build_info",
            "Which build of the request path runs (compiled by mypyc or source).",
            labels=("build",),
        )
        info.add_metric((self._build,), 1)
        yield info
