"""The pure half of the in-cluster route source: watched objects -> a routing snapshot.

``ClusterView`` holds the caches of raw JSON objects the watches keep (Ingresses, Services,
EndpointSlices, TLS and Opaque Secrets) and computes from them, without I/O beyond writing the TLS files:
which Ingresses are ours and which are previews (restored to the hosts they have in git), the
ready endpoints of each Service (through ExternalName Services), the cluster IP of the Services
that ``service-upstream`` routes reach (``Snapshot.addresses``), the TLS Secrets our Ingresses
name, and the htpasswd Secrets of basic-auth routes. ``build`` runs in a worker thread on every debounced change; ``kubernetes.py`` owns the
watching, the retries and the status writes.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.core.labels import (
    BRANCH,
    MANAGED_BY,
    MANAGER,
    PREVIEW,
    ROLE,
    SERVICE_NAME,
    SOURCE_HOSTS,
    TLS_SECRET,
)
from gitops_ingress.core.models import LocatedIngress, SourceMap
from gitops_ingress.core.protocols import app_protocol_scheme
from gitops_ingress.core.routing import RouteTable, RoutingState, ServiceRef, compile_routes, is_ours
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.validation.schema import INGRESS_SCHEMA, read_document
from gitops_ingress.proxy import secrets
from gitops_ingress.proxy.snapshot import Snapshot

log = logging.getLogger("gitops_ingress.proxy.sources.kubernetes")

# the Secrets kept of the watch: certificates, and Opaque ones (htpasswd of auth-type: basic,
# proxy/secrets.py); service-account tokens, docker configs and the rest are dropped as they come
SECRET_TYPES = ("kubernetes.io/tls", "Opaque")
_CLUSTER_DNS = re.compile(r"([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?\.?")
Obj = dict[str, Any]
Key = tuple[str, str]


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def kept(kind: str, obj: Obj) -> bool:
    """Whether the watch cache keeps ``obj``: every object but Secrets of other types."""
    return kind != "secrets" or (obj.get("type") or "Opaque") in SECRET_TYPES


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
            source = SourceMap(f"kubernetes:{key[0]}/{key[1]}")
            ingress = INGRESS_SCHEMA.build(raw)  # unknown fields (a newer API server's) are ignored
            if ingress is None:
                # what is wrong, from the reporting walk over a copy (it drops null fields)
                _, problems = read_document(copy.deepcopy(dict(raw)), INGRESS_SCHEMA, source, "/".join(key), None)
                log.warning("ingress %s/%s ignored: %s", *key, problems[0].message if problems else "")
                continue
            item = LocatedIngress(ingress, key[0], source)
            if not is_ours(item, self.settings.ingress_class, self.settings.serve_ingresses_without_class):
                continue
            ours.append(key)
            labels, notes = _meta(raw, "labels"), _meta(raw, "annotations")
            if labels.get(MANAGED_BY) == MANAGER and labels.get(ROLE) == PREVIEW and notes.get(BRANCH):
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
        scheme = app_protocol_scheme(port.get("appProtocol"))  # h2c and gRPC backends say so here
        found: list[Endpoint] = []
        for eps in self.slices.get((ref.namespace, ref.name), []):
            wanted = port.get("name") or ""
            number = next((p.get("port") for p in eps.get("ports") or [] if (p.get("name") or "") == wanted), None)
            if number is None:
                continue
            for endpoint in eps.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue  # ready endpoints only; unknown readiness counts as ready (API semantics)
                found.extend(Endpoint(address, int(number), scheme) for address in endpoint.get("addresses") or [])
        return tuple(found)

    def address(self, ref: ServiceRef) -> tuple[Endpoint, ...]:
        """The Service's cluster IP and port, for ``service-upstream`` (ingress-nginx's: one
        upstream that kube-proxy balances); () for a headless or ExternalName Service, whose
        endpoints are used instead, as ingress-nginx falls back for them."""
        service = self.objects["services"].get((ref.namespace, ref.name))
        spec = (service or {}).get("spec") or {}
        cluster_ip = str(spec.get("clusterIP") or "")
        port = next((p for p in spec.get("ports") or [] if _port_matches(p, ref.port)), None)
        if port is None or not cluster_ip or cluster_ip == "None" or spec.get("type") == "ExternalName":
            return ()
        return (Endpoint(cluster_ip, int(port.get("port") or 80), app_protocol_scheme(port.get("appProtocol"))),)

    def auth_secrets(self, state: RoutingState) -> dict[Key, tuple[str, secrets.SecretData]]:
        """The decoded data of the Secrets that basic-auth routes name, read as the API gives them."""
        found: dict[Key, tuple[str, secrets.SecretData]] = {}
        for auth in secrets.wanted(state):
            key = (auth.namespace, auth.name)
            obj = self.objects["secrets"].get(key)
            if obj is not None:
                found[key] = (f"secret {auth.namespace}/{auth.name}", secrets.decoded(obj.get("data")))
        return found

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
    rules = tuple(replace(r, host=hosts.get(r.host or "", r.host) or None) for r in spec.rules)
    tls = tuple(replace(t, hosts=tuple(hosts.get(h, h) for h in t.hosts)) for t in spec.tls)
    ingress = replace(item.ingress, spec=replace(spec, rules=rules, tls=tls))
    return LocatedIngress(ingress, item.namespace, item.source, item.environment)


def build(
    objects: Mapping[str, Mapping[Key, Obj]], settings: Settings, version: int
) -> tuple[Snapshot, list[Key], dict[Key, Obj]]:
    """The snapshot, our Ingresses' keys and the TLS Secrets they name (blocking)."""
    view = ClusterView(objects, settings)
    stable_items, preview_items, ours = view.ingresses()
    stable = compile_routes(stable_items, settings)
    previews = {branch: compile_routes(items, settings) for branch, items in preview_items.items()}
    state = RoutingState(stable, previews, settings.preview_domain, version)
    resolved: dict[ServiceRef, tuple[Endpoint, ...]] = {}
    addressed: dict[ServiceRef, tuple[Endpoint, ...]] = {}
    for table in (stable, *previews.values()):
        for ref in _refs(table):
            resolved[ref] = view.endpoints(ref)
        for ref in _service_upstream_refs(table):
            addressed[ref] = view.address(ref)

    def endpoints(ref: ServiceRef) -> tuple[Endpoint, ...]:
        return resolved.get(ref, ())

    def addresses(ref: ServiceRef) -> tuple[Endpoint, ...]:
        return addressed.get(ref, ())

    credentials, findings = secrets.credentials_of(secrets.wanted(state), view.auth_secrets(state))
    for finding in findings:  # a cluster cannot be refused: the users are left out, the route kept closed
        log.warning("kubernetes: %s", finding.one_line(hint=False))
    return Snapshot(state, endpoints, "kubernetes", addresses, credentials), ours, view.tls_secrets(ours)


def _refs(table: RouteTable) -> set[ServiceRef]:
    """Every Service the table may send to: the routes', and their default-backend annotation's."""
    routes = [*table.routes, *([table.default_backend] if table.default_backend else [])]
    refs = {r.backend for r in routes if isinstance(r.backend, ServiceRef)}
    for route in table.routes:
        fallback = route.effects.default_backend if route.effects is not None else ""
        if fallback and isinstance(route.backend, ServiceRef):
            refs.add(ServiceRef(route.backend.namespace, fallback, route.backend.port))
    return refs


def _service_upstream_refs(table: RouteTable) -> set[ServiceRef]:
    """The Services routes reach with ``service-upstream`` (and their canaries' Services)."""
    found: set[ServiceRef] = set()
    for route in table.routes:
        effects = route.effects
        if effects is None or not effects.service_upstream:
            continue
        canary = effects.canary
        for backend in (route.backend, canary.backend if canary is not None else None):
            if isinstance(backend, ServiceRef):
                found.add(backend)
    return found


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
