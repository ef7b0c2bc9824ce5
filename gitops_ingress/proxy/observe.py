"""The proxy's observation hooks, as a Protocol the request path calls and metrics implement.

The request path depends only on this small interface; ``metrics.ProxyMetrics`` implements it with
prometheus-client, ``NullObserver`` with nothing (tests, benchmarks of the bare path).
"""

from __future__ import annotations

from typing import Protocol


class ProxyObserver(Protocol):
    def request_finished(
        self, kind: str, branch: str, host: str, status: int, seconds: float
    ) -> None:
        """kind is "stable" or "preview"; branch is "" for stable; host is the rule host group."""

    def upstream_error(self, reason: str) -> None:
        """reason: "connect", "timeout", "reset", "protocol", "no-endpoint"."""

    def connection_opened(self) -> None: ...

    def connection_closed(self) -> None: ...


class NullObserver:
    def request_finished(self, kind: str, branch: str, host: str, status: int, seconds: float) -> None:
        pass

    def upstream_error(self, reason: str) -> None:
        pass

    def connection_opened(self) -> None:
        pass

    def connection_closed(self) -> None:
        pass
