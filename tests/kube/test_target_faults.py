"""Bad input and faults for the Kubernetes target: each maps to our own exception with a clear
message, and the last applied state stays in the cluster."""

from __future__ import annotations

import socket

import kubernetes
import pytest

from gitops_ingress.core.errors import GitopsIngressError
from gitops_ingress.core.naming import DNS_LABEL_MAX, preview_host, preview_namespace
from gitops_ingress.kube import (
    KubeConflict,
    KubeForbidden,
    KubeOptions,
    KubernetesTarget,
    KubeUnavailable,
)
from gitops_ingress.kube.errors import ForeignObject
from gitops_ingress.kube.manifests import BRANCH
from tests.kube.target_kit import (
    SETTINGS,
    Reader,
    environment,
    envs,
    hosts,
    make_target,
    run,
)
from tests.support.kubeapi import StandIn
from tests.support.manifests import drop, ingress

SHOP = ingress("shop", "shop.example.com", "web")
SHOP_V2 = ingress("shop", "shop.example.com", "web-v2")


def _applied(stand_in: StandIn) -> KubernetesTarget:
    target = make_target(stand_in)
    run(target.apply("main", True, envs(environment("production", "c1", SHOP))))
    return target


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_unavailable_and_the_last_state_stays(stand_in: StandIn, status: int) -> None:
    target = _applied(stand_in)
    stand_in.faults(fail_next=5, status=status, verb="apply")
    with pytest.raises(KubeUnavailable, match=rf"answered {status} on patch namespaces/shop"):
        run(target.apply("main", True, envs(environment("production", "c2", SHOP_V2))))
    assert Reader(stand_in).backend() == "web"
    stand_in.faults(reset=True)


def test_unreachable_api_server(tmp_path: object) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    config = kubernetes.client.Configuration()
    config.host = f"http://127.0.0.1:{port}"
    config.retries = 0
    target = KubernetesTarget(kubernetes.client.ApiClient(config), SETTINGS, KubeOptions(request_timeout=2))
    with pytest.raises(KubeUnavailable, match=rf"http://127.0.0.1:{port} unreachable on list namespaces"):
        run(target.apply("main", True, envs(environment("production", "c1", SHOP))))


def test_slow_api_server_times_out(stand_in: StandIn) -> None:
    target = make_target(stand_in, request_timeout=0.3)
    stand_in.faults(delay_seconds=2.0)
    try:
        with pytest.raises(KubeUnavailable, match=r"unreachable on list namespaces.*[Tt]imeout"):
            run(target.apply("main", True, envs(environment("production", "c1", SHOP))))
    finally:
        stand_in.faults(reset=True)


def test_forbidden_names_the_missing_permission(stand_in: StandIn) -> None:
    stand_in.auth(
        tokens={"tok": "system:serviceaccount:gitops-ingress:control-plane"},
        deny=[{"verb": "patch", "resource": "ingresses", "namespace": "shop"}],
    )
    config = kubernetes.client.Configuration()
    config.host = stand_in.url
    config.api_key = {"authorization": "Bearer tok"}
    target = KubernetesTarget(kubernetes.client.ApiClient(config), SETTINGS)
    with pytest.raises(KubeForbidden, match=r'missing permission to patch ingresses in namespace "shop"'):
        run(target.apply("main", True, envs(environment("production", "c1", SHOP))))
    config.api_key = {"authorization": "Bearer wrong"}
    with pytest.raises(KubeForbidden, match="401 Unauthorized on list namespaces"):
        run(target.apply("main", True, envs(environment("production", "c1", SHOP))))


def test_conflict_with_another_field_manager_is_reported_not_forced(stand_in: StandIn) -> None:
    target = _applied(stand_in)
    other = drop(ingress("shop", "shop.example.com", "hotfix"), "spec.ingressClassName")
    Reader(stand_in).net.patch_namespaced_ingress(
        "shop", "shop", other, field_manager="kubectl", force=True, _content_type="application/apply-patch+yaml"
    )
    with pytest.raises(ForeignObject, match=r'conflict on patch ingresses/shop.*"kubectl".*force_conflicts'):
        run(target.apply("main", True, envs(environment("production", "c2", SHOP_V2))))
    assert _backend(stand_in) == "hotfix"
    forced = make_target(stand_in, force_conflicts=True)
    run(forced.apply("main", True, envs(environment("production", "c2", SHOP_V2))))
    assert _backend(stand_in) == "web-v2"


def _backend(stand_in: StandIn) -> str:
    return Reader(stand_in).backend()


def test_foreign_namespace_with_the_preview_name_is_never_adopted(stand_in: StandIn) -> None:
    read = Reader(stand_in)
    read.core.create_namespace({"metadata": {"name": "shop-feature", "labels": {"team": "other"}}})
    target = make_target(stand_in)
    other = ingress("api", "api.example.com", "api", namespace="apis")
    with pytest.raises(ForeignObject, match=r"branch 'feature'.*namespace shop-feature exists and is not managed"):
        run(target.apply("feature", False, envs(environment("production", "c1", SHOP, other))))
    assert dict(read.namespaces()["shop-feature"].metadata.labels) == {
        "team": "other",
        "kubernetes.io/metadata.name": "shop-feature",
    }
    assert set(read.ingresses()) == {"apis-feature/api"}
    run(target.remove("feature", False))
    assert "shop-feature" in read.namespaces()  # never deleted either


def test_long_and_colliding_branch_names_get_distinct_valid_namespaces(stand_in: StandIn) -> None:
    target = make_target(stand_in)
    branches = ["feature/" + "very-long-name-" * 6, "Feature/Login", "feature-login", "feature_login"]
    for branch in branches:
        run(target.apply(branch, False, envs(environment("production", "c1", SHOP))))
    names = {preview_namespace("{namespace}-{branch}", "shop", b) for b in branches}
    assert len(names) == len(branches)
    assert all(len(n) <= DNS_LABEL_MAX for n in names)
    ingresses = Reader(stand_in).ingresses()
    assert {key.split("/")[0] for key in ingresses} == names
    assert len({hosts(i)[0] for i in ingresses.values()}) == len(branches)


def test_a_branch_whose_preview_namespace_is_another_branchs(stand_in: StandIn) -> None:
    target = make_target(stand_in)
    # "shop" previewed on branch "x-y" and "shop-x" previewed on branch "y" both want "shop-x-y"
    run(target.apply("x-y", False, envs(environment("production", "c1", SHOP))))
    other = ingress("shop", "other.example.com", "web", namespace="shop-x")
    with pytest.raises(ForeignObject, match=r"namespace shop-x-y exists and is branch 'x-y''s: not adopted"):
        run(target.apply("y", False, envs(environment("production", "c1", other))))
    reader = Reader(stand_in)
    # branch y wrote nothing into x-y's namespace: its Ingress still routes x-y's preview host
    assert hosts(reader.ingresses()["shop-x-y/shop"]) == [
        preview_host("x-y", "shop.example.com", SETTINGS.preview_domain)
    ]
    assert reader.namespaces()["shop-x-y"].metadata.annotations[BRANCH] == "x-y"


def test_errors_are_the_packages_own() -> None:
    for cls in (KubeUnavailable, KubeForbidden, KubeConflict, ForeignObject):
        assert issubclass(cls, GitopsIngressError)
