"""Issue 13, points 1 to 3 and the Helm finding, through ``gitops-ingress validate`` on real files:
kustomize overlays rendered by the real kubectl (from a folder and from git objects), ``kind: List``,
JSON manifests, and the bad inputs an untrusted repository can hold."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from gitops_ingress.cli.sources import build_paths
from gitops_ingress.cli.variables import Variables
from tests.support.gitrepos import git
from tests.support.manifests import drop, ingress, line_of, set_at, to_yaml

BASE_KUSTOMIZATION = "resources:\n  - ingress.yaml\n  - service.yaml\n"
SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n    - port: 80\n"
JSON_PATCH = """- op: replace
  path: /spec/rules/0/host
  value: {host}
"""
MERGE_PATCH = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations:
    nginx.ingress.kubernetes.io/proxy-buffer-size: 8k
spec:
  tls:
    - hosts: [{host}]
      secretName: {secret}
"""


def _tree(root: Path, files: dict[str, str]) -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)  # the repository's top level: the boundary of kustomize's inputs
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _overlay(host: str = "prod.example.com", secret: str = "prod-tls", extra: str = "") -> str:
    return (
        "resources:\n  - ../../base\nnamespace: prod\nnamePrefix: prod-\n"
        "commonLabels:\n  env: prod\n"
        "patches:\n  - path: host.yaml\n    target:\n      kind: Ingress\n      name: web\n"
        "  - path: tls.yaml\n" + extra
    )


def _repository(root: Path, host: str = "prod.example.com", secret: str = "prod-tls") -> Path:
    return _tree(
        root,
        {
            "base/kustomization.yaml": BASE_KUSTOMIZATION,
            "base/ingress.yaml": to_yaml(drop(ingress("web", "base.example.com"), "metadata.namespace")),
            "base/service.yaml": SERVICE,
            "environments/prod/kustomization.yaml": _overlay(),
            "environments/prod/host.yaml": JSON_PATCH.format(host=host),
            "environments/prod/tls.yaml": MERGE_PATCH.format(host=host, secret=secret),
        },
    )


def _validate(cli, *args: str) -> tuple[int, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    result = cli("validate", *args, "--format", "json")
    assert "Traceback" not in result.err
    return result.code, [f for f in result.json()["findings"] if f["rule"] != "schema/other-kind"]


def test_an_overlay_is_validated_as_kustomize_renders_it(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = _repository(tmp_path)
    code, findings = _validate(cli, str(root / "environments"))
    # the one finding is true, and it names the patch that set the annotation, not the render
    assert code == 0 and [(f["rule"], Path(f["file"]).relative_to(root).as_posix(), f["line"]) for f in findings] == [
        ("annotation/ignored", "environments/prod/tls.yaml", 6)
    ]
    built = build_paths([str(root / "environments")], Variables())
    (item,) = built.environments["prod"].ingresses
    # namespace, namePrefix, commonLabels and both patches applied, as kubectl kustomize does
    assert (item.namespace, item.name) == ("prod", "prod-web")
    assert item.ingress.metadata.labels == {"env": "prod"}
    assert item.ingress.spec is not None and item.ingress.spec.rules[0].host == "prod.example.com"
    assert item.ingress.spec.tls[0].secret_name == "prod-tls"
    annotations = item.ingress.metadata.annotations or {}
    assert "config.kubernetes.io/origin" not in annotations  # never applied
    assert annotations == {"nginx.ingress.kubernetes.io/proxy-buffer-size": "8k"}
    # the patch files are inputs, not Ingresses; the user's kustomization was not changed
    assert "buildMetadata" not in (root / "environments/prod/kustomization.yaml").read_text()
    assert {"environments/prod/host.yaml", "base/ingress.yaml"} <= {
        Path(p).resolve().relative_to(root).as_posix() for p in built.environments["prod"].files
    }


def test_findings_name_the_origin_file_and_the_patch_that_set_the_field(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = _repository(tmp_path, host="Bad_Host", secret="Bad_Secret")
    base = root / "base/ingress.yaml"
    base.write_text(
        to_yaml(set_at(drop(ingress("web"), "metadata.namespace"), "spec.rules.0.http.paths.0.pathType", "Odd"))
    )
    code, findings = _validate(cli, str(root / "environments"))
    assert code == 1
    by_rule = {f["rule"]: f for f in findings}
    host = by_rule["api/host-invalid"]
    assert host["file"].endswith("environments/prod/host.yaml") and host["line"] == 3  # the JSON 6902 value
    secret = by_rule["api/tls-secret-name-invalid"]
    tls_text = (root / "environments/prod/tls.yaml").read_text()
    assert secret["file"].endswith("environments/prod/tls.yaml") and secret["line"] == line_of(tls_text, "secretName")
    path_type = by_rule["api/path-type-unsupported"]
    assert path_type["file"].endswith("base/ingress.yaml")
    assert path_type["line"] == line_of(base.read_text(), "pathType")


def test_a_git_commit_renders_the_same_as_the_folder(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    _repository(root, host="Bad_Host")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "overlay")
    code, findings = _validate(cli, "--repo", str(root), "--ref", "main")
    assert code == 1
    (host,) = [f for f in findings if f["rule"] == "api/host-invalid"]
    assert (host["file"], host["line"]) == ("environments/prod/host.yaml", 3)


@pytest.mark.parametrize(
    ("resource", "rule", "words"),
    [
        ("https://github.com/example/repo//base?ref=v1", "kustomize/remote", "remote"),
        ("github.com/example/repo/base", "kustomize/remote", "remote"),
        ("../../../outside", "kustomize/outside", "outside the repository"),
        ("/etc", "kustomize/outside", "outside the repository"),
        ("../../nowhere", "kustomize/missing", "does not exist"),
    ],
)
def test_refused_references_are_findings_at_their_line(  # type: ignore[no-untyped-def]
    tmp_path: Path, cli, resource: str, rule: str, words: str
) -> None:
    root = tmp_path / "repo"
    kustomization = f"resources:\n  - ../../base\n  - {resource}\n"
    _repository(root)
    (root / "environments/prod/kustomization.yaml").write_text(kustomization)
    code, findings = _validate(cli, str(root / "environments"))
    assert code == 1
    (finding,) = findings
    assert finding["rule"] == rule and words in finding["message"]
    assert finding["file"].endswith("environments/prod/kustomization.yaml") and finding["line"] == 3


def test_a_missing_file_and_a_patch_that_targets_nothing_carry_kustomizes_message(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = _repository(tmp_path)
    (root / "environments/prod/tls.yaml").unlink()
    code, findings = _validate(cli, str(root / "environments"))
    (finding,) = findings
    assert code == 1 and finding["rule"] == "kustomize/render"
    assert finding["file"].endswith("environments/prod/kustomization.yaml") and "tls.yaml" in finding["message"]
    assert str(tmp_path) not in finding["message"] and "gitops-ingress-kustomize" not in finding["message"]

    # a strategic-merge patch names its object: one that is not rendered is kustomize's error
    (root / "environments/prod/tls.yaml").write_text(
        MERGE_PATCH.format(host="a.example.com", secret="s").replace("name: web", "name: nothing")
    )
    code, findings = _validate(cli, str(root / "environments"))
    assert code == 1, findings
    assert [f["rule"] for f in findings] == ["kustomize/render"]
    assert "nothing" in findings[0]["message"]


def test_a_symlink_out_of_the_tree_is_neither_followed_nor_rendered(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "host-secret.yaml"
    secret.write_text(to_yaml(ingress("stolen", "stolen.example.com")))
    root = _repository(tmp_path / "repo")
    (root / "base/ingress.yaml").unlink()
    os.symlink(secret, root / "base/ingress.yaml")
    code, findings = _validate(cli, str(root / "environments"))
    assert code == 1
    rules = sorted(f["rule"] for f in findings)
    assert rules == ["fs/symlink"], findings
    assert findings[0]["file"].endswith("base/ingress.yaml")
    assert not any("stolen" in json.dumps(f) for f in findings if f["rule"] != "fs/symlink")


def test_a_render_over_the_output_limit_is_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = _repository(tmp_path)
    (root / "gitops-ingress.yaml").write_text("policy:\n  limits:\n    max_render_output_bytes: 200\n")
    code, findings = _validate(cli, str(root / "environments"))
    (finding,) = findings
    assert code == 1 and finding["rule"] == "kustomize/render" and "over 200 bytes" in finding["message"]


def test_a_helm_chart_in_a_kustomization_is_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = _repository(tmp_path)
    text = _overlay() + "helmCharts:\n  - name: ingress-nginx\n    repo: https://kubernetes.github.io/ingress-nginx\n"
    (root / "environments/prod/kustomization.yaml").write_text(text)
    code, findings = _validate(cli, str(root / "environments"))
    assert code == 1 and [f["rule"] for f in findings] == ["kustomize/helm"]
    assert findings[0]["line"] == line_of(text, "helmCharts")


def test_a_folder_given_directly_that_holds_a_kustomization_is_rendered(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = _repository(tmp_path)
    assert _validate(cli, str(root / "base")) == (0, [])
    (item,) = build_paths([str(root / "base")], Variables()).environments["base"].ingresses
    assert (item.namespace, item.name) == ("default", "web")  # no namespace: the environment's default


def test_kind_list_items_are_validated_with_their_own_positions(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    good, bad = ingress("one", "one.example.com"), ingress("two", "Bad_Host")
    text = to_yaml({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": [good, bad]})
    _tree(tmp_path, {"environments/prod/list.yaml": text})
    code, findings = _validate(cli, str(tmp_path / "environments"))
    assert code == 1
    (host,) = findings
    assert host["rule"] == "api/host-invalid" and host["object"] == "shop/two"
    assert host["line"] == line_of(text, "host: Bad_Host")
    built = build_paths([str(tmp_path / "environments")], Variables())
    assert sorted(item.name for item in built.environments["prod"].ingresses) == ["one", "two"]


def test_json_manifests_are_validated_like_yaml(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    text = json.dumps(ingress("web", "Bad_Host"), indent=2)
    _tree(
        tmp_path,
        {"environments/prod/web.json": text, "environments/prod/ok.json": json.dumps(ingress("ok", "ok.example.com"))},
    )
    code, findings = _validate(cli, str(tmp_path / "environments"))
    (host,) = findings
    assert code == 1 and host["rule"] == "api/host-invalid" and host["file"].endswith("web.json")
    assert host["line"] == line_of(text, '"host": "Bad_Host"')


def test_a_helm_template_is_named_as_one(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    template = 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {{ include "app.fullname" . }}\n'
    _tree(tmp_path, {"environments/prod/ingress.yaml": template})
    code, findings = _validate(cli, str(tmp_path / "environments"))
    (finding,) = findings
    assert code == 1 and finding["rule"] == "yaml/helm-template" and finding["line"] == 4
    assert "helm template" in finding["hint"]
    chart = {
        "environments/prod/chart/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\n",
        "environments/prod/chart/values.yaml": "host: a.example.com\n",
        "environments/prod/chart/templates/ingress.yaml": template.replace("{{ include", "{{- include"),
    }
    shutil.rmtree(tmp_path / "environments")
    _tree(tmp_path, chart)
    code, findings = _validate(cli, str(tmp_path / "environments"))
    (finding,) = findings
    assert code == 1 and finding["rule"] == "yaml/helm-template" and finding["file"].endswith("Chart.yaml")


def test_a_file_too_large_alone_is_not_also_no_yaml(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _tree(tmp_path, {"environments/big.yaml": "a: " + "x" * 2_000_000 + "\n"})
    code, findings = _validate(cli, str(tmp_path / "environments"))
    assert code == 1 and [f["rule"] for f in findings] == ["yaml/too-large"]


def test_validate_dot_inside_an_overlay_reaches_its_base(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root = _repository(tmp_path, host="Bad_Host")
    monkeypatch.chdir(root / "environments/prod")
    code, findings = _validate(cli, ".")
    assert code == 1
    (host,) = [f for f in findings if f["rule"] == "api/host-invalid"]
    assert (host["file"], host["line"]) == ("host.yaml", 3)


def test_an_annotation_a_strategic_merge_patch_adds_is_found_in_the_patch(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    root = _repository(tmp_path)
    tls = root / "environments/prod/tls.yaml"
    tls.write_text(tls.read_text().replace("proxy-buffer-size: 8k", "server-snippet: return 403;"))
    code, findings = _validate(cli, str(root / "environments"))
    (denied,) = [f for f in findings if f["severity"] == "error"]
    assert code == 1 and denied["file"].endswith("environments/prod/tls.yaml")
    assert denied["line"] == line_of(tls.read_text(), "nginx.ingress.kubernetes.io/server-snippet")


def test_overlays_rendered_together_each_keep_their_own_render_and_failure(tmp_path: Path) -> None:
    """The environments' kustomize runs go at the same time: each result still lands on its own
    environment, and one overlay that fails to render is that overlay's finding only. (A generator
    puts each overlay outside core.kustomize_render's subset, so kustomize renders them all.)"""
    root = _repository(tmp_path)
    generator = "configMapGenerator:\n  - name: settings\n    literals: [mode=live]\n"
    for env in ("stage", "dev", "broken"):
        host = f"{env}.example.com"
        overlay = _overlay(extra=generator).replace("namespace: prod", f"namespace: {env}").replace("prod-", f"{env}-")
        (root / f"environments/{env}").mkdir()
        (root / f"environments/{env}/kustomization.yaml").write_text(overlay)
        (root / f"environments/{env}/host.yaml").write_text(JSON_PATCH.format(host=host))
        if env != "broken":  # its strategic-merge patch file is missing: kustomize refuses it
            (root / f"environments/{env}/tls.yaml").write_text(MERGE_PATCH.format(host=host, secret=f"{env}-tls"))
    built = build_paths([str(root / "environments")], Variables())
    assert sorted(built.environments) == ["broken", "dev", "prod", "stage"]
    for env in ("dev", "prod", "stage"):
        (item,) = built.environments[env].ingresses
        assert (item.namespace, item.name) == (env, f"{env}-web")
        assert item.ingress.spec is not None and item.ingress.spec.rules[0].host == f"{env}.example.com"
        assert item.ingress.spec.tls[0].secret_name == f"{env}-tls"
        assert built.environments[env].ok
    broken = built.environments["broken"]
    assert broken.ingresses == ()
    assert [f.rule for f in broken.findings] == ["kustomize/render"]
    assert "tls.yaml" in broken.findings[0].message
