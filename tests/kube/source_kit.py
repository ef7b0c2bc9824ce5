"""Helpers for the in-cluster route source tests: cluster objects written with the official client,
and a running KubernetesSource whose snapshots a test waits on (condition + deadline, no sleeps)."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.proxy.snapshot import Snapshot
from gitops_ingress.proxy.sources.kubernetes import KINDS, KubernetesSource
from tests.kube.target_kit import SETTINGS, Reader
from tests.support.kubeapi import StandIn

WAIT = 10.0


class Cluster(Reader):
    """Writes the objects a cluster would hold (Services, EndpointSlices, Secrets, Ingresses)."""

    def __init__(self, server: StandIn) -> None:
        super().__init__(server)
        self.discovery = kubernetes.client.DiscoveryV1Api(self.api)

    def namespace(self, name: str) -> None:
        self.core.create_namespace({"metadata": {"name": name}})

    def service(self, ns: str, name: str, port: int = 80, port_name: str = "http", target: int = 8080) -> None:
        self.core.create_namespaced_service(
            ns,
            {
                "metadata": {"name": name},
                "spec": {"selector": {"app": name}, "ports": [{"name": port_name, "port": port, "targetPort": target}]},
            },
        )

    def endpoints(
        self,
        ns: str,
        service: str,
        ready: list[str],
        not_ready: list[str] = (),  # type: ignore[assignment]
        port: int = 8080,
        port_name: str = "http",
        name: str = "",
    ) -> None:
        endpoints = [{"addresses": [a], "conditions": {"ready": True}} for a in ready]
        endpoints += [{"addresses": [a], "conditions": {"ready": False}} for a in not_ready]
        body = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "addressType": "IPv4",
            "metadata": {
                "name": name or f"{service}-abc",
                "namespace": ns,
                "labels": {"kubernetes.io/service-name": service},
            },
            "endpoints": endpoints,
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        }
        self.discovery.patch_namespaced_endpoint_slice(
            body["metadata"]["name"], ns, body, field_manager="test", _content_type="application/apply-patch+yaml"
        )

    def secret(self, ns: str, name: str, data: dict[str, str], kind: str = "Opaque") -> None:
        """A Secret with ``data`` (text, encoded here as the API stores it), created or replaced."""
        body = {
            "metadata": {"name": name},
            "type": kind,
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
        }
        try:
            self.core.replace_namespaced_secret(name, ns, body)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.core.create_namespaced_secret(ns, body)

    def tls_secret(self, ns: str, name: str, cert: bytes, key: bytes) -> None:
        self.core.create_namespaced_secret(
            ns,
            {
                "metadata": {"name": name},
                "type": "kubernetes.io/tls",
                "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()},
            },
        )


class Following:
    """Snapshots published by a running source."""

    def __init__(self, source: KubernetesSource) -> None:
        self.source = source
        self.snapshots: list[Snapshot] = []
        self._changed = asyncio.Condition()

    def publish(self, snapshot: Snapshot) -> None:
        self.snapshots.append(snapshot)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def until(self, check: Callable[[Snapshot], bool], timeout: float = WAIT) -> Snapshot:
        async with asyncio.timeout(timeout):
            async with self._changed:
                while not (self.snapshots and check(self.snapshots[-1])):
                    await self._changed.wait()
        return self.snapshots[-1]


def endpoints_for(snapshot: Snapshot, host: str, path: str = "/") -> tuple[Endpoint, ...] | None:
    """Where a request for ``host`` goes: its endpoints, or None when no route matches."""
    resolution = snapshot.state.resolve(host, path)
    backend = resolution.match.backend
    if backend is None:
        return None
    return snapshot.endpoints(backend)  # type: ignore[arg-type]


@asynccontextmanager
async def running(server: StandIn, tls_dir: Path | None = None, **options: Any) -> AsyncIterator[Following]:
    source = KubernetesSource(
        SETTINGS,
        kubeconfig=str(server.kubeconfig_path),
        tls_dir=str(tls_dir) if tls_dir else None,
        debounce=0.02,
        backoff_max=0.5,
        **options,
    )
    following = Following(source)
    task = asyncio.create_task(source.run(following.publish))
    try:
        yield following
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


class Outage(logging.Handler):
    """Sets ``all_down`` once every watched kind has logged two failed lists or watches in a row
    (the cut, then a retry refused), so a test knows the source met the API server down."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: Counter[str] = Counter()
        self.all_down = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "retrying in" in message:
            self.failures.update(k for k in KINDS if message.startswith(f"kubernetes: {k}:"))
            if all(self.failures[k] >= 2 for k in KINDS):
                self.all_down.set()

    async def seen(self, timeout: float = WAIT) -> bool:
        return await asyncio.to_thread(self.all_down.wait, timeout)


@asynccontextmanager
async def outage_log() -> AsyncIterator[Outage]:
    outage = Outage()
    logger = logging.getLogger("gitops_ingress.proxy.sources.kubernetes")
    logger.addHandler(outage)
    try:
        yield outage
    finally:
        logger.removeHandler(outage)
