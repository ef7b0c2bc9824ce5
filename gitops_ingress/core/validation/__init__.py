"""Validation entry points: per object (API server + ingress-nginx webhook) and per environment.

``validate_ingress`` runs on one parsed object and depends only on the object and settings, so its
result can be cached with the parse of the file. ``validate_environment`` needs every object of an
environment at once (conflicts, duplicates, limits) and is cheap enough to rerun on every commit.
``validate_manifest`` is the API server's answer for a raw request body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gitops_ingress.core.annotations.check import check_annotations
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import IngressClass, LocatedIngress, SourceMap
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.validation import cross, policy
from gitops_ingress.core.validation.api import check_ingress, check_ingress_class
from gitops_ingress.core.validation.nginx import inspect_ingress
from gitops_ingress.core.validation.schema import INGRESS_SCHEMA, read_document

REQUEST_FILE = "<request>"

__all__ = [
    "REQUEST_FILE",
    "is_ours",
    "served_by_us_or_nginx",
    "validate_across_environments",
    "validate_environment",
    "validate_ingress",
    "validate_ingress_class",
    "validate_manifest",
]

is_ours = cross.is_ours


# The class ingress-nginx serves by default: its admission checks matter to Ingresses of that class
# too, since users migrate them to us as they are.
NGINX_CLASS = "nginx"


def served_by_us_or_nginx(item: LocatedIngress, settings: Settings) -> bool:
    """Whether ingress-nginx's rules and annotations concern this Ingress at all."""
    return cross.is_ours(item, settings) or item.ingress.class_name == NGINX_CLASS


def validate_ingress(item: LocatedIngress, settings: Settings) -> list[Finding]:
    """The API server's checks on every Ingress, plus ingress-nginx's per-object admission checks
    on the Ingresses that we or ingress-nginx would serve (an ALB or AGIC Ingress's ``/*`` path is
    its controller's business, not a warning of ours), and on those the annotation registry's
    checks (core/annotations/check.py)."""
    validation = settings.validation
    key = item.key
    findings = check_ingress(item.ingress, item.source, key, validation.strict_service_names)
    if served_by_us_or_nginx(item, settings):
        findings.extend(inspect_ingress(item.ingress, item.source, key, validation.strict_path_charset))
        findings.extend(check_annotations(item, settings.policy.denied_annotations))
    return findings


def validate_ingress_class(item: IngressClass, source: SourceMap) -> list[Finding]:
    return check_ingress_class(item, source)


def validate_manifest(manifest: Mapping[str, Any], strict_service_names: bool = False) -> list[Finding]:
    """API-server rules on a raw Ingress body; findings carry no positions (file ``<request>``)."""
    try:
        data = json.loads(json.dumps(manifest))  # the type walk drops nulls; never touch the caller's dict
    except (TypeError, ValueError) as exc:
        return [_request_error(f"the body is not a JSON object: {exc}")]
    if not isinstance(data, dict):
        return [_request_error("the body is not a JSON object")]
    source = SourceMap(REQUEST_FILE)
    meta = data.get("metadata")
    key = ""
    if isinstance(meta, dict):
        key = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
    ingress, findings = read_document(data, INGRESS_SCHEMA, source, key, None)
    if ingress is None:
        return findings
    return check_ingress(ingress, source, key, strict_service_names)


def _request_error(message: str) -> Finding:
    return Finding(rule="schema/type", severity=Severity.ERROR, message=message, file=REQUEST_FILE)


def validate_environment(
    ingresses: Sequence[LocatedIngress], environment: str, settings: Settings, file_count: int
) -> list[Finding]:
    """Cross-object and policy checks over every Ingress of one environment."""
    ordered = cross.in_order(ingresses)
    findings = cross.duplicate_names(ordered)
    ours: list[LocatedIngress] = []
    for item in ordered:
        if cross.is_ours(item, settings):
            ours.append(item)
        else:
            findings.extend(cross.not_ours(item, settings))
    findings.extend(cross.path_conflicts(ours))
    findings.extend(cross.default_backends(ours, environment, settings.validation.multiple_default_backends))
    findings.extend(cross.unused_tls_hosts(ours))
    findings.extend(policy.host_suffixes(ours, environment, settings))
    findings.extend(policy.denied_annotations(ours, settings))
    findings.extend(policy.limits(ours, environment, settings, file_count))
    return findings


def validate_across_environments(
    environments: Mapping[str, Sequence[LocatedIngress]], settings: Settings
) -> dict[str, list[Finding]]:
    """Checks over every environment of one tree at once, by environment (one proxy serves them all)."""
    return cross.hosts_in_several_environments(environments, settings)
