"""Settings from the bytes of ``gitops-ingress.yaml``: the one function that parses and merges them.

Every command uses it, wherever the file came from: a folder found by ``gitops_ingress.fs``'s
search (``validate``, ``routes``, ``diff``, ``proxy``), a commit (``--ref``), or the stable
branch's head in the mirror (``serve``). Where the file is found is documented in
docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.loading import load_yaml_mapping_document
from gitops_ingress.core.settings import SETTINGS_FILE, Settings, deep_merge, settings_of
from gitops_ingress.core.validation.reporter import Reporter


def _settings_error(message: str, file: str) -> Finding:
    return Finding(rule="config/settings", severity=Severity.ERROR, message=message, file=file)


def read_settings(
    files: Mapping[str, bytes],
    base: Settings | None = None,
    variables: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    shown_as: str = SETTINGS_FILE,
) -> tuple[Settings, list[Finding]]:
    """Settings from ``gitops-ingress.yaml`` (if present) over ``base``, then the ``GITOPS_INGRESS_*``
    variables (nested like the file: cli/variables.py reads them) and the options.

    A broken settings file is the repository's fault: it becomes findings (with its line) and the
    file is ignored. Bad environment variables or overrides are the operator's: ConfigError.
    Findings name the file ``shown_as`` (the path it was found at).
    """
    start = base or Settings()
    base_layer = dataclasses.asdict(start) if base is not None else {}
    file_layer: dict[str, Any] = {}
    findings: list[Finding] = []
    raw = files.get(SETTINGS_FILE)
    if raw is not None:
        document, loaded = load_yaml_mapping_document(shown_as, raw, start.policy.limits)
        findings.extend(loaded)
        if document is not None and not isinstance(document.data, dict):
            findings.append(_settings_error(f"{shown_as} must be a mapping", shown_as))
        elif document is not None:
            checked, errors = settings_of(deep_merge(base_layer, document.data))
            if checked is not None:
                file_layer = document.data
            else:
                report = Reporter(document.source, "")
                for path, message in errors:
                    report.add(
                        "config/settings",
                        path,
                        f"{'.'.join(str(part) for part in path)}: {message}",
                        "see the settings reference; the file is ignored until fixed",
                    )
                findings.extend(report.findings)
    try:
        settings = Settings.build(deep_merge(base_layer, file_layer), variables, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (from GITOPS_INGRESS_* variables or options)") from exc
    return settings, findings
