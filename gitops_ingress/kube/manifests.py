"""What a branch should look like in the cluster: namespaces, Ingresses and ExternalName Services.

Pure functions from the engine's desired environments to plain manifests (dicts), so the shape of
what we write is testable without a cluster and the reconcile loop in ``target.py`` only compares
and writes. Choices made here:

* Ownership is in labels (``app.kubernetes.io/managed-by``, branch slug, environment, role), so
  pruning is a label-selected list and anything without them is never touched. The full branch name
  and the commit are annotations. The names are ``core/labels.py``, shared with the proxy.
* The commit annotation sits on the namespaces only: putting it on every Ingress would rewrite
  every Ingress on every push. A digest of each manifest (``applied-hash``) lets the reconcile skip
  identical objects and still notice a field that git dropped.
* Previews: our class, every rule and TLS host rewritten with ``core.naming.preview_host`` and the
  wildcard preview certificate's Secret; the original hosts are kept in an annotation so the proxy
  can serve the preview with the stable ``Host`` header (docs/concepts.md).
* Routing-only previews: every backend Service a preview namespace needs becomes an ExternalName
  Service pointing at ``<svc>.<stable-ns>.svc.cluster.local``, unless the branch deploys its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_ingress.core.desired import DesiredEnvironment
from gitops_ingress.core.labels import (
    BRANCH,
    COMMIT,
    ENVIRONMENT,
    ENVIRONMENTS,
    EXTERNAL_NAME,
    HASH,
    MANAGED_BY,
    MANAGER,
    PREVIEW,
    ROLE,
    SOURCE_HOSTS,
    STABLE,
    STABLE_NAMESPACE,
    TLS_SECRET,
)
from gitops_ingress.core.models import (
    INGRESS_CLASS_ANNOTATION,
    LocatedIngress,
    dump_manifest,
)
from gitops_ingress.core.naming import (
    branch_slug,
    fit_label,
    fold,
    preview_host,
    preview_namespace,
    stable_namespace,
)
from gitops_ingress.core.settings import Settings

Key = tuple[str, str]  # (namespace, name)


@dataclass
class DesiredBranch:
    """Every object a branch wants, keyed by (namespace, name); ``problems`` are refusals."""

    branch: str
    stable: bool
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    ingresses: dict[Key, dict[str, Any]] = field(default_factory=dict)
    backends: dict[str, set[str]] = field(default_factory=dict)  # preview ns -> Service names
    stable_of: dict[str, str] = field(default_factory=dict)  # preview ns -> stable ns
    kept: set[str] = field(default_factory=set)  # environments whose objects stay as they are
    problems: list[str] = field(default_factory=list)


def label_value(text: str) -> str:
    return fit_label(fold(text), text) or "none"


def ownership(branch: str, role: str, environment: str = "") -> dict[str, str]:
    labels = {MANAGED_BY: MANAGER, BRANCH: branch_slug(branch), ROLE: role}
    if environment:
        labels[ENVIRONMENT] = label_value(environment)
    return labels


def selector(branch: str, role: str = "") -> str:
    parts = [f"{MANAGED_BY}={MANAGER}", f"{BRANCH}={branch_slug(branch)}"]
    if role:
        parts.append(f"{ROLE}={role}")
    return ",".join(parts)


def is_ours(obj: Mapping[str, Any], branch: str, role: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY) == MANAGER and labels.get(BRANCH) == branch_slug(branch) and labels.get(ROLE) == role


def role_of(obj: Mapping[str, Any]) -> str:
    """The role label of an object gitops-ingress manages, "" for anything else."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get(ROLE, "")) if labels.get(MANAGED_BY) == MANAGER else ""


def pruned(value: Any) -> Any:
    """Empty lists and mappings dropped: the API server does not keep them, so comparing a manifest
    that has them with a live object would see a change that is not there."""
    if isinstance(value, Mapping):
        out = {k: pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in ({}, [], None)}
    if isinstance(value, list | tuple):
        return [pruned(v) for v in value]
    return value


def stamped(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with a digest of itself in an annotation."""
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    manifest["metadata"].setdefault("annotations", {})[HASH] = digest
    return manifest


def contains(live: Any, wanted: Any) -> bool:
    """``wanted`` is in ``live``: mappings by key (the server adds defaults), lists element-wise."""
    if isinstance(wanted, Mapping):
        return isinstance(live, Mapping) and all(k in live and contains(live[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(live) == len(wanted) and all(map(contains, live, wanted))
    return bool(live == wanted)


def unchanged(live: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    if live is None:
        return False
    live_hash = ((live.get("metadata") or {}).get("annotations") or {}).get(HASH)
    # list items carry no apiVersion/kind, so only the object's own fields are compared
    fields = {k: v for k, v in wanted.items() if k not in ("apiVersion", "kind")}
    return live_hash == wanted["metadata"]["annotations"][HASH] and contains(live, fields)


def namespace_manifest(
    name: str, branch: str, role: str, environments: Iterable[str], commit: str, stable_ns: str = ""
) -> dict[str, Any]:
    envs = sorted(set(environments))
    annotations = {BRANCH: branch, COMMIT: commit, ENVIRONMENTS: ",".join(envs)}
    if stable_ns:
        annotations[STABLE_NAMESPACE] = stable_ns
    return stamped(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": ownership(branch, role, envs[0] if envs else ""),
                "annotations": annotations,
            },
        }
    )


def external_name_manifest(service: str, namespace: str, stable_ns: str, branch: str) -> dict[str, Any]:
    return stamped(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": service,
                "namespace": namespace,
                "labels": ownership(branch, EXTERNAL_NAME),
                "annotations": {BRANCH: branch, STABLE_NAMESPACE: stable_ns},
            },
            "spec": {"type": "ExternalName", "externalName": f"{service}.{stable_ns}.svc.cluster.local"},
        }
    )


def _preview_spec(spec: dict[str, Any], branch: str, settings: Settings, tls_secret: str) -> dict[str, str]:
    """Rewrite a preview's spec in place; returns preview host -> original host."""
    domain = settings.preview_domain
    hosts: dict[str, str] = {}
    spec["ingressClassName"] = settings.ingress_class
    for rule in spec.get("rules") or []:
        original = rule.get("host") or ""
        rule["host"] = preview_host(branch, original or None, domain)
        hosts[rule["host"]] = original
    secret_name = tls_secret.rpartition("/")[2]
    for entry in spec.get("tls") or []:
        entry["hosts"] = [preview_host(branch, h or None, domain) for h in entry.get("hosts") or []]
        entry.pop("secretName", None)
        if secret_name:
            entry["secretName"] = secret_name
    return hosts


def ingress_manifest(
    item: LocatedIngress, namespace: str, branch: str, stable: bool, settings: Settings, tls_secret: str, stable_ns: str
) -> dict[str, Any]:
    manifest = dump_manifest(item.ingress)
    meta = item.ingress.metadata
    labels = {**meta.labels, **ownership(branch, STABLE if stable else PREVIEW, item.environment)}
    annotations = {**meta.annotations, BRANCH: branch}
    spec = manifest.setdefault("spec", {})
    if not stable:
        annotations.pop(INGRESS_CLASS_ANNOTATION, None)
        hosts = _preview_spec(spec, branch, settings, tls_secret)
        annotations[SOURCE_HOSTS] = json.dumps(hosts, sort_keys=True)
        annotations[STABLE_NAMESPACE] = stable_ns
        if tls_secret and spec.get("tls"):
            annotations[TLS_SECRET] = tls_secret
    manifest["metadata"] = {"name": meta.name, "namespace": namespace, "labels": labels, "annotations": annotations}
    return stamped(pruned(manifest))


def service_names(item: LocatedIngress) -> set[str]:
    spec = item.ingress.spec
    if spec is None:
        return set()
    backends = [spec.default_backend] + [p.backend for r in spec.rules if r.http for p in r.http.paths or ()]
    return {b.service.name for b in backends if b is not None and b.service is not None and b.service.name}


def desired_branch(
    branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment], settings: Settings, tls_secret: str
) -> DesiredBranch:
    """Everything ``branch`` wants, or the problems (two environments claiming one object)."""
    want = DesiredBranch(branch, stable)
    ns_envs: dict[str, set[str]] = {}
    commits: dict[str, str] = {}
    owners: dict[Key, str] = {}
    templates = settings.namespaces
    for env_name in sorted(environments):
        env = environments[env_name]
        if env.keep:
            want.kept.add(env_name)
            continue
        for item in env.ingresses:
            stable_ns = stable_namespace(templates.stable_template, item.namespace)
            ns = stable_ns if stable else preview_namespace(templates.preview_template, item.namespace, branch)
            key = (ns, item.name)
            if key in owners:
                want.problems.append(
                    f"Ingress {ns}/{item.name} is defined by environments {owners[key]!r} and "
                    f"{env_name!r} ({item.position()}): one object cannot be both; rename one"
                )
                continue
            owners[key] = env_name
            ns_envs.setdefault(ns, set()).add(env_name)
            commits[ns] = env.commit
            want.ingresses[key] = ingress_manifest(item, ns, branch, stable, settings, tls_secret, stable_ns)
            if not stable:
                want.stable_of[ns] = stable_ns
                want.backends.setdefault(ns, set()).update(service_names(item))
    role = STABLE if stable else PREVIEW
    for ns, envs in ns_envs.items():
        want.namespaces[ns] = namespace_manifest(ns, branch, role, envs, commits[ns], want.stable_of.get(ns, ""))
    return want
