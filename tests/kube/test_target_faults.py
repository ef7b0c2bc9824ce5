"""Bad input and faults for the Kubernetes target: each maps to our own exception with a clear
message, and the last applied state stays in the cluster."""

from __future__ import annotations

import socket

import kubernetes
import pytest

from gitops_ingress.core.errors import GitopsIngressError
from gitops_ingress.core.naming import DNS_LABEL_MAX, preview_namespace
from gitops_ingress.kube import (
    KubeConflict,
    KubeForbidden,
    KubeOptions,
    KubernetesTarget,
    KubeUnavailable,
)
from gitops_ingress.kube.errors import ForeignObject
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


STAGING_SHOP = ingress("shop", "shop.staging.example.com", "web", namespace="shop-staging")


def _backend(stand_in: StandIn) -> str:
    return Reader(stand_in).backend()


def test_foreign_namespace_with_the_preview_name_is_never_adopted(stand_in: StandIn) -> None:
    read = Reader(stand_in)
    name = preview_namespace("{namespace}-{branch}", "shop", "feature")
    read.core.create_namespace({"metadata": {"name": name, "labels": {"team": "other"}}})
    target = make_target(stand_in)
    other = ingress("api", "api.example.com", "api", namespace="apis")
    with pytest.raises(ForeignObject, match=rf"branch 'feature'.*namespace {name} exists and is not managed"):
        run(target.apply("feature", False, envs(environment("production", "c1", SHOP, other))))
    assert dict(read.namespaces()[name].metadata.labels) == {
        "team": "other",
        "kubernetes.io/metadata.name": name,
    }
    assert set(read.ingresses()) == {preview_namespace("{namespace}-{branch}", "apis", "feature") + "/api"}
    run(target.remove("feature", False))
    assert name in read.namespaces()  # never deleted either


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


def test_namespace_and_branch_pairs_never_meet_in_one_namespace(stand_in: StandIn) -> None:
    """Issue 12, point 1: ("shop", "x-y") and ("shop-x", "y") both became shop-x-y, and
    ("shop", "staging") became main's stable namespace shop-staging."""
    target = make_target(stand_in)
    run(target.apply("main", True, envs(environment("staging", "c1", STAGING_SHOP))))
    run(target.apply("x-y", False, envs(environment("production", "c1", SHOP))))
    other = ingress("shop", "other.example.com", "web", namespace="shop-x")
    run(target.apply("y", False, envs(environment("production", "c1", other))))
    run(target.apply("staging", False, envs(environment("production", "c1", SHOP))))
    ingresses = Reader(stand_in).ingresses()
    first = preview_namespace("{namespace}-{branch}", "shop", "x-y")
    second = preview_namespace("{namespace}-{branch}", "shop-x", "y")
    staging = preview_namespace("{namespace}-{branch}", "shop", "staging")
    assert len({first, second, staging, "shop-staging"}) == 4
    assert {f"{first}/shop", f"{second}/shop", f"{staging}/shop", "shop-staging/shop"} <= set(ingresses)
    run(target.remove("staging", False))
    assert "shop-staging/shop" in Reader(stand_in).ingresses()  # main's Ingress survives the branch


def test_the_stable_branch_never_writes_into_a_preview_namespace(stand_in: StandIn) -> None:
    target = make_target(stand_in)
    run(target.apply("feature", False, envs(environment("production", "c1", SHOP))))
    taken = preview_namespace("{namespace}-{branch}", "shop", "feature")
    squatter = ingress("shop", "shop.example.com", "web", namespace=taken)
    with pytest.raises(ForeignObject, match=rf"namespace {taken} is branch 'feature''s preview namespace"):
        run(target.apply("main", True, envs(environment("production", "c1", squatter))))
    assert set(Reader(stand_in).ingresses()) == {f"{taken}/shop"}


def test_deleting_a_branch_keeps_a_namespace_that_holds_objects_it_did_not_create(stand_in: StandIn) -> None:
    target = make_target(stand_in)
    run(target.apply("feature", False, envs(environment("production", "c1", SHOP))))
    namespace = preview_namespace("{namespace}-{branch}", "shop", "feature")
    read = Reader(stand_in)
    read.core.create_namespaced_service(
        namespace, {"metadata": {"name": "mine"}, "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
    )
    run(target.remove("feature", False))
    assert namespace in read.namespaces()  # left in place, with a warning in the log
    assert set(read.services(namespace)) == {"mine"}  # only what we created went
    assert not [key for key in read.ingresses() if key.startswith(namespace + "/")]


def test_errors_are_the_packages_own() -> None:
    for cls in (KubeUnavailable, KubeForbidden, KubeConflict, ForeignObject):
        assert issubclass(cls, GitopsIngressError)
