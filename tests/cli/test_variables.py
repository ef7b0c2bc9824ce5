"""The ``GITOPS_INGRESS_*`` variables (cli/variables.py): one model, one prefix per section, and
the precedence of docs/configuration.md: defaults < gitops-ingress.yaml < variables < options.

The precedence tests run the real command line in this process (``main``, which reads
``os.environ`` once) over a real folder with a real settings file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.cli.sources import settings_from
from gitops_ingress.cli.variables import Variables
from gitops_ingress.core.errors import ConfigError
from gitops_ingress.web.options import WebOptions
from tests.support.manifests import ingress, to_yaml

FILE_LIMIT = b"policy:\n  limits:\n    max_files: 1\n"


def _two_files(root: Path, settings: bytes) -> Path:
    """A repository of two Ingress files in one environment, and its settings file."""
    folder = root / "environments" / "prod"
    folder.mkdir(parents=True)
    for name in ("a", "b"):
        (folder / f"{name}.yaml").write_text(to_yaml(ingress(name=name, host=f"{name}.example.com")))
    (root / "gitops-ingress.yaml").write_bytes(settings)
    return root / "environments"


def test_the_file_wins_over_the_defaults(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    environments = _two_files(tmp_path, FILE_LIMIT)
    monkeypatch.chdir(tmp_path)
    result = cli("validate", str(environments), "--format", "json")
    assert result.code == 1 and [f["rule"] for f in result.json()["findings"]] == ["fs/too-many-files"]


def test_a_variable_wins_over_the_file(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    environments = _two_files(tmp_path, FILE_LIMIT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITOPS_INGRESS_POLICY__LIMITS__MAX_FILES", "10")
    result = cli("validate", str(environments), "--format", "json")
    assert result.code == 0, result.out + result.err
    assert result.json()["findings"] == []


def test_an_option_wins_over_a_variable_and_the_file() -> None:
    variables = Variables.read(
        {"GITOPS_INGRESS_PREVIEW_DOMAIN": "env.example.com", "GITOPS_INGRESS_POLL_INTERVAL": "7"}
    )
    raw = b"preview_domain: file.example.com\npoll_interval: 3\ningress_class: from-file\n"
    settings, findings = settings_from(raw, variables, overrides={"preview_domain": "option.example.com"})
    assert findings == []
    # option > variable > file > default, each for the key it sets
    assert settings.preview_domain == "option.example.com"
    assert settings.poll_interval == 7
    assert settings.ingress_class == "from-file"
    assert settings.preview_ttl == 0


def test_a_variable_sets_only_what_it_names() -> None:
    """A nested variable overrides one key, never its section's other keys from the file."""
    variables = Variables.read({"GITOPS_INGRESS_POLICY__LIMITS__MAX_FILES": "20000"})
    raw = b"policy:\n  limits:\n    max_objects: 5\n  denied_annotations: []\n"
    settings, _ = settings_from(raw, variables)
    assert (settings.policy.limits.max_files, settings.policy.limits.max_objects) == (20000, 5)
    assert settings.policy.denied_annotations == ()


def test_a_misspelt_variable_is_an_error_naming_it(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GITOPS_INGRESS_PREVEIW_TTL", "60")
    result = cli("validate", "environments")
    assert result.code == 2 and result.out == ""
    assert result.err == (
        "gitops-ingress validate: error: unknown environment variable GITOPS_INGRESS_PREVEIW_TTL "
        "(did you mean GITOPS_INGRESS_PREVIEW_TTL?): not a setting in docs/configuration.md; unset it\n"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "GITOPS_INGRESS_POLICY__LIMITZ__MAX_FILES",
            "1",
            "GITOPS_INGRESS_POLICY__LIMITZ__MAX_FILES: no setting policy.limitz",
        ),
        (
            "GITOPS_INGRESS_WEB_TOKN",
            "t",
            "unknown environment variable GITOPS_INGRESS_WEB_TOKN (did you mean GITOPS_INGRESS_WEB_TOKEN?)",
        ),
        ("GITOPS_INGRESS_POLL_INTERVAL", "soon", "GITOPS_INGRESS_POLL_INTERVAL: Input should be a valid number"),
        (
            "GITOPS_INGRESS_BRANCHES__EXCLUDE",
            "[wip",
            "GITOPS_INGRESS_BRANCHES__EXCLUDE: lists and mappings are written as JSON",
        ),
        (
            "GITOPS_INGRESS_WEB_ANONYMOUS_READ",
            "maybe",
            "GITOPS_INGRESS_WEB_ANONYMOUS_READ: Input should be a valid boolean",
        ),
        (
            "GITOPS_INGRESS_WEB_FORGE",
            "bitbucket",
            "GITOPS_INGRESS_WEB_FORGE: Value error, 'bitbucket': expected github",
        ),
    ],
)
def test_bad_variables_are_config_errors_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Variables.read({name: value})
    assert message in str(raised.value)


def test_the_sections_and_their_prefixes() -> None:
    variables = Variables.read(
        {
            "GITOPS_INGRESS_DEBUG": "1",
            "GITOPS_INGRESS_PURE_PYTHON": "1",
            "GITOPS_INGRESS_WEB_TOKEN": "t",
            "GITOPS_INGRESS_BRANCHES__EXCLUDE": '["wip/*"]',
            "GITOPS_INGRESS_PREVIEW_KEEP": '["release/*"]',
            "GITOPS_INGRESS_INGRESS_CLASS": "",  # empty: as if unset
            "OTHER_TOOL_SETTING": "x",  # not ours
        }
    )
    assert variables.process.tracebacks and variables.web.token == "t"
    assert variables.repository.layer() == {"branches": {"exclude": ("wip/*",)}, "preview_keep": ("release/*",)}
    assert Variables.read({}) == Variables() and Variables().repository.layer() == {}
    assert not Variables().process.tracebacks


def _web(**variables: str) -> WebOptions:
    """The dashboard's options from ``GITOPS_INGRESS_WEB_<NAME>`` variables given by NAME."""
    return Variables.read({f"GITOPS_INGRESS_WEB_{name}": value for name, value in variables.items()}).web.options()


def test_web_options_from_the_variables() -> None:
    web = Variables.read(
        {
            "GITOPS_INGRESS_WEB_TOKEN": "t",
            "GITOPS_INGRESS_WEB_ANONYMOUS_READ": "false",
            "GITOPS_INGRESS_WEB_GITHUB_REPOSITORY": "acme/routes",
            "GITOPS_INGRESS_WEB_GITHUB_TOKEN": "gh",
            "GITOPS_INGRESS_WEB_ALLOWED_HOSTS": " dash.example.com, *.internal.example.com ,",
        }
    ).web
    options = web.options(listen_host="0.0.0.0")  # an option wins over the variables
    assert options.bearer_token == "t" and options.anonymous_read is False and options.forge.enabled
    assert options.listen_host == "0.0.0.0"
    assert options.allowed_hosts == ("dash.example.com", "*.internal.example.com")
    assert _web().anonymous_read is None
    with pytest.raises(ConfigError, match="both a user and a password"):
        _web(BASIC_USER="ops")


def test_forge_options_from_the_variables() -> None:
    gitlab = _web(
        FORGE="gitlab", FORGE_REPOSITORY="grp/routes", FORGE_TOKEN="glpat", GITHUB_TOKEN="not-for-gitlab"
    ).forge
    assert (gitlab.kind, gitlab.api_url, gitlab.repository, gitlab.token) == (
        "gitlab",
        "https://gitlab.com/api/v4",
        "grp/routes",
        "glpat",
    )
    forgejo = _web(
        FORGE="Forgejo", FORGE_API_URL="https://codeberg.org/api/v1", FORGE_REPOSITORY="acme/routes", FORGE_TOKEN="t"
    ).forge
    assert forgejo.kind == "gitea" and forgejo.enabled
    github = _web(GITHUB_REPOSITORY="a/b", GITHUB_TOKEN="t").forge
    assert (github.kind, github.deployments, github.enabled) == ("github", True, True)
    assert _web(FORGE_DEPLOYMENTS="false").forge.deployments is False
    with pytest.raises(ConfigError, match="needs its API URL"):
        _web(FORGE="gitea", FORGE_REPOSITORY="a/b", FORGE_TOKEN="t")
