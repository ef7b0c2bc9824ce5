"""core.kustomize_render against the real ``kubectl kustomize``: the same layouts rendered both ways
give the same objects, in the same order, at the same positions (file, line, and the patch file
for the fields a patch set), with the same findings. What the renderer does not do falls back to
kubectl and still renders; kustomize's errors come with kustomize's own messages."""

from __future__ import annotations

import json
import posixpath
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_ingress import kustomize
from gitops_ingress.core.environments import Root
from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.kustomize import (
    _Job,
    _mapped,
    _prepare,
    _rendered_here,
    _run,
    render_environments,
)
from gitops_ingress.core.kustomize_origins import pop_origin
from gitops_ingress.core.kustomize_patch import Unsupported
from gitops_ingress.core.kustomize_render import render as render_subset
from gitops_ingress.core.objects import ParsedFile
from gitops_ingress.core.settings import Settings
from gitops_ingress.fs import FolderTree

SETTINGS = Settings()


def ingress(name: str, host: str, namespace: str | None = None, **extra: Any) -> str:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata.update(extra)
    data = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [host], "secretName": f"{name}-tls"}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": name, "port": {"number": 80}}},
                            },
                            {
                                "path": "/api",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": f"{name}-api", "port": {"name": "http"}}},
                            },
                        ]
                    },
                }
            ],
        },
    }
    return yaml.safe_dump(data, sort_keys=False)


BASE = {
    "base/kustomization.yaml": "resources:\n  - shop.yaml\n  - blog.yaml\n",
    # a multi-document file, a namespace of its own, labels and annotations to merge into
    "base/shop.yaml": ingress("shop", "shop.example.com", labels={"app": "shop"})
    + "---\n"
    + ingress("cart", "cart.example.com", annotations={"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}),
    "base/blog.yaml": ingress("blog", "blog.example.com", namespace="content"),
}

SMP_RULES = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  annotations:
    nginx.ingress.kubernetes.io/ssl-redirect: "true"
spec:
  tls:
    - hosts: [shop.prod.example.com]
      secretName: shop-prod-tls
  rules:
    - host: shop.prod.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: shop
                port:
                  number: 8080
"""

JSON_HOST = """- op: replace
  path: /spec/rules/0/host
  value: cart.prod.example.com
- op: add
  path: /spec/rules/0/http/paths/-
  value:
    path: /checkout
    pathType: Exact
    backend:
      service:
        name: checkout
        port:
          number: 9000
- op: remove
  path: /spec/tls
- op: add
  path: /metadata/annotations/team
  value: payments
"""

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: shop
spec:
{selector}  ports:
    - name: http
      port: 80
"""

LAYOUTS: dict[str, dict[str, str]] = {
    "namespace, prefix, suffix, labels, annotations": {
        **BASE,
        "env/kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "resources:\n  - ../base\nnamespace: prod\nnamePrefix: prod-\nnameSuffix: -v2\n"
            "commonLabels:\n  env: prod\n  app: overridden\n"
            "labels:\n  - pairs:\n      tier: web\n      env: from-labels\n    includeSelectors: true\n"
            "  - pairs:\n      owner: team-a\n"
            "commonAnnotations:\n  owner: platform\n  nginx.ingress.kubernetes.io/proxy-body-size: 16m\n"
        ),
    },
    "strategic merge on rules, tls and annotations; JSON 6902 on paths": {
        **BASE,
        "env/kustomization.yaml": (
            "resources:\n  - ../base\nnamePrefix: p-\n"
            "patchesStrategicMerge:\n  - shop-patch.yaml\n"
            "patchesJson6902:\n  - target:\n      group: networking.k8s.io\n      version: v1\n      kind: Ingress\n"
            "      name: cart\n    path: cart-patch.yaml\n"
        ),
        "env/shop-patch.yaml": SMP_RULES,
        "env/cart-patch.yaml": JSON_HOST,
    },
    "patches: by file, inline, with targets by name regex, label and annotation selectors": {
        **BASE,
        "env/kustomization.yaml": (
            "resources:\n  - ../base\nnamespace: staging\n"
            "patches:\n"
            "  - path: shop-patch.yaml\n"
            "  - target:\n      kind: Ingress\n      name: c.*\n    patch: |-\n"
            "      - op: replace\n        path: /spec/ingressClassName\n        value: internal\n"
            "  - target:\n      labelSelector: app=shop\n    patch: |-\n"
            "      apiVersion: networking.k8s.io/v1\n      kind: Ingress\n      metadata:\n        name: ignored\n"
            "        labels:\n          selected: by-label\n"
            "  - target:\n      annotationSelector: nginx.ingress.kubernetes.io/proxy-body-size\n"
            '    patch: \'[{"op": "add", "path": "/metadata/labels", "value": {"big": "body"}}]\'\n'
            "  - target:\n      namespace: content\n    path: blog-patch.json\n"
        ),
        "env/shop-patch.yaml": SMP_RULES,
        "env/blog-patch.json": json.dumps(
            [
                {
                    "op": "add",
                    "path": "/spec/defaultBackend",
                    "value": {"service": {"name": "blog", "port": {"number": 80}}},
                }
            ]
        ),
    },
    "nested bases, each level with its own transformers, and the order of its output": {
        "base/kustomization.yaml": "resources:\n  - a.yaml\ncommonLabels:\n  level: base\n",
        "base/a.yaml": ingress("zeta", "z.example.com", namespace="b")
        + "---\n"
        + ingress("alpha", "a.example.com", namespace="ab")
        + "---\n"
        + ingress("alpha", "a.example.com", namespace="a")
        + "---\n"
        + ingress("beta", "b.example.com")
        + "---\n"
        + ingress("old", "old.example.com").replace("networking.k8s.io/v1", "extensions/v1beta1"),
        "mid/kustomization.yaml": (
            "resources:\n  - ../base\n  - extra.yaml\nnamePrefix: mid-\ncommonAnnotations:\n  level: mid\n"
            "patches:\n  - target:\n      name: alpha\n      namespace: a\n    patch: |-\n"
            "      - op: replace\n        path: /metadata/labels/level\n        value: patched-by-mid\n"
        ),
        "mid/extra.yaml": ingress("extra", "extra.example.com"),
        "env/kustomization.yaml": (
            "resources:\n  - ../mid\n  - sub/own.yaml\nnameSuffix: -prod\ncommonLabels:\n  level: env\n"
            # a patch by the name of the bottom level still finds its object
            "patchesStrategicMerge:\n  - |-\n    apiVersion: networking.k8s.io/v1\n    kind: Ingress\n"
            "    metadata:\n      name: beta\n    spec:\n      ingressClassName: null\n"
            # JSON 6902 runs after commonLabels: the label it sets stays
            "patchesJson6902:\n  - target:\n      kind: Ingress\n      name: mid-extra\n    patch: |-\n"
            "      - op: replace\n        path: /metadata/labels/level\n        value: json-last\n"
        ),
        "env/sub/own.yaml": ingress("own", "own.example.com", namespace="default"),
    },
    "JSON resources, empty documents, nulls and quoted scalars in a spec, explicit default namespace": {
        "env/kustomization.yaml": (
            "resources:\n  - web.json\n  - docs.yaml\nnamespace: default\n"
            "commonLabels:\n  enabled: 'true'\n  version: '1.10'\n"
            "commonAnnotations:\n  note: 'on'\n"
            "patchesStrategicMerge:\n  - docs-patch.yaml\n"
        ),
        "env/web.json": json.dumps(yaml.safe_load(ingress("web", "web.example.com", namespace="default"))),
        "env/docs.yaml": "---\n# a comment document\n---\n"
        + ingress("docs", "docs.example.com").replace("ingressClassName: nginx", "ingressClassName: null")
        + "---\n",
        "env/docs-patch.yaml": (
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: docs\n  namespace: default\n"
            "  annotations:\n    added: 'yes'\nspec:\n  defaultBackend:\n    service:\n      name: docs\n"
            "      port:\n        number: 0x50\n"
        ),
    },
    "Services beside the Ingresses: selectors, and backends that follow a Service's new name": {
        "base/kustomization.yaml": "resources:\n  - app.yaml\n  - legacy.yaml\ncommonLabels:\n  app: shop\n",
        "base/app.yaml": ingress("shop", "shop.example.com", namespace="shop")
        .replace("name: shop-api", "name: elsewhere")
        .replace(
            "  tls:", "  defaultBackend:\n    service:\n      name: shop-api\n      port:\n        number: 80\n  tls:"
        )
        + "---\n"
        + SERVICE.format(name="shop", selector="  selector:\n    component: web\n")
        + "---\n"
        + SERVICE.format(name="shop-api", selector=""),
        "base/legacy.yaml": (
            "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: legacy\n  namespace: shop\nspec:\n"
            "  backend:\n    serviceName: shop\n    servicePort: 80\n  rules:\n    - host: old.example.com\n"
            "      http:\n        paths:\n          - backend:\n              serviceName: shop-api\n"
            "              servicePort: http\n"
        ),
        "env/kustomization.yaml": (
            "resources:\n  - ../base\nnamePrefix: prod-\nnameSuffix: -v1\n"
            "labels:\n  - pairs:\n      tier: web\n    includeSelectors: true\n  - pairs:\n      owner: team-a\n"
            "commonAnnotations:\n  owner: platform\n"
            "patches:\n  - target:\n      kind: Service\n      name: shop-api\n    patch: |-\n"
            "      - op: add\n        path: /spec/ports/-\n        value:\n          name: metrics\n          port: 9090\n"
        ),
    },
    "two overlays of one base in one render, an empty annotations map": {
        "base/kustomization.yaml": "resources:\n  - web.yaml\n",
        "base/web.yaml": ingress("web", "web.example.com", annotations={}),
        "blue/kustomization.yaml": "resources:\n  - ../base\nnamePrefix: blue-\n",
        "green/kustomization.yml": "resources:\n  - ../base\nnamespace: green\n",
        "env/Kustomization": "resources:\n  - ../blue\nbases:\n  - ../green\nimages:\n  - name: nginx\n    newTag: '1.27'\n",
    },
}


def _write(root: Path, files: dict[str, str]) -> Path:
    (root / ".git").mkdir(parents=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _job(root: Path, folder: str = "env") -> _Job:
    names = [
        name for name in ("kustomization.yaml", "kustomization.yml", "Kustomization") if (root / folder / name).exists()
    ]
    where = Root(str(root), "", folder)
    prepared = _prepare(FolderTree(), f"{root}/{folder}/{names[0]}", where, folder, SETTINGS, None)
    assert isinstance(prepared, _Job), prepared
    return prepared


def _kubectl(job: _Job) -> bytes:
    output = _run(kustomize.render, job, SETTINGS.policy.limits)
    assert isinstance(output, bytes), output
    return output


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_renderer_renders_what_kubectl_kustomize_renders(layout: str, tmp_path: Path) -> None:
    job = _job(_write(tmp_path, LAYOUTS[layout]))
    output = _kubectl(job)
    theirs = [doc for doc in yaml.safe_load_all(output) if doc]
    origins = [pop_origin(doc) for doc in theirs]
    ours = render_subset(job.kustomization, job.contents, SETTINGS.policy.limits, LineShapes())
    assert [item.data for item in ours] == theirs  # the same objects, in the same order
    assert [item.file for item in ours] == [posixpath.normpath(f"{tmp_path}/env/{origin}") for origin in origins]
    # through the pipeline: the same Ingresses at the same files and lines, the same findings
    here = _rendered_here(job, SETTINGS, LineShapes())
    assert here is not None
    there = _mapped(job, output, SETTINGS, LineShapes())
    assert (here.path, here.classes, here.findings) == (there.path, there.classes, there.findings)
    assert len(here.ingresses) == len(there.ingresses)
    for mine, kubectls in zip(here.ingresses, there.ingresses, strict=True):
        if mine.key not in SHARED_NAMES:
            assert mine == kubectls
        else:  # kubectl's origin names the file only; the first document of that name was taken
            assert (mine.ingress, mine.namespace) == (kubectls.ingress, kubectls.namespace)
            assert mine.source.position("metadata", "name").line == SHARED_NAMES[mine.key]


# objects whose file holds another of the same name (in another namespace): the renderer keeps the
# very document each came from, where kubectl's origin annotation names only the file
SHARED_NAMES = {"a/mid-alpha-prod": 64}


CORPUS = Path(__file__).parents[1] / "data" / "corpus"
CORPUS_OVERLAYS = sorted(
    path.parent.relative_to(CORPUS).as_posix()
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization")
    for path in (CORPUS / "environments").glob(f"*/{name}")
)


@pytest.mark.parametrize("folder", CORPUS_OVERLAYS)
def test_the_corpus_overlays_render_here_as_kubectl_renders_them(folder: str, tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path, dirs_exist_ok=True)
    (tmp_path / ".git").mkdir()
    job = _job(tmp_path, folder)
    here = _rendered_here(job, SETTINGS, LineShapes())
    assert here is not None  # in the subset: Ingresses and Services, the usual transformers and patches
    assert here == _mapped(job, _kubectl(job), SETTINGS, LineShapes())


def test_positions_name_the_patch_that_set_a_field(tmp_path: Path) -> None:
    job = _job(_write(tmp_path, LAYOUTS["strategic merge on rules, tls and annotations; JSON 6902 on paths"]))
    here = _rendered_here(job, SETTINGS, LineShapes())
    assert here is not None
    shop = next(item for item in here.ingresses if item.name == "p-shop")
    host = shop.source.position("spec", "rules", 0, "host")
    assert (host.file, host.line) == (f"{tmp_path}/env/shop-patch.yaml", 12)
    name = shop.source.position("metadata", "name")
    assert (name.file, name.line) == (f"{tmp_path}/base/shop.yaml", 4)


UNSUPPORTED = {  # what the overlay adds to its resources (``- ../base``) and fields
    "a configMapGenerator": "configMapGenerator:\n  - name: settings\n    literals: [a=b]\n",
    "a Deployment beside the Ingresses": "  - deployment.yaml\n",
    "a strategic-merge patch of a Service": "  - service.yaml\npatches:\n  - patch: |-\n      apiVersion: v1\n"
    "      kind: Service\n      metadata:\n        name: shop\n      spec:\n        ports:\n          - port: 81\n",
    "a strategic-merge directive": "patches:\n  - patch: |-\n      apiVersion: networking.k8s.io/v1\n"
    "      kind: Ingress\n      metadata:\n        name: shop\n      spec:\n        $retainKeys: [rules]\n",
    "a replacement": "replacements:\n  - source:\n      kind: Ingress\n      name: shop\n      fieldPath: spec.rules.0.host\n"
    "    targets:\n      - select:\n          kind: Ingress\n          name: cart\n        fieldPaths: [spec.rules.0.host]\n",
    "a null annotation": "commonAnnotations: {}\npatches:\n  - path: null-patch.yaml\n",
}


@pytest.mark.parametrize("feature", list(UNSUPPORTED))
def test_what_the_renderer_does_not_do_falls_back_to_kubectl(feature: str, tmp_path: Path) -> None:
    files = {
        **BASE,
        "env/kustomization.yaml": "namespace: prod\nresources:\n  - ../base\n" + UNSUPPORTED[feature],
        "env/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: shop\nspec:\n  ports: [{port: 80}]\n",
        "env/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n"
        "  selector:\n    matchLabels: {app: shop}\n  template:\n    metadata:\n      labels: {app: shop}\n"
        "    spec:\n      containers: [{name: shop, image: nginx}]\n",
        "env/null-patch.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: shop\n"
        "  annotations:\n    dropped: null\n",
    }
    job = _job(_write(tmp_path, files))
    with pytest.raises(Unsupported):
        render_subset(job.kustomization, job.contents, SETTINGS.policy.limits, LineShapes())
    assert _rendered_here(job, SETTINGS, LineShapes()) is None
    # the pipeline runs kubectl instead, and gets every Ingress, in the namespace the overlay sets
    rendered = kustomize_render(tmp_path)
    assert sorted(item.key for item in rendered.ingresses) == ["prod/blog", "prod/cart", "prod/shop"]


def kustomize_render(root: Path) -> ParsedFile:
    """The pipeline's render of ``env``: the renderer, else kubectl."""
    renderings = render_environments(
        FolderTree(),
        [("env", f"{root}/env/kustomization.yaml", Root(str(root), "", "env"))],
        kustomize.render,
        SETTINGS,
        LineShapes(),
    )
    return renderings["env"].parsed


ERRORS = {  # what the overlay adds to its resources (``- ../base``) and fields
    "a missing patch file": ("patches:\n  - path: nowhere.yaml\n", "nowhere.yaml"),
    "a strategic-merge patch that names no object": (
        "patchesStrategicMerge:\n  - |-\n    apiVersion: networking.k8s.io/v1\n    kind: Ingress\n"
        "    metadata:\n      name: nobody\n",
        "no matches for Id Ingress.v1.networking.k8s.io/nobody.[noNs]",
    ),
    "an id that is already registered": (
        "  - again.yaml\n",
        "may not add resource with an already registered id: Ingress.v1.networking.k8s.io/shop.[noNs]",
    ),
    "a JSON patch of a path that is not there": (
        "patches:\n  - target:\n      name: shop\n    patch: |-\n      - op: replace\n"
        "        path: /spec/nothing/here\n        value: 1\n",
        "replace operation does not apply",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_kustomize_errors_are_findings_with_kustomizes_message(case: str, tmp_path: Path) -> None:
    extra, message = ERRORS[case]
    files = {
        **BASE,
        "env/kustomization.yaml": "resources:\n  - ../base\n" + extra,
        "env/again.yaml": ingress("shop", "again.example.com"),
    }
    _write(tmp_path, files)
    parsed = kustomize_render(tmp_path)
    assert parsed.ingresses == ()
    assert [finding.rule for finding in parsed.findings] == ["kustomize/render"]
    assert message in parsed.findings[0].message, parsed.findings[0].message
