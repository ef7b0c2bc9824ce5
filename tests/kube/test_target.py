"""The Kubernetes target against the stand-in API server: namespaces, Ingresses, previews,
ExternalName Services, pruning, removal, and the no-write reconcile."""

from __future__ import annotations

import json

import pytest

from gitops_ingress.core.labels import (
    BRANCH,
    COMMIT,
    ENVIRONMENT,
    MANAGED_BY,
    SOURCE_HOSTS,
    TLS_SECRET,
)
from gitops_ingress.core.naming import preview_host, preview_namespace
from tests.kube.target_kit import (
    Reader,
    environment,
    envs,
    hosts,
    labels,
    make_target,
    run,
)
from tests.support.kubeapi import StandIn
from tests.support.manifests import drop, ingress, set_at

EXP_NS = preview_namespace("{namespace}-{branch}", "shop", "exp")
FEATURE_NS = preview_namespace("{namespace}-{branch}", "shop", "feature")

SHOP = ingress("shop", "shop.example.com", "web", tls_secret="shop-tls", labels={"team": "shop"})
API = ingress("api", "api.example.com", "api", path="/v1", port="http")
DOMAIN = "preview.example.com"


def test_stable_branch_is_applied_as_written(stand_in: StandIn) -> None:
    target = make_target(stand_in)
    run(target.apply("main", True, envs(environment("production", "c1", SHOP, API))))
    read = Reader(stand_in)
    shop = read.ingresses()["shop/shop"]
    assert hosts(shop) == ["shop.example.com"]
    assert shop.spec.tls[0].secret_name == "shop-tls"
    assert labels(shop)[MANAGED_BY] == "gitops-ingress" and labels(shop)["team"] == "shop"
    assert labels(shop)[ENVIRONMENT] == "production"
    ns = read.namespaces()["shop"]
    assert labels(ns)[MANAGED_BY] == "gitops-ingress" and ns.metadata.annotations[COMMIT] == "c1"
    assert ns.metadata.annotations[BRANCH] == "main"
    managers = {f.manager for f in shop.metadata.managed_fields}
    assert managers == {"gitops-ingress"}


def test_preview_gets_our_class_preview_hosts_and_tls_secret(stand_in: StandIn) -> None:
    target = make_target(stand_in, preview_tls_secret="gitops-ingress/preview-wildcard-tls")
    legacy = set_at(
        drop(SHOP, "spec.ingressClassName"),
        "metadata.annotations",
        {"kubernetes.io/ingress.class": "gitops-ingress"},
    )
    run(target.apply("feature/Login", False, envs(environment("production", "c2", legacy))))
    ns_name = preview_namespace("{namespace}-{branch}", "shop", "feature/Login")
    shop = Reader(stand_in).ingresses()[f"{ns_name}/shop"]
    preview = preview_host("feature/Login", "shop.example.com", DOMAIN)
    assert hosts(shop) == [preview]
    assert shop.spec.ingress_class_name == "gitops-ingress"
    assert "kubernetes.io/ingress.class" not in shop.metadata.annotations
    assert shop.spec.tls[0].hosts == [preview] and shop.spec.tls[0].secret_name == "preview-wildcard-tls"
    assert shop.metadata.annotations[TLS_SECRET] == "gitops-ingress/preview-wildcard-tls"
    assert json.loads(shop.metadata.annotations[SOURCE_HOSTS]) == {preview: "shop.example.com"}
    ns = Reader(stand_in).namespaces()[ns_name]
    assert ns.metadata.annotations[BRANCH] == "feature/Login"
    assert labels(ns)["gitops-ingress.dev/role"] == "preview"


def test_routing_only_preview_gets_external_names_until_it_deploys_its_own(stand_in: StandIn) -> None:
    target = make_target(stand_in)
    run(target.apply("exp", False, envs(environment("production", "c1", SHOP, API))))
    read = Reader(stand_in)
    services = read.services(EXP_NS)
    assert {n: s.spec.external_name for n, s in services.items()} == {
        "web": "web.shop.svc.cluster.local",
        "api": "api.shop.svc.cluster.local",
    }
    assert all(s.spec.type == "ExternalName" and labels(s)[MANAGED_BY] == "gitops-ingress" for s in services.values())
    # the branch deploys its own "web": ours is replaced by theirs and we leave it alone from then on
    read.core.delete_namespaced_service("web", EXP_NS, _preload_content=False)
    read.core.create_namespaced_service(
        EXP_NS, {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    )
    run(target.apply("exp", False, envs(environment("production", "c2", SHOP))))
    services = read.services(EXP_NS)
    assert services["web"].spec.type == "ClusterIP" and not labels(services["web"])
    assert "api" not in services  # no Ingress routes to it any more: our ExternalName is gone


def test_nothing_to_change_makes_no_write(stand_in: StandIn) -> None:
    target = make_target(stand_in)
    desired = envs(
        environment("production", "c1", SHOP, API),
        environment("staging", "c1", ingress("shop", "shop.staging.example.com", "web", namespace="shop-staging")),
    )
    run(target.apply("main", True, desired))
    run(target.apply("feature", False, desired))
    stand_in.reset_counts()
    run(target.apply("main", True, desired))
    run(target.apply("feature", False, desired))
    counts = stand_in.request_counts()
    assert counts["writes"] == 0, counts
    assert counts["total"] <= 2 * 2 + 2, counts  # two lists per branch + the preview namespaces' Services


def test_prune_removes_what_git_no_longer_holds(stand_in: StandIn) -> None:
    target = make_target(stand_in)
    moved = ingress("api", "api.example.com", "api", namespace="apis", labels={"team": "apis"})
    run(target.apply("feature", False, envs(environment("production", "c1", SHOP, API))))
    run(target.apply("feature", False, envs(environment("production", "c2", moved))))
    read = Reader(stand_in)
    assert set(read.ingresses()) == {preview_namespace("{namespace}-{branch}", "apis", "feature") + "/api"}
    assert FEATURE_NS not in read.namespaces()
    # a field dropped in git is dropped in the cluster too
    run(target.apply("feature", False, envs(environment("production", "c3", drop(moved, "metadata.labels")))))
    assert "team" not in labels(read.ingresses()[preview_namespace("{namespace}-{branch}", "apis", "feature") + "/api"])


def test_kept_environment_is_left_alone(stand_in: StandIn) -> None:
    target = make_target(stand_in)
    staging = ingress("shop", "shop.staging.example.com", "web", namespace="shop-staging")
    run(target.apply("main", True, envs(environment("production", "c1", SHOP), environment("staging", "c1", staging))))
    refused = environment("staging", "c2")
    run(
        target.apply(
            "main",
            True,
            envs(environment("production", "c2", SHOP), type(refused)("staging", "c1", refused.table, (), keep=True)),
        )
    )
    assert set(Reader(stand_in).ingresses()) == {"shop/shop", "shop-staging/shop"}


def test_remove_deletes_only_our_preview_namespaces(stand_in: StandIn) -> None:
    target = make_target(stand_in)
    run(target.apply("main", True, envs(environment("production", "c1", SHOP))))
    run(target.apply("feature", False, envs(environment("production", "c1", SHOP))))
    run(target.remove("feature", False))
    read = Reader(stand_in)
    assert FEATURE_NS not in read.namespaces() and "shop" in read.namespaces()
    assert set(read.ingresses()) == {"shop/shop"}
    run(target.remove("feature", False))  # idempotent


def test_foreign_stable_namespace_is_used_but_never_changed(stand_in: StandIn) -> None:
    read = Reader(stand_in)
    read.core.create_namespace({"metadata": {"name": "shop", "labels": {"owner": "team-shop"}}})
    read.net.create_namespaced_ingress(
        "shop",
        {"metadata": {"name": "api"}, "spec": {"defaultBackend": {"service": {"name": "x", "port": {"number": 80}}}}},
    )
    target = make_target(stand_in)
    with pytest.raises(Exception, match=r"Ingress shop/api exists and is not managed by gitops-ingress"):
        run(target.apply("main", True, envs(environment("production", "c1", SHOP, API))))
    ns = read.namespaces()["shop"]
    assert dict(labels(ns)) == {"owner": "team-shop", "kubernetes.io/metadata.name": "shop"}
    ingresses = read.ingresses()
    assert hosts(ingresses["shop/shop"]) == ["shop.example.com"]  # the rest of the branch is live
    assert ingresses["shop/api"].spec.default_backend.service.name == "x"  # theirs, untouched
