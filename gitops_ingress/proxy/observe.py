"""The proxy's observation hooks, as Protocols the request path calls and metrics implement.

The request path depends only on this small interface; ``metrics.ProxyMetrics`` implements it with
prometheus-client, ``NullObserver`` with nothing (tests, benchmarks of the bare path). Requests are
counted in two steps because their labels are fixed per route: ``request_counter`` is asked once
per cached route (proxy/decide.py), and the counter it gives (a ``counting.RequestSeries``, a
concrete class so that compiled code calls it directly) is told about each answer.
"""

from __future__ import annotations

from typing import Protocol

from gitops_ingress.proxy.counting import Latency, RequestSeries


class ProxyObserver(Protocol):
    def request_counter(self, kind: str, branch: str, host: str, protocol: str = "h1") -> RequestSeries:
        """Where requests with these labels are counted: kind is "stable" or "preview", branch is
        "" for stable, host is the rule host group ("" when no rule matched), protocol what the
        client spoke ("h1" or "h2")."""

    def grpc_answer(self, host: str, code: int) -> None:
        """A gRPC call to the rule host group ``host`` ended with grpc-status ``code``."""

    def upstream_error(self, reason: str) -> None:
        """reason: "connect", "timeout", "reset", "protocol", "no-endpoint"."""

    def preview_key_ignored(self, reason: str) -> None:
        """A routing key that was not followed (proxy/routingkey.py): "malformed", "unsigned",
        "forged", "expired", "unknown-branch" (unknown, deleted or refused) or "preview-host"."""

    def connection_opened(self) -> None: ...

    def connection_closed(self) -> None: ...


class NullObserver:
    def __init__(self) -> None:
        self._counter = RequestSeries(Latency())  # counted into, never read

    def request_counter(self, kind: str, branch: str, host: str, protocol: str = "h1") -> RequestSeries:
        return self._counter

    def grpc_answer(self, host: str, code: int) -> None:
        pass

    def upstream_error(self, reason: str) -> None:
        pass

    def preview_key_ignored(self, reason: str) -> None:
        pass

    def connection_opened(self) -> None:
        pass

    def connection_closed(self) -> None:
        pass
