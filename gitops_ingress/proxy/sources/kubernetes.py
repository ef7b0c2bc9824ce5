"""The in-cluster route source (``proxy --kubernetes``): watch the cluster, publish snapshots.

It is the ingress controller's informer, written over the official ``kubernetes`` client's raw
responses (the client the whole project is built on). Why it is built this way:

* The client blocks, so every call runs on the source's own threads (one per watched kind plus
  one for status writes: a watch holds its thread for minutes, which must never starve the
  event loop's default executor). The caches, the debounce and the rebuild stay on the loop.
  A watch is read line by line with the client's own ``iter_resp_lines``; cancelling the source
  shuts each open response down, which wakes the thread blocked reading it.

* One list-then-watch loop per kind (Ingresses, Services, EndpointSlices, TLS and Opaque Secrets:
  certificates and the htpasswd of basic-auth routes) keeps a local cache of raw JSON objects. A watch that ends or breaks is resumed from the last
  resourceVersion seen (bookmarks keep it fresh); a 410 Gone makes that kind relist, and the cache
  is replaced as a whole, so a deletion missed while cut off is never lost.
* Nothing is published until every kind has been listed once, so a starting proxy never serves a
  half-known cluster; after that, changes are debounced (a rollout touches many EndpointSlices)
  and one rebuild compiles everything in a worker thread with ``core.routing.compile_routes``.
* Previews written by the control plane carry their original hosts in an annotation: they are
  restored, so the RoutingState serves them on preview hosts with the stable ``Host`` upstream,
  exactly like the local target. Backends resolve through ExternalName Services (those of the form
  ``svc.ns.svc.cluster.local`` to that Service's ready endpoints, others to the DNS name).
* TLS Secrets named by our Ingresses are written as ``DIR/<ns>/<name>/tls.{crt,key}`` into the
  proxy's ``--tls-dir``, which the certificate store already watches: no second TLS code path.
* ``status.loadBalancer`` of each of our Ingresses is set to the published address (an explicit
  address or the LoadBalancer Service's own status), compared first so it is written only on change,
  by its own task that retries refused writes with back-off (no watch event would ask again).
* An API server restart is a cut watch, then refused connections: each kind backs off alone and
  resumes from its resourceVersion, or relists on 410; the last snapshot keeps serving meanwhile.
* What is computed from the caches (ours or not, previews, endpoints, TLS Secrets, the snapshot)
  is pure and lives in ``cluster.py``; this module watches, retries and writes status.
* The layering rule (adapters never import each other) keeps this in ``proxy``: it uses the
  client directly, and the label and annotation names of ``core/labels.py``, the wire contract
  shared with ``kube/manifests.py``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import random
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from gitops_ingress.core.errors import ConfigError, SourceError
from gitops_ingress.core.settings import Settings
from gitops_ingress.proxy.sources import Publish
from gitops_ingress.proxy.sources.cluster import Key, Obj, build, kept, key_of, write_secrets

log = logging.getLogger("gitops_ingress.proxy.sources.kubernetes")

KINDS = ("ingresses", "services", "endpointslices", "secrets")
MAX_LINE = 64 * 1024 * 1024
T = TypeVar("T")
k8s = kubernetes.client
k8s_config = kubernetes.config


class Expired(SourceError):
    """The watch's resourceVersion is too old (410 Gone): relist."""


def _api_problem(exc: ApiException, kind: str) -> str:
    if exc.status == 401:
        return f"401 Unauthorized listing {kind}: the kubeconfig user or ServiceAccount token was rejected"
    if exc.status == 403:
        return (
            f"403 Forbidden: missing permission to list and watch {kind} cluster-wide "
            f"(grant verbs list, watch on {kind} in the proxy's ClusterRole, deploy/rbac.yaml)"
        )
    return f"{kind}: the API server answered {exc.status}: {exc.reason}"


class KubernetesSource:
    name = "kubernetes"

    def __init__(
        self,
        settings: Settings,
        *,
        kubeconfig: str | None = None,
        tls_dir: str | None = None,
        status_address: str = "",
        publish_service: str = "",
        debounce: float = 0.1,
        backoff_max: float = 10.0,
        watch_timeout: int = 300,
    ) -> None:
        self.settings = settings
        self.kubeconfig = kubeconfig
        self.tls_dir = Path(tls_dir) if tls_dir else None
        self.status_address = status_address
        ns, _, name = publish_service.partition("/")
        self.publish_service: Key | None = (ns, name) if ns and name else None
        self.debounce = debounce
        self.backoff_max = backoff_max
        self.watch_timeout = watch_timeout
        self.objects: dict[str, dict[Key, Obj]] = {kind: {} for kind in KINDS}
        self.relists = 0
        self.version = 0
        self.status_writes = 0
        self._listed: set[str] = set()
        self._dirty = asyncio.Event()
        self._status_due = asyncio.Event()
        self._status_for: tuple[Mapping[str, Mapping[Key, Obj]], list[Key]] = ({}, [])
        # one thread per watched kind and one for status writes: a watch blocks its thread
        self._threads = ThreadPoolExecutor(len(KINDS) + 1, thread_name_prefix="kubernetes-source")

    def _connect(self) -> k8s.ApiClient:
        config = k8s.Configuration()
        path = self.kubeconfig or next((p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p), None)
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"--kubernetes: kubeconfig {path}: no such file")
        try:
            if path is not None or not os.environ.get("KUBERNETES_SERVICE_HOST"):
                k8s_config.load_kube_config(config_file=path, client_configuration=config)
            else:
                k8s_config.load_incluster_config(client_configuration=config)
        except (k8s_config.ConfigException, OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"--kubernetes: no usable Kubernetes configuration: {exc}") from exc
        return k8s.ApiClient(config)

    async def _call(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking client call on the source's threads."""
        job = functools.partial(call, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._threads, job)

    async def run(self, publish: Publish) -> None:
        try:
            api = await self._call(self._connect)
            try:
                async with asyncio.TaskGroup() as group:
                    for kind in KINDS:
                        group.create_task(self._follow(api, kind))
                    group.create_task(self._rebuild(publish))
                    group.create_task(self._statuses(api))
            finally:
                api.close()
        finally:
            self._threads.shutdown(wait=False, cancel_futures=True)

    # -- list and watch -------------------------------------------------------------------

    def _method(self, api: k8s.ApiClient, kind: str) -> Any:
        return {
            "ingresses": k8s.NetworkingV1Api(api).list_ingress_for_all_namespaces,
            "services": k8s.CoreV1Api(api).list_service_for_all_namespaces,
            "endpointslices": k8s.DiscoveryV1Api(api).list_endpoint_slice_for_all_namespaces,
            "secrets": k8s.CoreV1Api(api).list_secret_for_all_namespaces,
        }[kind]

    async def _follow(self, api: k8s.ApiClient, kind: str) -> None:
        method = self._method(api, kind)
        extra: dict[str, str] = {}
        delay, version = 0.1, ""
        while True:
            try:
                if not version:
                    version = await self._list(method, kind, extra)
                version = await self._watch(method, kind, version, extra)
                delay = 0.1
                continue
            except Expired:
                version = ""
                self.relists += 1
                log.info("kubernetes: %s watch expired (410); relisting", kind)
                continue
            except ApiException as exc:
                log.warning("kubernetes: %s; retrying in %.1fs", _api_problem(exc, kind), delay)
            except Exception as exc:
                log.warning("kubernetes: %s: %s: %s; retrying in %.1fs", kind, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.backoff_max)

    async def _list(self, method: Any, kind: str, extra: dict[str, str]) -> str:
        # an answer other than 2xx raises ApiException before the cache is touched
        response = await self._call(method, _preload_content=False, _request_timeout=30, **extra)
        try:
            body = json.loads(await self._call(response.read))
        finally:
            response.release_conn()
        self.objects[kind] = {key_of(obj): obj for obj in body.get("items") or [] if kept(kind, obj)}
        self._listed.add(kind)
        self._dirty.set()
        return str((body.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, method: Any, kind: str, version: str, extra: dict[str, str]) -> str:
        try:
            response = await self._call(
                method,
                watch=True,
                allow_watch_bookmarks=True,
                resource_version=version,
                timeout_seconds=self.watch_timeout,
                _preload_content=False,
                _request_timeout=self.watch_timeout + 30,
                **extra,
            )
        except ApiException as exc:
            if exc.status == 410:
                raise Expired(f"{kind}: 410 Gone") from exc
            raise
        lines = iter_resp_lines(response)
        ended = False
        try:
            while (line := await self._call(next, lines, None)) is not None:
                if len(line) > MAX_LINE:
                    raise SourceError(f"watch {kind}: an event longer than {MAX_LINE} bytes")
                if line.strip():
                    version = self._event(kind, json.loads(line)) or version
            ended = True
        finally:
            if not ended:  # cut short (cancelled, a bad event): wake the thread still reading it
                response.shutdown()
            response.release_conn()
        return version

    def _event(self, kind: str, event: Obj) -> str:
        kind_of, obj = event.get("type"), event.get("object") or {}
        if kind_of == "ERROR":
            if obj.get("code") == 410:
                raise Expired(str(obj.get("message") or "410 Gone"))
            raise SourceError(f"watch {kind}: {obj.get('message') or obj}")
        if kind_of in ("ADDED", "MODIFIED"):
            if kept(kind, obj):
                self.objects[kind][key_of(obj)] = obj
                self._dirty.set()
        elif kind_of == "DELETED":
            self.objects[kind].pop(key_of(obj), None)
            self._dirty.set()
        return str((obj.get("metadata") or {}).get("resourceVersion") or "")

    # -- rebuild, publish, status ------------------------------------------------------------

    async def _rebuild(self, publish: Publish) -> None:
        while True:
            await self._dirty.wait()
            if len(self._listed) < len(KINDS):
                self._dirty.clear()
                continue  # publish nothing until every kind is known
            for _ in range(50):  # debounce: wait for a quiet spell, bounded
                self._dirty.clear()
                await asyncio.sleep(self.debounce)
                if not self._dirty.is_set():
                    break
            objects = {kind: dict(items) for kind, items in self.objects.items()}
            self.version += 1
            snapshot, ours, secrets = await asyncio.to_thread(build, objects, self.settings, self.version)
            if self.tls_dir is not None:
                await asyncio.to_thread(write_secrets, self.tls_dir, secrets)
            publish(snapshot)
            log.info(
                "kubernetes: route table version %d (%d stable routes, %d previews)",
                self.version,
                len(snapshot.state.stable.routes),
                len(snapshot.state.previews),
            )
            self._status_for = (objects, ours)
            self._status_due.set()

    async def _statuses(self, api: k8s.ApiClient) -> None:
        delay = 0.1
        while True:
            await self._status_due.wait()
            self._status_due.clear()
            if await self._write_status(api, *self._status_for):
                delay = 0.1
                continue
            try:  # a newer route table wakes this at once; else retry the same after a back-off
                await asyncio.wait_for(self._status_due.wait(), delay * random.uniform(0.8, 1.2))
            except TimeoutError:
                self._status_due.set()
            delay = min(delay * 2, self.backoff_max)

    def _address(self, objects: Mapping[str, Mapping[Key, Obj]]) -> list[Obj]:
        if self.publish_service is not None:
            service = objects["services"].get(self.publish_service) or {}
            found = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress")
            if found:
                return [{k: v for k, v in entry.items() if k in ("ip", "hostname")} for entry in found]
        if not self.status_address:
            return []
        field = "ip" if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", self.status_address) else "hostname"
        return [{field: self.status_address}]

    async def _write_status(
        self, api: k8s.ApiClient, objects: Mapping[str, Mapping[Key, Obj]], ours: list[Key]
    ) -> bool:
        """Whether every status is now as wanted."""
        wanted = self._address(objects) if ours else []
        if not wanted:
            return True
        net = k8s.NetworkingV1Api(api)
        written = True
        for ns, name in ours:
            live = objects["ingresses"][(ns, name)]
            if ((live.get("status") or {}).get("loadBalancer") or {}).get("ingress") == wanted:
                continue
            body = {"status": {"loadBalancer": {"ingress": wanted}}}
            try:
                await self._call(
                    net.patch_namespaced_ingress_status,
                    name,
                    ns,
                    body,
                    _content_type="application/merge-patch+json",
                    _request_timeout=10,
                )
                self.status_writes += 1
            except Exception as exc:
                log.warning("kubernetes: status of ingress %s/%s not written (retrying): %s", ns, name, exc)
                written = False
        return written
