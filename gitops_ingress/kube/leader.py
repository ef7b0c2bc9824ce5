"""Leader election with a coordination.k8s.io/v1 Lease, as client-go does it.

Several control-plane replicas run the same engine; only the holder of the Lease writes. Why this
shape:

* Expiry is judged on this replica's own clock: a Lease held by someone else counts as expired once
  its record (holder, renewTime) has not changed for ``lease_duration`` seconds *as observed here*,
  so clock skew between nodes cannot make two replicas lead at once.
* Writes are fenced by time, not by the last answer: ``is_leader()`` turns false once the last
  successful renewal is older than ``renew_deadline`` (two thirds of the lease), which is before any
  other replica may take over. A leader cut off from the API server stops writing by itself.
* Every update carries the Lease's resourceVersion, so two candidates racing for an expired Lease
  cannot both win: the loser gets a 409 and stays a follower.
* Shutdown releases the Lease (empty holder, 1-second duration) so a successor takes over at once
  instead of after a full lease.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import kubernetes

from gitops_ingress.kube.client import KubeOptions, server_of
from gitops_ingress.kube.errors import KubeConflict, KubeError, KubeNotFound, api_call

log = logging.getLogger("gitops_ingress.kube.leader")
Callback = Callable[[], Awaitable[None]]


def micro_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, api: kubernetes.client.ApiClient, options: KubeOptions) -> None:
        self._api = kubernetes.client.CoordinationV1Api(api)
        self._server = server_of(api)
        self.options = options
        self.identity = options.who()
        self.renew_deadline = options.lease_duration * 2 / 3
        self._renewed_at: float | None = None  # monotonic time of our last successful write
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.transitions = 0
        self.changed = asyncio.Event()  # set on every gain or loss (tests wait on it)

    def leader(self) -> str | None:
        """The identity the lease last named (this replica's own while it leads); None before the
        first look at the lease or when it names nobody."""
        if self.is_leader():
            return self.identity
        return str(self._observed[0]) if self._observed is not None and self._observed[0] else None

    def is_leader(self) -> bool:
        return self._renewed_at is not None and time.monotonic() - self._renewed_at < self.renew_deadline

    async def run(self, *, on_started: Callback | None = None, on_stopped: Callback | None = None) -> None:
        """Acquire and renew until cancelled; release on the way out. ``on_started`` is awaited
        on every gain of the lease (e.g. the target's resync), ``on_stopped`` on every loss."""
        leading = False
        try:
            while True:
                try:
                    await asyncio.to_thread(self.try_acquire_or_renew)
                except KubeError as exc:
                    log.warning("leader election: %s", exc)
                now_leading = self.is_leader()
                if now_leading != leading:
                    leading = now_leading
                    await self._transition(leading, on_started if leading else on_stopped)
                await asyncio.sleep(self.options.renew_interval if leading else self.options.renew_interval / 2)
        finally:
            if self._renewed_at is not None:
                await asyncio.to_thread(self.release)

    async def _transition(self, leading: bool, callback: Callback | None) -> None:
        log.info(
            "leader election: %s %s the lease %s/%s",
            self.identity,
            "holds" if leading else "lost",
            self.options.lease_namespace,
            self.options.lease_name,
        )
        self.changed.set()
        self.changed = asyncio.Event()
        if callback is not None:
            await callback()

    # -- one round (blocking) ---------------------------------------------------------------

    def _request(self, method: Callable[..., Any], verb: str, **kwargs: Any) -> dict[str, Any]:
        ns, name = self.options.lease_namespace, self.options.lease_name
        response = api_call(
            method,
            verb,
            "leases",
            ns,
            name,
            self._server,
            namespace=ns,
            _preload_content=False,
            _request_timeout=self.options.request_timeout,
            **kwargs,
        )
        lease: dict[str, Any] = json.loads(response.data)
        return lease

    def _spec(self, lease: dict[str, Any], now: datetime) -> dict[str, Any]:
        spec = dict(lease.get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = micro_time(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if spec.get("holderIdentity") else 0)
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=max(1, round(self.options.lease_duration)),
            renewTime=micro_time(now),
        )
        return spec

    def try_acquire_or_renew(self) -> bool:
        started = time.monotonic()
        now = datetime.now(UTC)
        try:
            lease = self._request(self._api.read_namespaced_lease, "get", name=self.options.lease_name)
        except KubeNotFound:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.options.lease_name, "namespace": self.options.lease_namespace},
                "spec": self._spec({}, now),
            }
            try:
                self._request(self._api.create_namespaced_lease, "create", body=body)
            except KubeConflict:
                return False  # another replica created it first
            self._won(started)
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        if record != self._observed:
            self._observed, self._observed_at = record, started
        duration = float(spec.get("leaseDurationSeconds") or self.options.lease_duration)
        if holder and holder != self.identity and started - self._observed_at < duration:
            self._renewed_at = None
            return False
        lease["spec"] = self._spec(lease, now)
        try:
            self._request(self._api.replace_namespaced_lease, "update", name=self.options.lease_name, body=lease)
        except KubeConflict:
            return False  # someone renewed or took it between our read and write
        self._won(started)
        return True

    def _won(self, started: float) -> None:
        if self._renewed_at is None:
            self.transitions += 1
        self._renewed_at = started

    def release(self) -> None:
        """Give the lease up so another replica takes over without waiting for expiry."""
        self._renewed_at = None
        try:
            lease = self._request(self._api.read_namespaced_lease, "get", name=self.options.lease_name)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update(holderIdentity=None, leaseDurationSeconds=1, renewTime=micro_time(datetime.now(UTC)))
            lease["spec"] = spec
            self._request(self._api.replace_namespaced_lease, "update", name=self.options.lease_name, body=lease)
        except KubeError as exc:
            log.warning("leader election: could not release the lease: %s", exc)
