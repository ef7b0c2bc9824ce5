"""A whole configuration (settings + every environment's Ingresses) from a map of file contents.

The input is ``repo-relative POSIX path -> bytes`` whatever the source (a folder, a git tree, a
CLI argument list), so the same function serves ``validate``, the sync engine and the proxy's
file mode. Parsing is injectable: the sync engine passes a parse cached by blob SHA, and the result
is the same as with the plain one because ``parse_file`` is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.core.findings import Finding, Severity, has_errors, sorted_findings
from gitops_ingress.core.loading import load_yaml_mapping_document
from gitops_ingress.core.models import IngressClass, LocatedIngress
from gitops_ingress.core.objects import ParsedFile, parse_file
from gitops_ingress.core.settings import SETTINGS_FILE, Settings, deep_merge
from gitops_ingress.core.validation import validate_environment
from gitops_ingress.core.validation.reporter import Reporter

Parse = Callable[[str, bytes, str, Settings], ParsedFile]
YAML_SUFFIXES = (".yaml", ".yml")
DEFAULT_ENVIRONMENT = "default"


@dataclass(frozen=True, slots=True)
class EnvironmentConfig:
    name: str
    ingresses: tuple[LocatedIngress, ...]
    findings: tuple[Finding, ...]  # everything for this environment, sorted
    files: tuple[str, ...]
    classes: tuple[IngressClass, ...] = ()

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)


@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    settings: Settings
    environments: Mapping[str, EnvironmentConfig]  # sorted by name
    findings: tuple[Finding, ...]  # repository-level: settings file, layout, no YAML

    @property
    def ok(self) -> bool:
        return not has_errors(self.all_findings())

    def all_findings(self) -> list[Finding]:
        found = list(self.findings)
        for environment in self.environments.values():
            found.extend(environment.findings)
        return sorted_findings(found)


def _repo_error(rule: str, message: str, file: str, hint: str = "", severity: Severity = Severity.ERROR) -> Finding:
    return Finding(rule=rule, severity=severity, message=message, file=file, hint=hint)


def read_settings(
    files: Mapping[str, bytes],
    base: Settings | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Settings, list[Finding]]:
    """Settings from ``gitops-ingress.yaml`` (if present) over ``base``, then environ and overrides.

    A broken settings file is the repository's fault: it becomes findings (with its line) and the
    file is ignored. Bad environment variables or overrides are the operator's: ConfigError.
    """
    start = base or Settings()
    base_layer = start.model_dump(mode="json") if base is not None else {}
    file_layer: dict[str, Any] = {}
    findings: list[Finding] = []
    raw = files.get(SETTINGS_FILE)
    if raw is not None:
        document, loaded = load_yaml_mapping_document(SETTINGS_FILE, raw, start.policy.limits)
        findings.extend(loaded)
        if document is not None and not isinstance(document.data, dict):
            findings.append(_repo_error("config/settings", f"{SETTINGS_FILE} must be a mapping", SETTINGS_FILE))
        elif document is not None:
            try:
                Settings.model_validate(deep_merge(base_layer, document.data))
                file_layer = document.data
            except ValidationError as exc:
                report = Reporter(document.source, "")
                for error in exc.errors():
                    path = tuple(part for part in error["loc"] if isinstance(part, (str, int)))
                    report.add(
                        "config/settings",
                        path,
                        f"{'.'.join(str(part) for part in path)}: {error['msg']}",
                        "see the settings reference; the file is ignored until fixed",
                    )
                findings.extend(report.findings)
    try:
        settings = Settings.build(deep_merge(base_layer, file_layer), environ, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (from GITOPS_INGRESS_* variables or options)") from exc
    return settings, findings


def environment_of(path: str, settings: Settings) -> str | None:
    """``environments/<env>/...`` -> ``<env>``; None for files outside an environment folder."""
    prefix = settings.environments_dir.strip("/") + "/"
    if not path.startswith(prefix):
        return None
    env, sep, _rest = path[len(prefix) :].partition("/")
    return env if sep and env else None


def is_yaml(path: str) -> bool:
    return path.endswith(YAML_SUFFIXES) and path.rsplit("/", 1)[-1] != SETTINGS_FILE


def load_snapshot(
    files: Mapping[str, bytes],
    settings: Settings,
    *,
    environment: str | None = None,
    parse: Parse = parse_file,
) -> ConfigSnapshot:
    """Every environment under ``settings.environments_dir`` (or only ``environment``)."""
    groups: dict[str, dict[str, bytes]] = {}
    findings: list[Finding] = []
    for path in sorted(files):
        if not is_yaml(path):
            continue
        env = environment_of(path, settings)
        if env is None:
            if path.startswith(settings.environments_dir.strip("/") + "/"):
                findings.append(
                    _repo_error(
                        "config/layout",
                        f"{path} is not inside an environment folder ({settings.environments_dir}/<env>/); ignored",
                        path,
                        "move it into a folder named after its environment",
                        Severity.WARNING,
                    )
                )
            continue
        groups.setdefault(env, {})[path] = files[path]
    return _snapshot(groups, settings, environment, parse, findings, settings.environments_dir)


def snapshot_from_files(
    files: Mapping[str, bytes],
    settings: Settings,
    *,
    environment: str | None = None,
    default_environment: str = DEFAULT_ENVIRONMENT,
    parse: Parse = parse_file,
) -> ConfigSnapshot:
    """Loose files given on the command line, as paths the way the user wrote them.

    A file whose path contains ``<environments_dir>/<env>/`` anywhere (``environments/prod/a.yaml``,
    ``/tmp/repo/environments/prod/a.yaml``) belongs to ``<env>``; every other file belongs to
    ``default_environment`` ("default").
    """
    marker = "/" + settings.environments_dir.strip("/") + "/"
    groups: dict[str, dict[str, bytes]] = {}
    for path in sorted(files):
        if not path.endswith(YAML_SUFFIXES):
            continue
        env = default_environment
        _head, sep, rest = ("/" + path).rpartition(marker)
        if sep:
            name, slash, _tail = rest.partition("/")
            if slash and name:
                env = name
        groups.setdefault(env, {})[path] = files[path]
    return _snapshot(groups, settings, environment, parse, [], ", ".join(sorted(files)) or ".")


def _snapshot(
    groups: dict[str, dict[str, bytes]],
    settings: Settings,
    environment: str | None,
    parse: Parse,
    findings: list[Finding],
    where: str,
) -> ConfigSnapshot:
    if not groups:
        findings.append(
            _repo_error(
                "config/no-yaml",
                f"no Ingress YAML files (*.yaml, *.yml) found in {where}",
                where,
                f"put Ingress files under {settings.environments_dir}/<environment>/",
            )
        )
    elif environment is not None and environment not in groups:
        findings.append(
            _repo_error(
                "config/unknown-environment",
                f'environment "{environment}" has no files; known: {", ".join(sorted(groups))}',
                where,
            )
        )
    environments: dict[str, EnvironmentConfig] = {}
    for name in sorted(groups):
        if environment is None or name == environment:
            environments[name] = build_environment(name, groups[name], settings, parse)
    return ConfigSnapshot(settings=settings, environments=environments, findings=tuple(sorted_findings(findings)))


def build_environment(
    name: str, files: Mapping[str, bytes], settings: Settings, parse: Parse = parse_file
) -> EnvironmentConfig:
    """Parse every file of one environment, then run the cross-object and policy checks."""
    ingresses: list[LocatedIngress] = []
    classes: list[IngressClass] = []
    findings: list[Finding] = []
    for path in sorted(files):
        parsed = parse(path, files[path], name, settings)
        ingresses.extend(parsed.ingresses)
        classes.extend(parsed.classes)
        findings.extend(parsed.findings)
    findings.extend(validate_environment(ingresses, name, settings, len(files)))
    return EnvironmentConfig(
        name=name,
        ingresses=tuple(ingresses),
        findings=tuple(sorted_findings(findings)),
        files=tuple(sorted(files)),
        classes=tuple(classes),
    )
