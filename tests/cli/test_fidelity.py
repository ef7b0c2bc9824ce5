"""Issue 13, points 4 to 7, through ``gitops-ingress validate`` on real files: what the API server
and kubectl accept is accepted, what they refuse is refused, and other controllers' Ingresses get
no ingress-nginx noise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.manifests import drop, ingress, line_of, set_at, to_yaml

FALLBACK = {"service": {"name": "fallback", "port": {"number": 80}}}


def _write(root: Path, files: dict[str, Any]) -> None:
    for name, content in files.items():
        path = root / "environments" / "production" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else to_yaml(content))


def _validate(cli, root: Path) -> tuple[int, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    result = cli("validate", str(root / "environments"), "--format", "json")
    return result.code, result.json()["findings"]


def test_null_label_and_annotation_values_are_empty_strings(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    obj = set_at(set_at(ingress(), "metadata.labels", {"chart": None}), "metadata.annotations", {"note": None})
    assert "chart: null" in to_yaml(obj)
    _write(tmp_path, {"a.yaml": obj})
    assert _validate(cli, tmp_path) == (0, [])


def test_several_default_backends_warn_and_name_the_one_used(
    tmp_path: Path,
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    zeta = set_at(ingress("zeta", "a.example.com"), "spec.defaultBackend", FALLBACK)
    alpha = set_at(ingress("alpha", "b.example.com"), "spec.defaultBackend", FALLBACK)
    _write(tmp_path, {"a.yaml": zeta, "b.yaml": alpha})
    code, findings = _validate(cli, tmp_path)
    assert code == 0, findings
    (warning,) = [f for f in findings if f["rule"] == "cross/default-backend"]
    assert warning["severity"] == "warning" and warning["file"].endswith("a.yaml")  # the one not used
    assert "a.yaml" in warning["message"] and "b.yaml" in warning["message"]
    assert "the proxy uses shop/alpha's" in warning["message"]
    monkeypatch.setenv("GITOPS_INGRESS_VALIDATION__MULTIPLE_DEFAULT_BACKENDS", "error")
    code, findings = _validate(cli, tmp_path)
    assert code == 1 and [f["severity"] for f in findings if f["rule"] == "cross/default-backend"] == ["error"]


def _fallback(service: str) -> dict[str, Any]:
    return {"service": {"name": service, "port": {"number": 80}}}


def test_the_default_backend_named_is_the_one_requests_get(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    # three owners in three files, written out of order: the warning names every file, and the one
    # it says the proxy uses is the one `routes` (the proxy's own matcher) sends unmatched requests to
    owners = {"c.yaml": ("beta", "beta-fallback"), "a.yaml": ("gamma", "gamma-fallback"), "b.yaml": ("alpha", "alpha")}
    _write(
        tmp_path,
        {
            name: set_at(ingress(owner, f"{owner}.example.com"), "spec.defaultBackend", _fallback(service))
            for name, (owner, service) in owners.items()
        },
    )
    code, findings = _validate(cli, tmp_path)
    warnings = [f for f in findings if f["rule"] == "cross/default-backend"]
    assert code == 0 and sorted(Path(f["file"]).name for f in warnings) == ["a.yaml", "c.yaml"]
    for warning in warnings:
        assert all(f"production/{name}:" in warning["message"] for name in owners)
        assert "the proxy uses shop/alpha's, the first by namespace/name" in warning["message"]
    answer = cli("routes", str(tmp_path / "environments"), "--host", "unknown.example.com")
    assert answer.out == "shop/alpha:80\n"
    # the policy setting, in the repository's gitops-ingress.yaml: an error, or nothing
    (tmp_path / ".git").mkdir()
    (tmp_path / "gitops-ingress.yaml").write_text("validation:\n  multiple_default_backends: error\n")
    code, findings = _validate(cli, tmp_path)
    assert code == 1 and [f["severity"] for f in findings if f["rule"] == "cross/default-backend"] == ["error"] * 2
    (tmp_path / "gitops-ingress.yaml").write_text("validation:\n  multiple_default_backends: ignore\n")
    assert _validate(cli, tmp_path) == (0, [])


def test_a_canary_s_default_backend_is_not_the_one_used(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    canary = set_at(
        ingress("alpha", "shop.example.com", annotations={"nginx.ingress.kubernetes.io/canary": "true"}),
        "spec.defaultBackend",
        _fallback("canary-fallback"),
    )
    main = set_at(ingress("zeta", "shop.example.com"), "spec.defaultBackend", _fallback("fallback"))
    _write(tmp_path, {"canary.yaml": canary, "main.yaml": main})
    code, findings = _validate(cli, tmp_path)
    assert code == 0 and [f for f in findings if f["rule"] == "cross/default-backend"] == []
    answer = cli("routes", str(tmp_path / "environments"), "--host", "unknown.example.com")
    assert answer.out == "shop/fallback:80\n"


def test_annotations_over_256_kib_are_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    half = "x" * (128 * 1024)
    obj = ingress(annotations={"a": half, "b": half, "c": "y"})
    _write(tmp_path, {"a.yaml": obj})
    code, findings = _validate(cli, tmp_path)
    assert code == 1
    (too_long,) = [f for f in findings if f["rule"] == "api/annotations-too-long"]
    assert "at most 262144 bytes" in too_long["message"]
    assert too_long["line"] == line_of(to_yaml(obj), "annotations:")
    _write(tmp_path, {"a.yaml": ingress(annotations={"a": half, "b": "y"})})
    assert _validate(cli, tmp_path) == (0, [])


def test_unknown_fields_are_errors_unless_the_setting_says_otherwise(
    tmp_path: Path,
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    _write(tmp_path, {"a.yaml": set_at(ingress(), "spec.ingresClassName", "typo")})
    code, findings = _validate(cli, tmp_path)
    assert code == 1 and [f["severity"] for f in findings if f["rule"] == "schema/unknown-field"] == ["error"]
    monkeypatch.setenv("GITOPS_INGRESS_VALIDATION__UNKNOWN_FIELDS", "warning")
    code, findings = _validate(cli, tmp_path)
    assert code == 0 and [f["severity"] for f in findings if f["rule"] == "schema/unknown-field"] == ["warning"]


def test_other_controllers_ingresses_get_no_ingress_nginx_checks(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    files = {
        f"{name}.yaml": ingress(name, f"{name}.example.com", path="/*", ingress_class=name)
        for name in ("alb", "azure-application-gateway", "nginx")
    }
    files["ours.yaml"] = ingress("ours", "ours.example.com", path="/*")
    _write(tmp_path, files)
    _, findings = _validate(cli, tmp_path)
    charset = sorted(Path(f["file"]).name for f in findings if f["rule"] == "nginx/path-charset")
    assert charset == ["nginx.yaml", "ours.yaml"], findings


def test_a_path_without_path_type_is_reported_once(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    obj = drop(ingress(service="Not_A_Service"), "spec.rules.0.http.paths.0.pathType")
    _write(tmp_path, {"a.yaml": obj})
    code, findings = _validate(cli, tmp_path)
    assert code == 1 and [f["rule"] for f in findings] == ["api/path-type-required"], findings
