"""Helpers for the Kubernetes target tests: desired environments (of tests.support.manifests objects), a target on the
stand-in, and reads of what the stand-in holds (with the official client, as a user would)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes

from gitops_ingress.core.objects import parse_file
from gitops_ingress.core.routing import compile_routes
from gitops_ingress.core.settings import Settings
from gitops_ingress.kube import KubeOptions, KubernetesTarget
from gitops_ingress.sync import DesiredEnvironment
from tests.support.gitrepos import Remote, WorkTree, make_remote
from tests.support.kubeapi import StandIn
from tests.support.manifests import Obj, ingress, to_yaml

SETTINGS = Settings.build(None, {}, {"preview_domain": "preview.example.com", "serve_ingresses_without_class": False})


def environment(name: str, commit: str, *docs: Obj, settings: Settings = SETTINGS) -> DesiredEnvironment:
    parsed = parse_file(f"environments/{name}/all.yaml", to_yaml(*docs).encode(), name, settings)
    assert not [f for f in parsed.findings if f.severity.value == "error"], parsed.findings
    return DesiredEnvironment(name, commit, compile_routes(parsed.ingresses, settings), parsed.ingresses)


def envs(*items: DesiredEnvironment) -> dict[str, DesiredEnvironment]:
    return {item.name: item for item in items}


def client_for(server: StandIn) -> kubernetes.client.ApiClient:
    """An official client for the stand-in, with urllib3's retries off (as ``kube.connect`` does)."""
    config = kubernetes.client.Configuration()
    config.host = server.url
    config.retries = 0
    return kubernetes.client.ApiClient(config)


def make_target(server: StandIn, settings: Settings = SETTINGS, **options: Any) -> KubernetesTarget:
    return KubernetesTarget(client_for(server), settings, KubeOptions(**options))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class Reader:
    """What the cluster holds, read with the official client's models."""

    def __init__(self, server: StandIn) -> None:
        self.api = client_for(server)
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.net = kubernetes.client.NetworkingV1Api(self.api)

    def namespaces(self) -> dict[str, Any]:
        return {ns.metadata.name: ns for ns in self.core.list_namespace().items}

    def ingresses(self) -> dict[str, Any]:
        return {
            f"{i.metadata.namespace}/{i.metadata.name}": i for i in self.net.list_ingress_for_all_namespaces().items
        }

    def services(self, namespace: str) -> dict[str, Any]:
        return {s.metadata.name: s for s in self.core.list_namespaced_service(namespace).items}

    def backend(self, key: str = "shop/shop") -> str:
        """The Service the first path of the Ingress ``key`` routes to."""
        return str(self.ingresses()[key].spec.rules[0].http.paths[0].backend.service.name)

    def writes(self, server: StandIn) -> int:
        return int(server.request_counts()["writes"])


def hosts(ingress: Any) -> list[str]:
    return [rule.host for rule in ingress.spec.rules]


def labels(obj: Any) -> Mapping[str, str]:
    return obj.metadata.labels or {}


def shop_remote(tmp_path: Path, *branches: str, settings: str | None = None) -> tuple[Remote, WorkTree]:
    """A bare remote whose ``main`` (and each of ``branches``) holds the shop Ingress to ``web``
    (and ``settings`` as its ``gitops-ingress.yaml``, when given)."""
    remote = make_remote(tmp_path)
    work = remote.clone()
    files = {"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web"))}
    if settings is not None:
        files["gitops-ingress.yaml"] = settings
    work.write(files)
    work.commit("stable")
    work.push("main")
    for branch in branches:
        work.branch(branch)
        work.push(branch)
    return remote, work


def push_shop_backend(work: WorkTree, backend: str) -> None:
    """Push a commit to ``main`` that routes the shop Ingress to ``backend``."""
    work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", backend))})
    work.commit(backend)
    work.push("main")
