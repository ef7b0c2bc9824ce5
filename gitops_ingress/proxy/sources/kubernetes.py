"""The in-cluster route source (``proxy --kubernetes``): watch the cluster, publish snapshots.

It is the ingress controller's informer, written over kubernetes_asyncio's raw responses. Why it
is built this way:

* One list-then-watch loop per kind (Ingresses, Services, EndpointSlices, TLS Secrets) keeps a
  local cache of raw JSON objects. A watch that ends or breaks is resumed from the last
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
  address or the LoadBalancer Service's own status), compared first so it is written only on change.
* The layering rule (adapters never import each other) keeps this in ``proxy``: it uses
  kubernetes_asyncio directly and the label and annotation names, which are facts of the wire
  format shared with ``kube/manifests.py``, not code.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.core.errors import ConfigError, SourceError
from gitops_ingress.core.models import Ingress, LocatedIngress, SourceMap
from gitops_ingress.core.routing import (
    RouteTable,
    RoutingState,
    ServiceRef,
    compile_routes,
    is_ours,
)
from gitops_ingress.core.settings import Settings
from gitops_ingress.proxy.snapshot import Snapshot
from gitops_ingress.proxy.sources import Publish

log = logging.getLogger("gitops_ingress.proxy.sources.kubernetes")

MANAGED_BY, MANAGER = "app.kubernetes.io/managed-by", "gitops-ingress"
ROLE, BRANCH = "gitops-ingress.dev/role", "gitops-ingress.dev/branch"
SOURCE_HOSTS, TLS_SECRET = "gitops-ingress.dev/source-hosts", "gitops-ingress.dev/tls-secret"
SERVICE_NAME = "kubernetes.io/service-name"
_CLUSTER_DNS = re.compile(r"([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?\.?")
KINDS = ("ingresses", "services", "endpointslices", "secrets")
MAX_LINE = 64 * 1024 * 1024
Obj = dict[str, Any]
Key = tuple[str, str]


class Expired(SourceError):
    """The watch's resourceVersion is too old (410 Gone): relist."""


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _meta(obj: Obj, field: str) -> dict[str, str]:
    return (obj.get("metadata") or {}).get(field) or {}


class ClusterView:
    """The caches, and everything computed from them (pure; runs in a worker thread)."""

    def __init__(self, objects: Mapping[str, Mapping[Key, Obj]], settings: Settings) -> None:
        self.objects = objects
        self.settings = settings
        self.slices: dict[Key, list[Obj]] = {}
        for (ns, _name), obj in objects["endpointslices"].items():
            self.slices.setdefault((ns, _meta(obj, "labels").get(SERVICE_NAME, "")), []).append(obj)

    def ingresses(self) -> tuple[list[LocatedIngress], dict[str, list[LocatedIngress]], list[Key]]:
        """(stable, previews by branch, our Ingresses' keys)."""
        stable: list[LocatedIngress] = []
        previews: dict[str, list[LocatedIngress]] = {}
        ours: list[Key] = []
        for key, raw in sorted(self.objects["ingresses"].items()):
            try:
                ingress = Ingress.model_validate(raw)
            except ValidationError as exc:
                log.warning("ingress %s/%s ignored: %s", *key, exc.errors()[0]["msg"])
                continue
            item = LocatedIngress(ingress, key[0], SourceMap(f"kubernetes:{key[0]}/{key[1]}"))
            if not is_ours(item, self.settings.ingress_class, self.settings.serve_ingresses_without_class):
                continue
            ours.append(key)
            labels, notes = _meta(raw, "labels"), _meta(raw, "annotations")
            if labels.get(MANAGED_BY) == MANAGER and labels.get(ROLE) == "preview" and notes.get(BRANCH):
                previews.setdefault(notes[BRANCH], []).append(_restored(item, notes))
            else:
                stable.append(item)
        return stable, previews, ours

    def endpoints(self, ref: ServiceRef, depth: int = 0) -> tuple[Endpoint, ...]:
        service = self.objects["services"].get((ref.namespace, ref.name))
        if service is None or depth > 4:
            return ()
        spec = service.get("spec") or {}
        port = next((p for p in spec.get("ports") or [] if _port_matches(p, ref.port)), None)
        if spec.get("type") == "ExternalName":
            target = str(spec.get("externalName") or "").lower()
            local = _CLUSTER_DNS.fullmatch(target)
            if local:
                return self.endpoints(ServiceRef(local[2], local[1], ref.port), depth + 1)
            external = int(ref.port) if ref.port.isdigit() else int((port or {}).get("port") or 80)
            return (Endpoint(target.rstrip("."), external),) if target else ()
        if port is None:
            return ()
        found: list[Endpoint] = []
        for eps in self.slices.get((ref.namespace, ref.name), []):
            wanted = port.get("name") or ""
            number = next((p.get("port") for p in eps.get("ports") or [] if (p.get("name") or "") == wanted), None)
            if number is None:
                continue
            for endpoint in eps.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue  # ready endpoints only; unknown readiness counts as ready (API semantics)
                found.extend(Endpoint(address, int(number)) for address in endpoint.get("addresses") or [])
        return tuple(found)

    def tls_secrets(self, ours: list[Key]) -> dict[Key, Obj]:
        named: dict[Key, Obj] = {}
        for key in ours:
            raw = self.objects["ingresses"][key]
            override = _meta(raw, "annotations").get(TLS_SECRET, "")
            for entry in (raw.get("spec") or {}).get("tls") or []:
                name = entry.get("secretName")
                wanted = tuple(override.split("/", 1)) if "/" in override else (key[0], name)
                secret = self.objects["secrets"].get(wanted) if name else None  # type: ignore[arg-type]
                if secret is not None and (secret.get("type") or "") == "kubernetes.io/tls":
                    named[wanted] = secret  # type: ignore[index]
        return named


def _api_problem(exc: ApiException, kind: str) -> str:
    if exc.status == 401:
        return f"401 Unauthorized listing {kind}: the kubeconfig user or ServiceAccount token was rejected"
    if exc.status == 403:
        return (f"403 Forbidden: missing permission to list and watch {kind} cluster-wide "
                f"(grant verbs list, watch on {kind} in the proxy's ClusterRole, deploy/rbac.yaml)")
    return f"{kind}: the API server answered {exc.status}: {exc.reason}"


def _port_matches(port: Obj, wanted: str) -> bool:
    return str(port.get("port")) == wanted if wanted.isdigit() else port.get("name") == wanted


def _restored(item: LocatedIngress, notes: Mapping[str, str]) -> LocatedIngress:
    """A preview Ingress with the hosts it has in git, so RoutingState computes its preview hosts."""
    try:
        hosts: dict[str, str] = json.loads(notes.get(SOURCE_HOSTS) or "{}")
    except ValueError:
        hosts = {}
    spec = item.ingress.spec
    if spec is None or not hosts:
        return item
    rules = tuple(r.model_copy(update={"host": hosts.get(r.host or "", r.host) or None}) for r in spec.rules)
    tls = tuple(t.model_copy(update={"hosts": tuple(hosts.get(h, h) for h in t.hosts)}) for t in spec.tls)
    ingress = item.ingress.model_copy(update={"spec": spec.model_copy(update={"rules": rules, "tls": tls})})
    return LocatedIngress(ingress, item.namespace, item.source, item.environment)


def build(objects: Mapping[str, Mapping[Key, Obj]], settings: Settings, version: int) -> tuple[Snapshot, list[Key], dict[Key, Obj]]:
    """The snapshot, our Ingresses' keys and the TLS Secrets they name (blocking)."""
    view = ClusterView(objects, settings)
    stable_items, preview_items, ours = view.ingresses()
    stable = compile_routes(stable_items, settings)
    previews = {branch: compile_routes(items, settings) for branch, items in preview_items.items()}
    state = RoutingState(stable, previews, settings.preview_domain, version)
    resolved: dict[ServiceRef, tuple[Endpoint, ...]] = {}
    for table in (stable, *previews.values()):
        for ref in _refs(table):
            resolved[ref] = view.endpoints(ref)

    def endpoints(ref: ServiceRef) -> tuple[Endpoint, ...]:
        return resolved.get(ref, ())

    return Snapshot(state, endpoints, "kubernetes"), ours, view.tls_secrets(ours)


def _refs(table: RouteTable) -> set[ServiceRef]:
    routes = [*table.routes, *([table.default_backend] if table.default_backend else [])]
    return {r.backend for r in routes if isinstance(r.backend, ServiceRef)}


def write_secrets(root: Path, secrets: Mapping[Key, Obj]) -> None:
    """Mirror the Secrets into ``root/cluster/<ns>/<name>/tls.{crt,key}``; drop those no longer named."""
    root = root / "cluster"  # beside, never over, the certificates mounted into the folder
    wanted = {root / ns / name: obj for (ns, name), obj in secrets.items()}
    for path, obj in wanted.items():
        data = obj.get("data") or {}
        try:
            files = {n: base64.b64decode(data[n]) for n in ("tls.crt", "tls.key")}
        except (KeyError, ValueError):
            continue
        path.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            if (path / name).is_file() and (path / name).read_bytes() == content:
                continue
            tmp = path / f".{name}.tmp"
            tmp.write_bytes(content)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path / name)
    for ns_dir in [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")] if root.is_dir() else []:
        for folder in [p for p in ns_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]:
            if folder not in wanted:
                shutil.rmtree(folder, ignore_errors=True)


class KubernetesSource:
    name = "kubernetes"

    def __init__(self, settings: Settings, *, kubeconfig: str | None = None, tls_dir: str | None = None,
                 status_address: str = "", publish_service: str = "", debounce: float = 0.1,
                 backoff_max: float = 10.0, watch_timeout: int = 300) -> None:
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

    async def _connect(self) -> k8s.ApiClient:
        config = k8s.Configuration()
        path = self.kubeconfig or next((p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p), None)
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"--kubernetes: kubeconfig {path}: no such file")
        try:
            if path is not None or not os.environ.get("KUBERNETES_SERVICE_HOST"):
                await k8s_config.load_kube_config(config_file=path, client_configuration=config)
            else:
                k8s_config.load_incluster_config(client_configuration=config)
        except (k8s_config.ConfigException, OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"--kubernetes: no usable Kubernetes configuration: {exc}") from exc
        return k8s.ApiClient(config)

    async def run(self, publish: Publish) -> None:
        api = await self._connect()
        try:
            async with asyncio.TaskGroup() as group:
                for kind in KINDS:
                    group.create_task(self._follow(api, kind))
                group.create_task(self._rebuild(api, publish))
        finally:
            await api.close()

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
        extra = {"field_selector": "type=kubernetes.io/tls"} if kind == "secrets" else {}
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
            except (OSError, TimeoutError, ValueError, SourceError) as exc:
                log.warning("kubernetes: %s: %s: %s; retrying in %.1fs", kind, type(exc).__name__, exc, delay)
            except Exception as exc:  # noqa: BLE001 - aiohttp's errors must not end the watch loop
                log.warning("kubernetes: %s: %s: %s; retrying in %.1fs", kind, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.backoff_max)

    async def _list(self, method: Any, kind: str, extra: dict[str, str]) -> str:
        response = await method(_preload_content=False, _request_timeout=30, **extra)
        async with response:
            if response.status != 200:  # raw responses do not raise: a 403 body must not empty the cache
                raise ApiException(status=response.status, reason=(await response.text())[:300])
            body = await response.json()
        self.objects[kind] = {key_of(obj): obj for obj in body.get("items") or []}
        self._listed.add(kind)
        self._dirty.set()
        return str((body.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, method: Any, kind: str, version: str, extra: dict[str, str]) -> str:
        response = await method(watch=True, allow_watch_bookmarks=True, resource_version=version,
                                timeout_seconds=self.watch_timeout, _preload_content=False,
                                _request_timeout=self.watch_timeout + 30, **extra)
        async with response:
            if response.status == 410:
                raise Expired(f"{kind}: 410 Gone")
            if response.status != 200:
                raise ApiException(status=response.status, reason=(await response.text())[:300])
            async for line in response.content:
                if len(line) > MAX_LINE:
                    raise SourceError(f"watch {kind}: an event longer than {MAX_LINE} bytes")
                if line.strip():
                    version = self._event(kind, json.loads(line)) or version
        return version

    def _event(self, kind: str, event: Obj) -> str:
        kind_of, obj = event.get("type"), event.get("object") or {}
        if kind_of == "ERROR":
            if obj.get("code") == 410:
                raise Expired(str(obj.get("message") or "410 Gone"))
            raise SourceError(f"watch {kind}: {obj.get('message') or obj}")
        if kind_of in ("ADDED", "MODIFIED"):
            self.objects[kind][key_of(obj)] = obj
            self._dirty.set()
        elif kind_of == "DELETED":
            self.objects[kind].pop(key_of(obj), None)
            self._dirty.set()
        return str((obj.get("metadata") or {}).get("resourceVersion") or "")

    # -- rebuild, publish, status ------------------------------------------------------------

    async def _rebuild(self, api: k8s.ApiClient, publish: Publish) -> None:
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
            log.info("kubernetes: route table version %d (%d stable routes, %d previews)", self.version,
                     len(snapshot.state.stable.routes), len(snapshot.state.previews))
            await self._write_status(api, objects, ours)

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

    async def _write_status(self, api: k8s.ApiClient, objects: Mapping[str, Mapping[Key, Obj]], ours: list[Key]) -> None:
        wanted = self._address(objects)
        if not wanted:
            return
        net = k8s.NetworkingV1Api(api)
        for ns, name in ours:
            live = objects["ingresses"][(ns, name)]
            if ((live.get("status") or {}).get("loadBalancer") or {}).get("ingress") == wanted:
                continue
            body = {"status": {"loadBalancer": {"ingress": wanted}}}
            try:
                await net.patch_namespaced_ingress_status(  # type: ignore[call-arg]  # runtime takes it
                    name, ns, body, _content_type="application/merge-patch+json", _request_timeout=10)
                self.status_writes += 1
            except (ApiException, OSError, TimeoutError) as exc:
                log.warning("kubernetes: status of ingress %s/%s not written: %s", ns, name, exc)
