"""Prometheus metrics of the control plane, on a registry of their own.

A private ``CollectorRegistry`` per engine (never the process-global default) keeps two engines in
one test process, or the proxy's own metrics, from colliding, and lets ``/metrics`` expose exactly
what this engine measured.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# sync durations run from a few ms (a cached re-sync) to seconds (a cold 100k-file branch)
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# push to live adds the debounce and the fetch, and error retries with back-off: up to minutes
_PUSH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class SyncMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.sync_duration = Histogram(
            "gitops_ingress_sync_duration_seconds",
            "Time to reconcile one branch commit (read, parse, validate, apply, record).",
            ["result"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.push_to_live = Histogram(
            "gitops_ingress_push_to_live_seconds",
            "From a push being noticed (webhook arrival, else the fetch that found it) until its"
            " commit's routes went live.",
            buckets=_PUSH_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "gitops_ingress_sync_queue_depth",
            "Branches with a commit waiting to be reconciled.",
            registry=self.registry,
        )
        self.last_success = Gauge(
            "gitops_ingress_last_successful_sync_timestamp_seconds",
            "Unix time of the last sync that applied or confirmed a branch.",
            ["branch"],
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "gitops_ingress_webhook_deliveries_total",
            "Webhook deliveries by forge and result.",
            ["forge", "result"],
            registry=self.registry,
        )
        self.files_parsed = Counter(
            "gitops_ingress_files_parsed_total",
            "Ingress files parsed (cache misses by blob SHA).",
            registry=self.registry,
        )
        self.fetch_failures = Counter(
            "gitops_ingress_fetch_failures_total",
            "Failed fetches from the remote.",
            registry=self.registry,
        )

        self.fetches = Counter(
            "gitops_ingress_fetches_total",
            "Fetches from the remote (one ref or every ref; a burst of webhooks should cost a few).",
            registry=self.registry,
        )
        self.store_transactions = Counter(
            "gitops_ingress_store_transactions_total",
            "Transactions committed to the state database (each groups the writes queued meanwhile).",
            registry=self.registry,
        )
        self.store_writes = Counter(
            "gitops_ingress_store_writes_total",
            "Writes to the state database (branch rows, sync history, webhook deliveries).",
            registry=self.registry,
        )

    def forget_branch(self, branch: str) -> None:
        try:
            self.last_success.remove(branch)
        except KeyError:
            pass
