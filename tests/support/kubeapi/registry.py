"""The REST semantics of one resource: create, read, list, update, patch, apply and delete.

This is where the API server's rules live -- metadata the server owns (uid, resourceVersion,
creationTimestamp, generation, managedFields), defaulting, status subresource handling,
preconditions (409 on a stale resourceVersion), validation (422), namespaces that must exist (404)
and namespace deletion cascading to the contents. HTTP and URL parsing stay in ``handlers``; this
module only sees decoded bodies, so it can be read against the API conventions on its own.
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import yaml

from . import apply, patches, resources, status, validation
from .apply import Scope
from .resources import ResourceType
from .store import Obj, Store

_SERVER_META = ("uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Write:
    """Who writes what where: the parts of a request that every mutating verb needs."""

    rt: ResourceType
    namespace: str
    manager: str
    subresource: str = ""
    dry_run: bool = False

    @property
    def scope(self) -> Scope:
        return Scope(self.subresource, self.rt.status_subresource)


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cluster_ips = (str(ipaddress.ip_address("10.96.0.10") + i) for i in itertools.count())

    # -- reads -------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.store.get(rt, namespace, name)
        if obj is None:
            raise status.not_found(rt, name)
        return obj

    # -- writes ------------------------------------------------------------------------------

    def create(self, w: Write, body: Obj) -> Obj:
        if w.subresource:
            raise status.method_not_allowed()
        with self.store.transaction():
            self._check_namespace(w)
            obj = self._identity(w, body, "")
            if self.store.get(w.rt, w.namespace, obj["metadata"]["name"]) is not None:
                raise status.already_exists(w.rt, obj["metadata"]["name"])
            own = apply.track_update(None, obj, w.manager, w.scope, now())
            return self._commit(w, None, obj, own)

    def update(self, w: Write, name: str, body: Obj) -> Obj:
        with self.store.transaction():
            old = self.get(w.rt, w.namespace, name)
            new = self._identity(w, body, name)
            self._check_version(w.rt, name, new, old)
            if "managedFields" not in new["metadata"] and old["metadata"].get("managedFields"):
                new["metadata"]["managedFields"] = old["metadata"]["managedFields"]
            new = self._merge_scope(w, old, new)
            own = apply.track_update(old, new, w.manager, w.scope, now())
            return self._commit(w, old, new, own)

    def patch(self, w: Write, name: str, content_type: str, raw: bytes, force: bool) -> tuple[Obj, bool]:
        """Returns the object and whether it was created (only server-side apply creates)."""
        with self.store.transaction():
            old = self.store.get(w.rt, w.namespace, name)
            if content_type == "application/apply-patch+yaml":
                return self._apply(w, name, old, raw, force)
            if old is None:
                raise status.not_found(w.rt, name)
            body = decode_body(raw)
            if content_type == "application/json-patch+json":
                new = patches.json_patch(old, body)
            elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                new = patches.merge_patch(old, body)
            else:
                raise status.unsupported_media(content_type)
            self._check_version(w.rt, name, new, old)
            new = self._merge_scope(w, old, self._identity(w, new, name))
            own = apply.track_update(old, new, w.manager, w.scope, now())
            return self._commit(w, old, new, own), False

    def _apply(self, w: Write, name: str, old: Obj | None, raw: bytes, force: bool) -> tuple[Obj, bool]:
        if not w.manager:
            raise status.bad_request("PATCH, fieldManager: Required value: is required for apply patch")
        applied = decode_body(raw)
        config = self._identity(w, applied, name)
        if old is None:
            if w.subresource:
                raise status.not_found(w.rt, name)
            self._check_namespace(w)
            live = {k: v for k, v in config.items() if k in ("apiVersion", "kind")}
            live["metadata"] = {k: v for k, v in config["metadata"].items() if k in ("name", "namespace")}
        else:
            self._check_version(w.rt, name, config, old)
            live = old
        result, own, conflicts = apply.server_side_apply(live, config, w.manager, force, w.scope, now())
        if conflicts and not force:
            raise status.apply_conflict(w.rt, name, conflicts, w.rt.api_version)
        return self._commit(w, old, result, own), old is None

    def delete(self, w: Write, name: str, options: Obj) -> tuple[int, Obj]:
        """The HTTP code and body of a DELETE, as the generic registry and the delete handler
        answer: an object with finalizers only gets its deletionTimestamp and comes back (it goes
        once an update removes the last finalizer); a deleted one comes back as itself for the
        kinds that return deleted objects (Service, ServiceAccount), else as a Success Status; a
        namespace comes back Terminating. 202 replaces 200 only when the deletion is pending and
        the client set the deprecated ``orphanDependents: false``."""
        with self.store.transaction():
            obj = self.get(w.rt, w.namespace, name)
            pre = options.get("preconditions") or {}
            meta = obj["metadata"]
            if (pre.get("uid") and pre["uid"] != meta.get("uid")) or (
                pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion")
            ):
                raise status.stale(w.rt, name)
            pending = 202 if options.get("orphanDependents") is False else 200
            if w.rt is resources.NAMESPACES:
                if w.dry_run:
                    return pending, obj
                return pending, self._delete_namespace(obj)
            if meta.get("finalizers"):
                if w.dry_run or meta.get("deletionTimestamp"):
                    return pending, obj  # already terminating: no write, no event
                meta["deletionTimestamp"] = now()
                return pending, self.store.put(w.rt, obj)
            if not w.dry_run:
                self.store.remove(w.rt, w.namespace, name)
            if w.rt.returns_deleted:
                return 200, obj  # as etcd hands it back: the last stored state
            return 200, status.success_status(w.rt, name, meta.get("uid", ""))

    def delete_collection(self, w: Write, names: list[str]) -> None:
        with self.store.transaction():
            for name in names:
                self.delete(w, name, {})

    def _delete_namespace(self, ns: Obj) -> Obj:
        """Namespaces terminate at once here: contents go first (each with a DELETED event), then
        the namespace; the caller gets it back in phase Terminating, as from a real server."""
        name = ns["metadata"]["name"]
        ns["metadata"]["deletionTimestamp"] = now()
        ns.setdefault("status", {})["phase"] = "Terminating"
        terminating = self.store.put(resources.NAMESPACES, ns)
        by_key = {rt.key: rt for rt in resources.RESOURCES}
        for key, obj_name in self.store.namespaced_keys(name):
            self.store.remove(by_key[key], name, obj_name)
        self.store.remove(resources.NAMESPACES, "", name)
        return terminating

    # -- helpers -----------------------------------------------------------------------------

    def _check_namespace(self, w: Write) -> None:
        if w.rt.namespaced:
            ns = self.store.get(resources.NAMESPACES, "", w.namespace)
            if ns is None:
                raise status.not_found(resources.NAMESPACES, w.namespace)
            if ns["metadata"].get("deletionTimestamp"):
                raise status.ApiError(
                    403,
                    "Forbidden",
                    f'{w.rt.qualified} "" is forbidden: unable to create new '
                    f"content in namespace {w.namespace} because it is being terminated",
                )

    def _identity(self, w: Write, body: Obj, url_name: str) -> Obj:
        """Check apiVersion, kind, name and namespace of a request body against the URL."""
        if not isinstance(body, dict):
            raise status.bad_request("the body of the request must be a JSON or YAML object")
        obj = copy.deepcopy(body)
        for field, want in (("apiVersion", w.rt.api_version), ("kind", w.rt.kind)):
            if obj.setdefault(field, want) != want:
                raise status.bad_request(
                    f"the API version in the data ({obj['apiVersion']}) does not match the "
                    f"expected API version ({w.rt.api_version})"
                    if field == "apiVersion"
                    else f'the kind in the data ("{obj["kind"]}") does not match the expected kind ("{w.rt.kind}")'
                )
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise status.bad_request("metadata must be an object")
        if not meta.get("name") and meta.get("generateName") and not url_name:
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if url_name and meta.setdefault("name", url_name) != url_name:
            raise status.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({url_name})"
            )
        if w.rt.namespaced:
            if meta.setdefault("namespace", w.namespace) != w.namespace:
                raise status.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
        else:
            meta.pop("namespace", None)
        return obj

    def _check_version(self, rt: ResourceType, name: str, new: Obj, old: Obj) -> None:
        wanted = new.get("metadata", {}).get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            raise status.stale(rt, name)

    def _merge_scope(self, w: Write, old: Obj, new: Obj) -> Obj:
        """A main-resource write keeps the old status; a /status write keeps everything else."""
        if w.subresource == "status":
            merged = copy.deepcopy(old)
            merged["status"] = new.get("status") or {}
            merged["metadata"]["managedFields"] = new["metadata"].get("managedFields", [])
            return merged
        if w.rt.status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        return new

    def _commit(self, w: Write, old: Obj | None, new: Obj, own: apply.Ownership) -> Obj:
        meta = new["metadata"]
        for key in _SERVER_META:
            meta.pop(key, None)
        if old is not None:
            for key in _SERVER_META:
                if key in old["metadata"]:
                    meta[key] = old["metadata"][key]
            if w.rt.generation and _spec(new) != _spec(old):
                meta["generation"] = old["metadata"].get("generation", 1) + 1
        else:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            if w.rt.generation:
                meta["generation"] = 1
            if w.rt.status_subresource and w.rt.kind != "Namespace":
                new["status"] = {"loadBalancer": {}}  # Ingress and Service start so
            self._default(w.rt, new)
        own.write(new, w.rt.api_version)
        if w.subresource != "status":
            causes = validation.validate(w.rt, new)
            if causes:
                raise status.invalid(w.rt, meta.get("name", ""), causes)
        if old is not None and _same(old, new):
            return old
        if w.dry_run:
            return new
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and w.rt is not resources.NAMESPACES:
            return self.store.remove(w.rt, w.namespace, meta["name"]) or new  # last finalizer gone
        return self.store.put(w.rt, new)

    def _default(self, rt: ResourceType, obj: Obj) -> None:
        """The defaults the API server fills in that clients commonly read back."""
        if rt.kind == "Namespace":
            name = obj["metadata"]["name"]
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif rt.kind == "Service":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if spec["type"] != "ExternalName" and spec.get("clusterIP") != "None":
                spec.setdefault("clusterIP", next(self._cluster_ips))
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
            for port in spec.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
                    port.setdefault("targetPort", port.get("port"))
        elif rt.kind == "Secret":
            obj.setdefault("type", "Opaque")


def _spec(obj: Obj) -> Any:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _same(old: Obj, new: Obj) -> bool:
    """Equal apart from managedFields timestamps: such a write is a no-op on a real server
    (no new resourceVersion, no watch event)."""

    def strip(obj: Obj) -> Obj:
        copied = copy.deepcopy(obj)
        for entry in copied["metadata"].get("managedFields") or []:
            entry.pop("time", None)
        return copied

    return strip(old) == strip(new)


def decode_body(raw: bytes) -> Any:
    """JSON or YAML (a JSON superset: kubectl sends either for apply patches)."""
    try:
        return yaml.load(raw or b"{}", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise status.bad_request(f"error decoding request body: {exc}") from exc
