"""The ``kubernetes`` target: each branch server-side applied into its own namespaces.

One reconcile of a branch, in a worker thread (the official client blocks):

1. Build every manifest the branch wants (``manifests.desired_branch``).
2. Read what we manage for the branch, by label, in one list per kind; read the namespaces we do
   not know yet one by one, because a namespace of that name may exist and belong to someone else.
3. Write only what differs (digest and field comparison), so a reconcile with nothing to change
   makes no write at all; prune our objects that git no longer holds.
4. Refusals (a foreign namespace, a foreign Ingress of that name, a field-manager conflict, two
   environments claiming one object) do not stop the rest of the branch: they are collected and
   raised at the end as one ``KubeError`` naming each object, so the engine reports the branch and
   retries with back-off while everything else of the branch is live.

High availability: with a leader gate, a follower remembers the desired state of every branch and
writes nothing; each write checks the gate, so a replica that lost its lease mid-apply stops
(``NotLeader``) and the new leader, which remembered the same state, completes it on ``resync``.
Both paths converge because every step is idempotent. ``apply`` and ``remove`` raise ``NotLeader``
when they skipped the writes, so the engine never records as applied what was not written (it
retries with back-off, and the resync on re-acquiring the lease does the writes). A resync that
fails for some branches retries them with back-off until they succeed or the lease is lost.

Drift repair: ``reconcile_all`` reconciles every remembered branch against the cluster (the engine
calls it on start and on every poll interval). Because a reconcile writes only what differs, a
cluster that matches costs reads only; a deleted Ingress comes back, an edited field is restored,
and a field another manager took over is reported per branch as a conflict.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kubernetes

from gitops_ingress.core import labels
from gitops_ingress.core.desired import DesiredEnvironment
from gitops_ingress.core.settings import Settings
from gitops_ingress.kube import manifests as m
from gitops_ingress.kube.client import KubeOptions
from gitops_ingress.kube.cluster import Cluster, Obj
from gitops_ingress.kube.errors import ForeignObject, KubeConflict, KubeError, NotLeader

log = logging.getLogger("gitops_ingress.kube.target")


class KubernetesTarget:
    """Satisfies ``sync.Target`` by shape."""

    name = "kubernetes"
    repairs_drift = True

    def __init__(
        self,
        api: kubernetes.client.ApiClient,
        settings: Settings,
        options: KubeOptions | None = None,
        *,
        is_leader: Callable[[], bool] | None = None,
        leader: Callable[[], str | None] | None = None,
    ) -> None:
        """``is_leader``: whether this replica may write now (None: always); ``leader``: the
        identity that holds the lease, for the standby status (None: not known)."""
        self.options = options or KubeOptions()
        self.settings = settings
        self.cluster = Cluster(api, self.options)
        self._is_leader = is_leader
        self._leader = leader
        self._desired: dict[str, tuple[bool, dict[str, DesiredEnvironment]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.resyncing: asyncio.Task[None] | None = None  # the running resync (tests wait on it)

    # -- the Target protocol --------------------------------------------------------------

    async def apply(self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]) -> None:
        merged = self._remember(branch, stable, environments)
        self._not_leading("an apply was not written")  # we keep the state for when we take over
        async with self._lock(branch):
            await asyncio.to_thread(self.reconcile, branch, stable, merged)

    async def remove(self, branch: str, stable: bool) -> None:
        self._desired.pop(branch, None)
        self._not_leading("a removal was not written")
        async with self._lock(branch):
            await asyncio.to_thread(self.delete_branch, branch, stable)

    async def adopt(self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]) -> None:
        """The cluster keeps its own state; remember the branch so a new leader (and drift
        repair) knows it. Environments to keep stay as remembered, if we know more."""
        self._remember(branch, stable, environments)

    def _remember(
        self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]
    ) -> dict[str, DesiredEnvironment]:
        previous = self._desired.get(branch, (stable, {}))[1]
        merged = {name: (previous.get(name, env) if env.keep else env) for name, env in environments.items()}
        self._desired[branch] = (stable, merged)
        return merged

    async def resync(self) -> None:
        """This replica became the leader: reconcile every remembered branch, in the background
        (the elector must keep renewing meanwhile), retrying the failed ones with back-off."""
        if self.resyncing is not None:
            self.resyncing.cancel()
        self.resyncing = asyncio.create_task(self._resync(), name="kubernetes resync")

    async def _resync(self) -> None:
        delay = self.options.retry_initial
        try:
            failed = await self.reconcile_all()
            while failed:
                log.warning("resync: %d branch(es) failed, retrying in %.1fs: %s", len(failed), delay, failed)
                await asyncio.sleep(delay)
                delay = min(self.options.retry_max, delay * 2)
                failed = await self.reconcile_all(failed)
        except NotLeader:
            log.warning("resync stopped: this replica lost the lease; the next leader resyncs")

    async def reconcile_all(self, only: Iterable[str] | None = None) -> dict[str, str]:
        """Reconcile the live objects of every remembered branch (or of ``only``) against its
        desired state. Returns the error of each branch that failed; raises ``NotLeader`` when
        this replica checked nothing because it does not lead."""
        self._not_leading("drift repair was skipped")
        failed: dict[str, str] = {}
        names = list(self._desired) if only is None else [name for name in only if name in self._desired]
        for branch in names:
            try:
                async with self._lock(branch):
                    remembered = self._desired.get(branch)
                    if remembered is not None:  # removed while we waited for the lock
                        await asyncio.to_thread(self.reconcile, branch, *remembered)
            except NotLeader:
                raise
            except KubeError as exc:
                failed[branch] = str(exc)
        return failed

    def _not_leading(self, what: str) -> None:
        if not self.leading():
            leader = self._leader() if self._leader is not None else None
            if leader == self.options.who():
                leader = None  # our own lease, lapsed: no other replica is known to lead
            if leader:
                raise NotLeader(f"not the leader: {what}; {leader} holds the lease and applies", leader)
            raise NotLeader(
                f"not the leader: {what} (this replica does not hold the lease; the replica that leads does it)"
            )

    def leading(self) -> bool:
        return self._is_leader is None or self._is_leader()

    def _lock(self, branch: str) -> asyncio.Lock:
        return self._locks.setdefault(branch, asyncio.Lock())

    # -- one reconcile (blocking) -----------------------------------------------------------

    def _write(self, resource: str, manifest: Obj) -> None:
        if not self.leading():
            raise NotLeader("this replica lost the leader lease during an apply; the new leader completes it")
        self.cluster.apply(resource, manifest, self.options.force_conflicts)

    def _delete(self, resource: str, namespace: str, name: str) -> None:
        if not self.leading():
            raise NotLeader("this replica lost the leader lease during a prune; the new leader completes it")
        self.cluster.delete(resource, namespace, name)

    def reconcile(self, branch: str, stable: bool, environments: Mapping[str, DesiredEnvironment]) -> None:
        want = m.desired_branch(branch, stable, environments, self.settings, self.options.preview_tls_secret)
        role = labels.STABLE if stable else labels.PREVIEW
        problems = list(want.problems)
        live_ns = {name: obj for (_, name), obj in self.cluster.list("namespaces", selector=m.selector(branch)).items()}
        live_ing = self.cluster.list("ingresses", selector=m.selector(branch))
        blocked, foreign_names = self._namespaces(branch, role, want, live_ns, problems)
        for key, manifest in sorted(want.ingresses.items()):
            if key[0] in blocked:
                continue
            live = live_ing.get(key)
            if live is None and key in foreign_names:
                problems.append(
                    f"Ingress {key[0]}/{key[1]} exists and is not managed by gitops-ingress for branch "
                    f"{branch!r}: not adopted; rename ours or remove it"
                )
                continue
            if m.unchanged(live, manifest):
                continue
            try:
                self._write("ingresses", manifest)
            except KubeConflict as exc:
                problems.append(f"{exc} (set force_conflicts to take the fields over)")
        self._prune(branch, want, live_ns, live_ing)
        if not stable:
            for namespace in sorted(set(want.backends) - blocked):
                self._external_names(branch, namespace, want, namespace in live_ns, problems)
        if problems:
            raise ForeignObject(f"branch {branch!r}: " + "; ".join(problems))

    def _namespaces(
        self, branch: str, role: str, want: m.DesiredBranch, live_ns: dict[str, Obj], problems: list[str]
    ) -> tuple[set[str], set[tuple[str, str]]]:
        """Create or update our namespaces. Returns the namespaces we must not write into and the
        Ingress names that exist, unmanaged, in the foreign stable namespaces we write into."""
        blocked: set[str] = set()
        foreign_names: set[tuple[str, str]] = set()
        for name, manifest in sorted(want.namespaces.items()):
            live = live_ns.get(name)
            if live is not None and m.is_ours(live, branch, role):
                if (live.get("status") or {}).get("phase") == "Terminating":
                    problems.append(f"namespace {name} is still terminating; retrying")
                    blocked.add(name)
                elif not m.unchanged(live, manifest):
                    self._write("namespaces", manifest)
                continue
            existing = live or self.cluster.get_namespace(name)
            if existing is None:
                self._write("namespaces", manifest)
            elif role == labels.STABLE and m.role_of(existing) == labels.PREVIEW:
                owner = ((existing.get("metadata") or {}).get("annotations") or {}).get(labels.BRANCH, "?")
                problems.append(
                    f"namespace {name} is branch {owner!r}'s preview namespace: the stable branch writes "
                    f"nothing into it (rename the stable namespace)"
                )
                blocked.add(name)
            elif role == labels.STABLE and not m.is_ours(existing, branch, role):
                # a team's own namespace: our Ingresses go beside its Services, the namespace stays theirs
                foreign_names.update(
                    k for k, obj in self.cluster.list("ingresses", name).items() if not m.is_ours(obj, branch, role)
                )
            else:
                owner = ((existing.get("metadata") or {}).get("annotations") or {}).get(labels.BRANCH)
                whose = f"branch {owner!r}'s" if owner else "not managed by gitops-ingress"
                problems.append(
                    f"namespace {name} exists and is {whose}: not adopted, nothing applied into it "
                    f"(rename the branch or the namespace template)"
                )
                blocked.add(name)
        return blocked, foreign_names

    def _prune(
        self, branch: str, want: m.DesiredBranch, live_ns: dict[str, Obj], live_ing: dict[tuple[str, str], Obj]
    ) -> None:
        kept = {m.label_value(env) for env in want.kept}
        for key, obj in sorted(live_ing.items()):
            env = ((obj.get("metadata") or {}).get("labels") or {}).get(labels.ENVIRONMENT, "")
            if key not in want.ingresses and env not in kept:
                self._delete("ingresses", *key)
        if want.kept:
            return  # an environment we were told to keep may still use any of the namespaces
        for name, obj in sorted(live_ns.items()):
            if name not in want.namespaces and m.is_ours(obj, branch, labels.PREVIEW):
                self._delete_namespace(branch, name)

    def _external_names(
        self, branch: str, namespace: str, want: m.DesiredBranch, existed: bool, problems: list[str]
    ) -> None:
        live = {name: obj for (_, name), obj in self.cluster.list("services", namespace).items()} if existed else {}
        needed = want.backends.get(namespace, set())
        stable_ns = want.stable_of[namespace]
        for service in sorted(needed):
            current = live.get(service)
            if current is not None and not _our_external_name(current, branch):
                continue  # the branch deploys its own Service: it routes there, we stay out
            manifest = m.external_name_manifest(service, namespace, stable_ns, branch)
            if not m.unchanged(current, manifest):
                try:
                    self._write("services", manifest)
                except KubeConflict as exc:
                    problems.append(str(exc))
        for service, obj in sorted(live.items()):
            if service not in needed and _our_external_name(obj, branch):
                self._delete("services", namespace, service)

    def delete_branch(self, branch: str, stable: bool) -> None:
        """A deleted branch: its preview namespaces (only ours) go, with everything in them, and
        its Ingresses anywhere else."""
        namespaces: set[str] = set()
        if not stable:
            found = self.cluster.list("namespaces", selector=m.selector(branch, labels.PREVIEW))
            namespaces = {name for (_, name), obj in found.items() if m.is_ours(obj, branch, labels.PREVIEW)}
        for (namespace, name), _obj in sorted(self.cluster.list("ingresses", selector=m.selector(branch)).items()):
            if namespace not in namespaces:
                self._delete("ingresses", namespace, name)
        for name in sorted(namespaces):
            self._delete_namespace(branch, name)

    def _delete_namespace(self, branch: str, name: str) -> None:
        """Our preview namespace goes with everything in it, unless it holds Ingresses or Services
        that this branch did not create: then ours go and the namespace stays, with a warning."""
        foreign = sorted(
            f"{resource[:-1]} {key[1]}"
            for resource in ("ingresses", "services")
            for key, obj in self.cluster.list(resource, name).items()
            if not (m.is_ours(obj, branch, labels.PREVIEW) or m.is_ours(obj, branch, labels.EXTERNAL_NAME))
        )
        if not foreign:
            self._delete("namespaces", "", name)
            return
        for resource in ("ingresses", "services"):
            for key in sorted(self.cluster.list(resource, name, selector=m.selector(branch))):
                self._delete(resource, *key)
        log.warning(
            "namespace %s of branch %r is left in place: it holds objects gitops-ingress did not create (%s)",
            name,
            branch,
            ", ".join(foreign),
        )


def _our_external_name(obj: Any, branch: str) -> bool:
    return m.is_ours(obj, branch, labels.EXTERNAL_NAME) and (obj.get("spec") or {}).get("type") == "ExternalName"
