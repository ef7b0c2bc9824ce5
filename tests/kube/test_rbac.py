"""deploy/rbac.yaml is least privilege: every (verb, resource) the control plane and the proxy
use is granted, and nothing is granted that they do not use. The uses are measured, not listed:
each part runs a full scenario against the stand-in, which counts every request it receives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from gitops_ingress.kube import KubeOptions, LeaderElector
from tests.kube.source_kit import Cluster, endpoints_for, running
from tests.kube.target_kit import (
    client_for,
    environment,
    envs,
    make_target,
    run,
)
from tests.support.kubeapi import StandIn
from tests.support.manifests import ingress

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"


def granted(role: str) -> set[tuple[str, str]]:
    """(verb, resource) of the ClusterRole and Role bound to ``role``'s ServiceAccount."""
    docs = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    bound = {
        d["roleRef"]["name"]
        for d in docs
        if d["kind"].endswith("Binding") and any(s["name"] == f"gitops-ingress-{role}" for s in d["subjects"])
    }
    return {
        (verb, resource)
        for d in docs
        if d["kind"] in ("ClusterRole", "Role") and d["metadata"]["name"] in bound
        for rule in d["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def used(stand_in: StandIn) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for key in stand_in.request_counts()["by_verb_resource"]:
        verb, resource = key.split(" ", 1)
        # server-side apply is a patch, and a create when the object is new
        found |= {("patch", resource), ("create", resource)} if verb == "apply" else {(verb, resource)}
    return found


def test_control_plane_role_is_exactly_what_it_uses(stand_in: StandIn) -> None:
    shop = ingress("shop", "shop.example.com", "web")
    target = make_target(stand_in)
    Cluster(stand_in).namespace("gitops-ingress")
    stand_in.reset_counts()
    run(target.apply("main", True, envs(environment("production", "c1", shop))))
    run(target.apply("feature", False, envs(environment("production", "c1", shop))))
    run(
        target.apply(
            "feature", False, envs(environment("production", "c2", ingress("shop", "shop.example.com", "web2")))
        )
    )
    run(
        target.apply(
            "feature",
            False,
            envs(environment("production", "c3", ingress("a", "a.example.com", "a", namespace="apis"))),
        )
    )
    run(target.remove("feature", False))
    elector = LeaderElector(client_for(stand_in), KubeOptions(identity="a"))
    assert elector.try_acquire_or_renew() and elector.try_acquire_or_renew()
    elector.release()
    assert used(stand_in) == granted("control-plane")


def test_proxy_role_is_exactly_what_it_uses(stand_in: StandIn) -> None:
    run(
        make_target(stand_in).apply(
            "main", True, envs(environment("production", "c1", ingress("shop", "shop.example.com", "web")))
        )
    )
    stand_in.reset_counts()

    async def scenario() -> None:
        async with running(stand_in, status_address="203.0.113.9") as following:
            await following.until(
                lambda s: endpoints_for(s, "shop.example.com") is not None and following.source.status_writes > 0
            )

    asyncio.run(scenario())
    uses = {("patch", "ingresses/status") if u == ("patch", "ingresses") else u for u in used(stand_in)}
    assert uses == granted("proxy")
