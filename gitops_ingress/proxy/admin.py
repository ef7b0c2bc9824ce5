"""The admin port: ``/metrics``, ``/healthz`` and ``/readyz``, apart from the traffic port.

A separate listener so that scrapes and probes never queue behind client traffic and are never
reachable through the Ingress routes. It serves a handful of tiny GET requests per minute, so it is
a plain ``asyncio.start_server`` that reads one bounded request head and closes the connection:
no keep-alive, no bodies, nothing to tune. It is not the data path and does not reuse it.

* ``/healthz``: 200 while the process runs its event loop (liveness).
* ``/readyz``: 200 once a route table is loaded, 503 before (and while draining), with the reason
  as text, so a load balancer sends no traffic to a proxy that would answer everything with 404.
* ``/metrics``: the Prometheus text exposition of ``ProxyMetrics``.

Every path but ``/healthz`` answers only to ``Host`` names an attacker cannot point at this
machine (IP literals, localhost, configured names: core/allowed_hosts.py), so a web page the
user visits cannot read the metrics, with their hosts and branch names, by DNS rebinding.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from gitops_ingress.core.allowed_hosts import AllowedHosts
from gitops_ingress.core.errors import ConfigError
from gitops_ingress.proxy.metrics import CONTENT_TYPE_LATEST, ProxyMetrics
from gitops_ingress.proxy.snapshot import SnapshotHolder

MAX_HEAD = 8 * 1024
HEAD_TIMEOUT = 5.0
LOOPBACK_AND_IPS = AllowedHosts()  # frozen: the default is shared safely
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    421: "Misdirected Request",
    503: "Service Unavailable",
}


class AdminServer:
    def __init__(
        self,
        holder: SnapshotHolder,
        metrics: ProxyMetrics,
        draining: Callable[[], bool] = lambda: False,
        allowed_hosts: AllowedHosts = LOOPBACK_AND_IPS,
    ) -> None:
        self._allowed_hosts = allowed_hosts
        self._holder = holder
        self._metrics = metrics
        self._draining = draining
        self._server: asyncio.Server | None = None

    async def start(self, sock: socket.socket) -> None:
        self._server = await asyncio.start_server(self._handle, sock=sock, limit=MAX_HEAD)

    @property
    def port(self) -> int:
        if self._server is None:
            raise ConfigError("admin server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def answer(self, method: str, target: str, host: str | None) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request; the routing of the admin port."""
        path = target.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"only GET and HEAD\n"
        if path == "/healthz":
            return 200, "text/plain", b"ok\n"
        if not self._allowed_hosts.allows(host):
            return 421, "text/plain", b"this admin port answers to IP addresses and localhost only\n"
        if path == "/readyz":
            if self._draining():
                return 503, "text/plain", b"not ready: draining\n"
            if not self._holder.ready:
                return 503, "text/plain", b"not ready: no route table loaded yet\n"
            snapshot = self._holder.current
            text = f"ready: route table version {snapshot.state.version} from {snapshot.source or 'unknown'}\n"
            return 200, "text/plain", text.encode()
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, self._metrics.render()
        return 404, "text/plain", b"not found: try /metrics, /healthz or /readyz\n"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) == 3 and parts[2].startswith("HTTP/1."):
                status, ctype, body = self.answer(parts[0], parts[1], _host_of(lines[1:]))
            else:
                status, ctype, body = 400, "text/plain", b"bad request line\n"
            head_only = parts[0] == "HEAD"
            writer.write(
                f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + (b"" if head_only else body)
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # a probe that hung up or sent junk gets nothing more
        finally:
            writer.close()


def _host_of(header_lines: list[str]) -> str | None:
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "host":
            return value.strip()
    return None
