"""core.kustomize_render and core.kustomize_patch without kustomize: an overlay of Ingresses is
rendered in the pipeline with no renderer at all, at its files' lines; what the subset does not do
is ``Unsupported`` (tests/cli/test_kustomize_renderer.py compares both with the real kubectl)."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_ingress.core.build import build
from gitops_ingress.core.environments import Root
from gitops_ingress.core.kustomize_patch import Unsupported, json_patch, selects, strategic_merge
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.tree import MemoryTree
from tests.support.manifests import drop, ingress, to_yaml

SETTINGS = Settings()
PATCH = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
    - host: prod.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 80
"""


def _files(overlay: str) -> dict[str, bytes]:
    return {
        "base/kustomization.yaml": b"resources:\n  - web.yaml\n",
        "base/web.yaml": to_yaml(drop(ingress("web", host="base.example.com"), "metadata.namespace")).encode(),
        "environments/prod/kustomization.yaml": overlay.encode(),
        "environments/prod/patch.yaml": PATCH.encode(),
    }


def test_an_overlay_of_ingresses_is_rendered_without_kustomize() -> None:
    overlay = "resources:\n  - ../../base\nnamespace: prod\nnamePrefix: prod-\npatches:\n  - path: patch.yaml\n"
    built = build(MemoryTree(_files(overlay)), SETTINGS, [Root.at("environments")], render=None)
    prod = built.environments["prod"]
    assert built.findings == () and prod.findings == ()
    [web] = prod.ingresses
    assert web.key == "prod/prod-web" and [rule.host for rule in web.ingress.spec.rules] == ["prod.example.com"]
    name, host = web.source.position("metadata", "name"), web.source.position("spec", "rules", 0, "host")
    assert (name.file, host.file, host.line) == ("base/web.yaml", "environments/prod/patch.yaml", 7)
    assert "base/web.yaml" in prod.files and "environments/prod/patch.yaml" in prod.files


def test_without_kustomize_what_the_subset_does_not_do_is_a_finding() -> None:
    overlay = "resources:\n  - ../../base\nconfigMapGenerator:\n  - name: settings\n    literals: [a=b]\n"
    built = build(MemoryTree(_files(overlay)), SETTINGS, [Root.at("environments")], render=None)
    prod = built.environments["prod"]
    assert prod.ingresses == ()
    assert [(f.rule, f.file) for f in prod.findings] == [("kustomize/render", "environments/prod/kustomization.yaml")]
    assert "kustomize rendering is not available" in prod.findings[0].message


def _web() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "annotations": {"a": "1"}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "a.example.com", "port": 1}, {"host": "b.example.com"}],
        },
    }


def test_a_strategic_merge_merges_maps_replaces_lists_and_deletes_with_null() -> None:
    web = _web()
    strategic_merge(
        web,
        {
            "metadata": {"labels": {"tier": "back"}},
            "spec": {"ingressClassName": None, "absent": None, "rules": [{"host": "c.example.com"}], "tls": []},
        },
    )
    assert web["metadata"]["labels"] == {"app": "web", "tier": "back"}
    assert web["spec"] == {"rules": [{"host": "c.example.com"}], "tls": []}


@pytest.mark.parametrize(
    "patch",
    [
        {"spec": {"$patch": "replace"}},
        {"metadata": {"annotations": {"a": None}}},  # kustomize writes "null" here
        {"spec": {"rules": [{"name": "keyed", "host": "x"}]}},  # kyaml would merge items by name
        {"metadata": {"finalizers": ["x"]}},
    ],
)
def test_a_strategic_merge_outside_the_subset_is_unsupported(patch: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        strategic_merge(_web(), patch)


def test_json_patch_does_the_six_operations_on_a_copy() -> None:
    web = _web()
    patched = json_patch(
        web,
        [
            {"op": "add", "path": "/spec/rules/-", "value": {"host": "c.example.com"}},
            {"op": "replace", "path": "/spec/rules/0/host", "value": "z.example.com"},
            {"op": "remove", "path": "/spec/rules/1"},
            {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/annotations/app"},
            {"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/layer"},
            {"op": "test", "path": "/spec/ingressClassName", "value": "nginx"},
            {"op": "test", "path": "/spec/rules/0/port", "value": 1.0},
            {"op": "add", "path": "/metadata/annotations/a~1b", "value": "slash"},
        ],
    )
    assert patched["spec"]["rules"] == [{"host": "z.example.com", "port": 1.0}, {"host": "c.example.com"}]
    assert patched["metadata"]["labels"] == {"app": "web", "layer": "front"}
    assert patched["metadata"]["annotations"] == {"a": "1", "app": "web", "a/b": "slash"}
    assert web == _web()


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "/spec/nothing", "value": 1},
        {"op": "remove", "path": "/spec/rules/5"},
        {"op": "add", "path": "/metadata/missing/key", "value": 1},
        {"op": "test", "path": "/spec/ingressClassName", "value": "other"},
        {"op": "test", "path": "/spec/rules/0/port", "value": True},  # JSON's true is not 1
        {"op": "add", "path": "spec", "value": 1},
        {"op": "frobnicate", "path": "/spec"},
    ],
)
def test_a_json_patch_that_does_not_apply_is_unsupported(operation: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        json_patch(_web(), [operation])


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"kind": "Ingress", "name": "web"}, True),
        ({"group": "networking.k8s.io", "version": "v1"}, True),
        ({"kind": "Service"}, False),
        ({"name": "w.*"}, True),
        ({"name": "we"}, False),  # anchored, as kustomize's regular expressions are
        ({"name": "old-web"}, True),  # the name it was read with
        ({"namespace": "default"}, True),  # no namespace when read
        ({"namespace": "prod"}, True),
        ({"namespace": "staging"}, False),
        ({"labelSelector": "app=web,tier!=back"}, True),
        ({"labelSelector": "app==web,missing"}, False),
        ({"labelSelector": "!missing"}, True),
        ({"annotationSelector": "a=1"}, True),
        ({"annotationSelector": "a=2"}, False),
    ],
)
def test_a_patch_target_selects_as_kustomize_does(target: dict[str, Any], expected: bool) -> None:
    assert selects(target, _web(), [("", "old-web"), ("prod", "web")]) is expected


def test_a_set_based_selector_is_unsupported() -> None:
    with pytest.raises(Unsupported):
        selects({"labelSelector": "app in (web, api)"}, _web(), [("", "web")])
