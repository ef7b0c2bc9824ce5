"""Issue 13, point 1, beyond validate: ``routes`` and ``diff`` on a kustomize overlay folder route
what ``kubectl kustomize`` renders (the real kubectl), and each side of ``diff DIR_A DIR_B`` is
rendered within its own repository, wherever DIR_B lies (``proxy --ingress-dir`` is in
tests/proxy/test_kustomize_ingress_dir.py).

Each repository is a real ``git init`` with a base (one Ingress, host ``base.example.com``, Service
``web``) and an overlay ``overlays/prod`` that sets the namespace and a name prefix and patches the
host to ``prod.example.com``: only a render yields ``prod/web:80`` for ``prod.example.com``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.gitrepos import git
from tests.support.manifests import drop, ingress, to_yaml

OVERLAY = "overlays/prod"
KUSTOMIZATION = """resources:
  - ../../base
namespace: prod
namePrefix: prod-
patches:
  - path: host.yaml
    target:
      kind: Ingress
      name: web
"""
HOST_PATCH = "- op: replace\n  path: /spec/rules/0/host\n  value: prod.example.com\n"


def kustomize_repository(root: Path, service: str = "web") -> Path:
    """A real git repository with the base and the overlay; ``service`` is the base's backend."""
    files = {
        "base/kustomization.yaml": "resources:\n  - ingress.yaml\n",
        "base/ingress.yaml": to_yaml(drop(ingress("web", "base.example.com", service), "metadata.namespace")),
        f"{OVERLAY}/kustomization.yaml": KUSTOMIZATION,
        f"{OVERLAY}/host.yaml": HOST_PATCH,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base and overlay")
    return root


def test_the_fixture_is_what_kubectl_kustomize_renders(tmp_path: Path) -> None:
    root = kustomize_repository(tmp_path / "repo")
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(root / OVERLAY)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "namespace: prod" in rendered and "name: prod-web" in rendered and "host: prod.example.com" in rendered


def test_routes_on_an_overlay_routes_the_render(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = kustomize_repository(tmp_path / "repo")
    table = cli("routes", str(root / OVERLAY), "--format", "json")
    assert table.code == 0, table.err
    (route,) = table.json()["routes"]
    assert (route["host"], route["ingress"]) == ("prod.example.com", "prod/prod-web")
    assert route["backend"] == {"service": {"namespace": "prod", "name": "web", "port": "80"}}
    assert route["file"] == f"{root}/base/ingress.yaml"  # the origin file, not the render
    answer = cli("routes", str(root / OVERLAY), "--host", "prod.example.com", "--path", "/cart")
    assert (answer.code, answer.out) == (0, "prod/web:80\n")
    assert cli("routes", str(root / OVERLAY), "--host", "base.example.com").out == "404 (no rule matched)\n"


def test_diff_of_two_overlays_in_one_repository(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = kustomize_repository(tmp_path / "repo")
    (root / "overlays/next").mkdir()
    (root / "overlays/next/kustomization.yaml").write_text(KUSTOMIZATION)
    (root / "overlays/next/host.yaml").write_text(HOST_PATCH.replace("prod.example.com", "next.example.com"))
    result = cli("diff", str(root / OVERLAY), str(root / "overlays/next"), "--format", "json")
    assert result.code == 0, result.err
    changes = sorted((c["kind"], c["host"], c["before"], c["after"]) for c in result.json()["changes"])
    assert changes == [
        ("added", "next.example.com", None, "prod/web:80"),
        ("removed", "prod.example.com", "prod/web:80", None),
    ]


def test_diff_renders_each_side_within_its_own_repository(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    # DIR_B's overlay reaches ../../base of its own repository, which is outside DIR_A's: bounding
    # it by DIR_A's repository refused the base ("outside the repository") and showed a removal
    before = kustomize_repository(tmp_path / "before")
    after = kustomize_repository(tmp_path / "after", service="storefront")
    result = cli("diff", str(before / OVERLAY), str(after / OVERLAY), "--format", "json")
    assert result.code == 0, result.err
    (change,) = result.json()["changes"]
    assert (change["kind"], change["before"], change["after"]) == ("retargeted", "prod/web:80", "prod/storefront:80")
    # and the other way round: DIR_A's own repository bounds DIR_A
    back = cli("diff", str(after / OVERLAY), str(before / OVERLAY), "--format", "json")
    assert back.code == 0, back.err
    assert [(c["before"], c["after"]) for c in back.json()["changes"]] == [("prod/storefront:80", "prod/web:80")]
