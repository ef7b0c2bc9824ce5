"""Snapshots of a whole configuration and the settings file."""

from __future__ import annotations

import pytest

from gitops_ingress.core.config import load_snapshot, read_settings, snapshot_from_files
from gitops_ingress.core.errors import ConfigError
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.objects import parse_file
from gitops_ingress.core.settings import Settings
from tests.support.manifests import ingress, to_yaml

SETTINGS = Settings()


def test_environments_are_the_first_folder_under_environments_dir():
    files = {
        "environments/staging/shop/web.yaml": to_yaml(ingress("web")).encode(),
        "environments/production/shop/web.yml": to_yaml(ingress("web")).encode(),
        "environments/production/api.yaml": to_yaml(ingress("api", host="api.example.com")).encode(),
        "environments/production/README.md": b"not yaml",
        "docs/example.yaml": b"not: [valid",
    }
    snapshot = load_snapshot(files, SETTINGS)
    assert list(snapshot.environments) == ["production", "staging"]
    production = snapshot.environments["production"]
    assert production.files == ("environments/production/api.yaml", "environments/production/shop/web.yml")
    assert [i.key for i in production.ingresses] == ["shop/api", "shop/web"]
    assert all(i.environment == "production" for i in production.ingresses)
    assert snapshot.ok and snapshot.findings == ()
    only = load_snapshot(files, SETTINGS, environment="staging")
    assert list(only.environments) == ["staging"]


def test_files_directly_under_environments_dir_are_reported():
    snapshot = load_snapshot({"environments/loose.yaml": to_yaml(ingress()).encode()}, SETTINGS)
    rules = [f.rule for f in snapshot.findings]
    assert sorted(rules) == ["config/layout", "config/no-yaml"]
    assert not snapshot.ok


def test_no_yaml_is_a_repository_level_error():
    snapshot = load_snapshot({"README.md": b"hello"}, SETTINGS)
    (finding,) = snapshot.findings
    assert finding.rule == "config/no-yaml" and finding.severity is Severity.ERROR
    assert "environments" in finding.message
    assert not snapshot.ok and snapshot.environments == {}
    assert snapshot_from_files({}, SETTINGS).findings[0].rule == "config/no-yaml"


def test_unknown_environment_is_reported():
    snapshot = load_snapshot({"environments/prod/a.yaml": to_yaml(ingress()).encode()}, SETTINGS, environment="qa")
    assert [f.rule for f in snapshot.findings] == ["config/unknown-environment"]


def test_findings_are_sorted_and_all_findings_merges_levels():
    files = {
        "environments/prod/b.yaml": to_yaml(ingress("b", host="Bad")).encode(),
        "environments/prod/a.yaml": b"a: 1\na: 2\n",
    }
    snapshot = load_snapshot(files, SETTINGS)
    findings = snapshot.environments["prod"].findings
    assert [f.file for f in findings] == sorted(f.file for f in findings)
    assert {f.rule for f in snapshot.all_findings()} >= {"api/host-invalid", "yaml/duplicate-key"}
    assert not snapshot.environments["prod"].ok


def test_parse_is_injectable():
    calls: list[str] = []

    def counting(path, data, environment, settings):
        calls.append(path)
        return parse_file(path, data, environment, settings)

    load_snapshot({"environments/prod/a.yaml": to_yaml(ingress()).encode()}, SETTINGS, parse=counting)
    assert calls == ["environments/prod/a.yaml"]


def test_loose_files_go_to_their_environment_or_default():
    files = {
        "some/dir/x.yaml": to_yaml(ingress("x")).encode(),
        "/tmp/repo/environments/prod/y.yaml": to_yaml(ingress("y", host="y.example.com")).encode(),
        "environments/prod/z.yaml": to_yaml(ingress("z", host="z.example.com")).encode(),
    }
    snapshot = snapshot_from_files(files, SETTINGS)
    assert {name: len(env.ingresses) for name, env in snapshot.environments.items()} == {
        "default": 1,
        "prod": 2,
    }


def test_read_settings_from_the_repository_file():
    settings, findings = read_settings(
        {"gitops-ingress.yaml": b"ingress_class: mine\npolicy:\n  limits:\n    max_files: 5\n"}
    )
    assert findings == []
    assert settings.ingress_class == "mine" and settings.policy.limits.max_files == 5
    settings, _ = read_settings({}, environ={"GITOPS_INGRESS_INGRESS_CLASS": "env"}, overrides={"poll_interval": 5})
    assert settings.ingress_class == "env" and settings.poll_interval == 5


def test_bad_settings_file_gives_findings_with_lines_and_defaults():
    settings, findings = read_settings({"gitops-ingress.yaml": b"ingress_class: mine\npolicy:\n  limitz: 1\n"})
    (finding,) = findings
    assert (finding.rule, finding.file, finding.line) == ("config/settings", "gitops-ingress.yaml", 3)
    assert settings == Settings()
    _, findings = read_settings({"gitops-ingress.yaml": b"a: [\n"})
    assert findings[0].rule == "yaml/syntax"


def test_base_settings_are_the_lowest_layer():
    base = Settings.build({"preview_domain": "preview.example.com", "ingress_class": "base"})
    settings, _ = read_settings({"gitops-ingress.yaml": b"ingress_class: file\n"}, base)
    assert (settings.preview_domain, settings.ingress_class) == ("preview.example.com", "file")


def test_bad_environment_variables_raise():
    with pytest.raises(ConfigError):
        read_settings({}, environ={"GITOPS_INGRESS_POLL_INTERVAL": "soon"})


def test_build_variables_are_not_settings_but_other_unknown_variables_are_errors():
    build_only = {"GITOPS_INGRESS_PURE_PYTHON": "1", "GITOPS_INGRESS_NO_COMPILE": "1"}
    assert Settings.build(None, build_only) == Settings.build(None, {})
    with pytest.raises(ConfigError, match="pure_pyton"):
        Settings.build(None, {"GITOPS_INGRESS_PURE_PYTON": "1"})  # a typo is still caught
