"""The team's guard rails from settings: allowed host suffixes, denied annotations, size limits.

These are not Kubernetes rules; they exist so that one team's file cannot claim another team's
domain, smuggle nginx configuration in through ``*-snippet`` annotations (CVE-2021-25742), or make
the proxy's route table unboundedly large.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import LocatedIngress
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.validation.cross import entry_path, http_paths
from gitops_ingress.core.validation.reporter import Reporter


def host_allowed(host: str, suffixes: Sequence[str]) -> bool:
    """``example.com`` allows ``example.com``, ``a.example.com`` and ``*.example.com``."""
    name = host[2:] if host.startswith("*.") else host
    for suffix in suffixes:
        bare = suffix.removeprefix("*.").lstrip(".")
        if not bare or name == bare or name.endswith("." + bare):
            return True
    return False


def host_suffixes(ordered: Sequence[LocatedIngress], environment: str, settings: Settings) -> list[Finding]:
    suffixes = settings.policy.allowed_host_suffixes.get(environment) or ()
    if not suffixes:
        return []
    allowed = ", ".join(suffixes)
    hint = f"environment {environment} may only use hosts under: {allowed}"
    findings: list[Finding] = []
    for item in ordered:
        spec = item.ingress.spec
        if spec is None:
            continue
        for index, rule in enumerate(spec.rules):
            if not rule.host:
                if environment in settings.policy.allow_hostless_rules:
                    continue
                Reporter.on(item, findings).add(
                    "policy/host-not-allowed",
                    ("spec", "rules", index),
                    f"rule {index} has no host, so it matches every host, not only those under {allowed}",
                    hint,
                    severity=Severity.WARNING,
                )
            elif not host_allowed(rule.host, suffixes):
                Reporter.on(item, findings).add(
                    "policy/host-not-allowed",
                    ("spec", "rules", index, "host"),
                    f'host "{rule.host}" is not under the allowed suffixes of {environment} ({allowed})',
                    hint,
                )
        for tls_index, tls in enumerate(spec.tls):
            for host_index, host in enumerate(tls.hosts):
                if not host_allowed(host, suffixes):
                    Reporter.on(item, findings).add(
                        "policy/host-not-allowed",
                        ("spec", "tls", tls_index, "hosts", host_index),
                        f'TLS host "{host}" is not under the allowed suffixes of {environment} ({allowed})',
                        hint,
                    )
    return findings


def denied_annotations(ordered: Sequence[LocatedIngress], settings: Settings) -> list[Finding]:
    patterns = settings.policy.denied_annotations
    if not patterns:
        return []
    findings: list[Finding] = []
    # key -> the first pattern it matches (or None); keys repeat across objects, the answer does not
    # change, and the dict lives only as long as this call.
    matched: dict[str, str | None] = {}
    for item in ordered:
        annotations = item.ingress.metadata.annotations
        if not annotations:
            continue
        for key in annotations:
            if key in matched:
                pattern = matched[key]
            else:
                pattern = matched[key] = next((p for p in patterns if fnmatchcase(key, p)), None)
            if pattern is not None:
                Reporter.on(item, findings).add(
                    "policy/denied-annotation",
                    ("metadata", "annotations", key),
                    f'annotation "{key}" is denied by policy (matches "{pattern}")',
                    "snippet annotations inject raw proxy configuration; use a dedicated annotation instead",
                    name=f"metadata.annotations[{key}]",
                )
    return findings


def limits(ordered: Sequence[LocatedIngress], environment: str, settings: Settings, file_count: int) -> list[Finding]:
    limit = settings.policy.limits
    place = f"{settings.environments_dir}/{environment}"
    findings: list[Finding] = []

    def over(rule: str, message: str) -> Finding:
        return Finding(
            rule=rule,
            severity=Severity.ERROR,
            message=message,
            file=place,
            hint="split the environment or raise the limit in gitops-ingress.yaml (policy.limits)",
        )

    if file_count > limit.max_files:
        findings.append(over("policy/too-many-files", f"{file_count} files, more than the limit of {limit.max_files}"))
    if len(ordered) > limit.max_objects:
        findings.append(
            over(
                "policy/too-many-objects",
                f"{len(ordered)} Ingress objects, more than the limit of {limit.max_objects}",
            )
        )
    counts: dict[str, int] = {}
    for item, host, rule_index, path_index, _entry in http_paths(ordered):
        counts[host] = counts.get(host, 0) + 1
        if counts[host] == limit.max_paths_per_host + 1:
            Reporter.on(item, findings).add(
                "policy/too-many-paths",
                entry_path(rule_index, path_index),
                f'host "{host or "_"}" has more than {limit.max_paths_per_host} paths in {environment}',
                "split the host or raise policy.limits.max_paths_per_host",
            )
    return findings
