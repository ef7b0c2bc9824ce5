"""ProxyMetrics: what the request path reports shows up in the exposition, on a registry of its own."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from gitops_ingress.core.routing import Route, RouteTable, RoutingState, ServiceRef
from gitops_ingress.proxy.metrics import ProxyMetrics
from gitops_ingress.proxy.snapshot import Snapshot, SnapshotHolder


def samples(metrics: ProxyMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(metrics: ProxyMetrics, name: str, **labels: str) -> float:
    return samples(metrics).get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_kind_branch_host_and_status_class() -> None:
    metrics = ProxyMetrics()
    metrics.request_counter("stable", "", "shop.example.com").count(200, 0.003)
    metrics.request_counter("stable", "", "shop.example.com").count(204, 0.003)
    metrics.request_counter("stable", "", "shop.example.com").count(502, 0.2)
    metrics.request_counter("preview", "feature-login", "shop.example.com").count(404, 0.001)
    name = "gitops_ingress_proxy_requests_total"
    assert (
        value(metrics, name, kind="stable", branch="", host="shop.example.com", protocol="h1", status_class="2xx") == 2
    )
    assert (
        value(metrics, name, kind="stable", branch="", host="shop.example.com", protocol="h1", status_class="5xx") == 1
    )
    assert (
        value(
            metrics,
            name,
            kind="preview",
            branch="feature-login",
            host="shop.example.com",
            protocol="h1",
            status_class="4xx",
        )
        == 1
    )
    assert value(metrics, name, kind="stable", branch="", host="-", protocol="h1", status_class="2xx") == 0
    metrics.request_counter("stable", "", "shop.example.com", "h2").count(200, 0.003)
    assert (
        value(metrics, name, kind="stable", branch="", host="shop.example.com", protocol="h2", status_class="2xx") == 1
    )


def test_latency_lands_in_histogram_buckets() -> None:
    metrics = ProxyMetrics()
    metrics.request_counter("stable", "", "a").count(200, 0.003)
    metrics.request_counter("stable", "", "a").count(200, 2.0)
    hist = "gitops_ingress_proxy_request_duration_seconds"
    assert value(metrics, hist + "_bucket", kind="stable", le="0.005") == 1
    assert value(metrics, hist + "_bucket", kind="stable", le="2.5") == 2
    assert value(metrics, hist + "_count", kind="stable") == 2
    assert abs(value(metrics, hist + "_sum", kind="stable") - 2.003) < 1e-9


def test_latency_on_a_bucket_bound_counts_in_that_bucket_and_beyond_the_last_in_inf() -> None:
    metrics = ProxyMetrics()
    counter = metrics.request_counter("stable", "", "a")
    for seconds in (0.001, 0.0010001, 30.0, 31.0):
        counter.count(200, seconds)
    hist = "gitops_ingress_proxy_request_duration_seconds_bucket"
    assert value(metrics, hist, kind="stable", le="0.001") == 1
    assert value(metrics, hist, kind="stable", le="0.0025") == 2
    assert value(metrics, hist, kind="stable", le="30.0") == 3
    assert value(metrics, hist, kind="stable", le="+Inf") == 4


def test_counters_are_shared_by_label_set_and_odd_statuses_count_as_0xx() -> None:
    metrics = ProxyMetrics()
    assert metrics.request_counter("stable", "", "a") is metrics.request_counter("stable", "", "a")
    metrics.request_counter("stable", "", "a").count(99, 0.001)
    metrics.request_counter("stable", "", "a").count(700, 0.001)
    name = "gitops_ingress_proxy_requests_total"
    assert value(metrics, name, kind="stable", branch="", host="a", protocol="h1", status_class="0xx") == 2


def test_upstream_errors_and_open_connections() -> None:
    metrics = ProxyMetrics()
    for reason in ("connect", "connect", "timeout"):
        metrics.upstream_error(reason)
    metrics.connection_opened()
    metrics.connection_opened()
    metrics.connection_closed()
    assert value(metrics, "gitops_ingress_proxy_upstream_errors_total", reason="connect") == 2
    assert value(metrics, "gitops_ingress_proxy_upstream_errors_total", reason="timeout") == 1
    assert value(metrics, "gitops_ingress_proxy_open_connections") == 1


def test_route_table_version_and_reloads_follow_the_holder() -> None:
    table = RouteTable([Route("a.example.com", "/", "Prefix", ServiceRef("ns", "svc", "80"), "ns/a")])
    holder = SnapshotHolder()
    metrics = ProxyMetrics()
    metrics.follow(holder)
    assert value(metrics, "gitops_ingress_proxy_route_table_reloads_total") == 0
    holder.swap(Snapshot(RoutingState(table, {"feature": table}, version=7)))
    holder.swap(Snapshot(RoutingState(table, version=8)))
    assert value(metrics, "gitops_ingress_proxy_route_table_version") == 8
    assert value(metrics, "gitops_ingress_proxy_route_table_reloads_total") == 2
    assert value(metrics, "gitops_ingress_proxy_routes") == 1


def test_label_sets_are_capped() -> None:
    metrics = ProxyMetrics(max_series=3)
    for index in range(10):
        metrics.request_counter("stable", "", f"host-{index}.example.com").count(200, 0.001)
    counted = [key for key in samples(metrics) if key[0] == "gitops_ingress_proxy_requests_total"]
    assert len(counted) == 4  # three real hosts and "other"
    assert (
        value(
            metrics,
            "gitops_ingress_proxy_requests_total",
            kind="stable",
            branch="",
            host="other",
            protocol="h1",
            status_class="2xx",
        )
        == 7
    )


def test_each_instance_has_its_own_registry() -> None:
    first, second = ProxyMetrics(), ProxyMetrics()  # would raise "Duplicated timeseries" on a shared one
    first.request_counter("stable", "", "a").count(200, 0.001)
    assert (
        value(
            second,
            "gitops_ingress_proxy_requests_total",
            kind="stable",
            branch="",
            host="a",
            protocol="h1",
            status_class="2xx",
        )
        == 0
    )
