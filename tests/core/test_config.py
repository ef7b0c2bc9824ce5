"""The settings file: parsed and merged over the defaults, the environment and the options."""

from __future__ import annotations

import pytest

from gitops_ingress.core.config import read_settings
from gitops_ingress.core.errors import ConfigError
from gitops_ingress.core.settings import Settings


def test_read_settings_from_the_repository_file():
    settings, findings = read_settings(
        {"gitops-ingress.yaml": b"ingress_class: mine\npolicy:\n  limits:\n    max_files: 5\n"}
    )
    assert findings == []
    assert settings.ingress_class == "mine" and settings.policy.limits.max_files == 5
    settings, _ = read_settings({}, variables={"ingress_class": "env"}, overrides={"poll_interval": 5})
    assert settings.ingress_class == "env" and settings.poll_interval == 5


def test_bad_settings_file_gives_findings_with_lines_and_defaults():
    settings, findings = read_settings({"gitops-ingress.yaml": b"ingress_class: mine\npolicy:\n  limitz: 1\n"})
    (finding,) = findings
    assert (finding.rule, finding.file, finding.line) == ("config/settings", "gitops-ingress.yaml", 3)
    assert settings == Settings()
    _, findings = read_settings({"gitops-ingress.yaml": b"a: [\n"}, shown_as="config/gitops-ingress.yaml")
    assert (findings[0].rule, findings[0].file) == ("yaml/syntax", "config/gitops-ingress.yaml")


def test_base_settings_are_the_lowest_layer():
    base = Settings.build({"preview_domain": "preview.example.com", "ingress_class": "base"})
    settings, _ = read_settings({"gitops-ingress.yaml": b"ingress_class: file\n"}, base)
    assert (settings.preview_domain, settings.ingress_class) == ("preview.example.com", "file")


def test_variables_are_validated_with_the_file_and_options_merged():
    with pytest.raises(ConfigError, match="poll_interval"):
        read_settings({}, variables={"poll_interval": "soon"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"retention:\n  syncs_per_branch: 0\n", "Input should be greater than or equal to 1"),
        (b"retention:\n  delivery_days: 0\n", "Input should be greater than 0"),
        (b"max_previews: -1\n", "Input should be greater than or equal to 0"),
    ],
)
def test_a_value_past_its_bound_is_refused_in_pydantics_words(text: bytes, message: str) -> None:
    # core/settings.py does not import the bounds (Ge, Gt) at run time: the schema evaluates the
    # annotations with them, so each bound still holds
    settings, findings = read_settings({"gitops-ingress.yaml": text})
    (finding,) = findings
    assert finding.rule == "config/settings" and finding.message.endswith(message)
    assert settings == Settings()
