"""Checks across the Ingress objects of one environment: what no single object can tell.

Objects are visited in (file, line) order so that "the later one" is well defined without
creation timestamps: git has none, and the result must not depend on the order files were read.
Conflicts compare host, path *and* pathType (ingress-nginx compares only the path string), so
Exact and Prefix on the same path may coexist as the Ingress spec intends.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping, Sequence

from gitops_ingress.core.annotations.canary import policy as canary_policy
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import FieldPath, HTTPIngressPath, LocatedIngress
from gitops_ingress.core.routing.compile import default_backend_owners
from gitops_ingress.core.routing.compile import is_ours as class_is_ours
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.validation.reporter import Reporter


def is_ours(item: LocatedIngress, settings: Settings) -> bool:
    """The router's rule (docs/routing.md, rule 1), so validation and routing never disagree on what counts."""
    return class_is_ours(item, settings.ingress_class, settings.serve_ingresses_without_class)


def where(item: LocatedIngress, *path: str | int) -> str:
    return str(item.position(*path))


def in_order(items: Sequence[LocatedIngress]) -> list[LocatedIngress]:
    return sorted(items, key=_order_key)


def _order_key(item: LocatedIngress) -> tuple[str, int, str]:
    return (item.source.file, item.source.marks.get((), (0, 0))[0], item.namespace)


def not_ours(item: LocatedIngress, settings: Settings) -> list[Finding]:
    findings: list[Finding] = []
    Reporter.on(item, findings).add(
        "cross/not-ours",
        ("spec", "ingressClassName"),
        f'ingress {item.key} has class "{item.ingress.class_name}", not "{settings.ingress_class}": not ours, ignored',
        "set spec.ingressClassName to the class this controller serves",
        severity=Severity.NOTICE,
    )
    return findings


def duplicate_names(ordered: Sequence[LocatedIngress]) -> list[Finding]:
    seen: dict[str, LocatedIngress] = {}
    findings: list[Finding] = []
    for item in ordered:
        first = seen.setdefault(item.key, item)
        if first is item:
            continue
        Reporter.on(item, findings).add(
            "cross/duplicate-name",
            ("metadata", "name"),
            f"ingress {item.key} is already defined in {where(first)}",
            "rename one of them; the second would overwrite the first",
        )
    return findings


# pathType -> how it matches; any other value is already an API error and is skipped here.
_MATCH_KINDS = {"Exact": "Exact", "Prefix": "Prefix", "ImplementationSpecific": "Prefix"}


def _is_canary(item: LocatedIngress) -> bool:
    return canary_policy(item.ingress.metadata.annotations) is not None


def http_paths(
    ordered: Sequence[LocatedIngress],
) -> Iterator[tuple[LocatedIngress, str, int, int, HTTPIngressPath]]:
    """Every (object, host or "", rule index, path index, entry) of the objects' rules.

    Indices rather than field paths: only the rare entry that gets a finding needs its field path
    (``entry_path``), and every environment check walks every entry.
    """
    for item in ordered:
        spec = item.ingress.spec
        if spec is None:
            continue
        for rule_index, rule in enumerate(spec.rules):
            if rule.http is None:
                continue
            host = rule.host or ""
            for path_index, entry in enumerate(rule.http.paths or ()):
                yield item, host, rule_index, path_index, entry


def entry_path(rule_index: int, path_index: int) -> FieldPath:
    """The field path of ``spec.rules[rule_index].http.paths[path_index]``."""
    return ("spec", "rules", rule_index, "http", "paths", path_index)


def path_conflicts(ordered: Sequence[LocatedIngress]) -> list[Finding]:
    seen: dict[tuple[str, str, str], tuple[LocatedIngress, int, int]] = {}
    findings: list[Finding] = []
    for item, host, rule_index, path_index, entry in http_paths(ordered):
        kind = _MATCH_KINDS.get(entry.path_type)  # type: ignore[arg-type]
        if kind is None:
            continue
        value = entry.path or ""
        key = (host, value.rstrip("/") if kind == "Prefix" else value, kind)
        first = seen.get(key)
        if first is None:
            seen[key] = (item, rule_index, path_index)
            continue
        if first[0] is item:
            continue
        other = first[0]
        other_field = entry_path(first[1], first[2]) + ("path",)
        field = entry_path(rule_index, path_index) + ("path",)
        text = (
            f'host "{host or "_"}" and path "{value}" ({kind}) is already defined in ingress '
            f"{other.key} ({where(other, *other_field)})"
        )
        if _is_canary(item) != _is_canary(other):
            Reporter.on(item, findings).add(
                "cross/canary-overlap",
                field,
                text + "; allowed because one of them is a canary",
                severity=Severity.NOTICE,
            )
        else:
            Reporter.on(item, findings).add(
                "cross/path-conflict",
                field,
                text,
                "remove one of them, change the path, or mark one as a canary",
            )
    return findings


def default_backends(ordered: Sequence[LocatedIngress], environment: str, severity: str) -> list[Finding]:
    """Several Ingresses with a ``spec.defaultBackend``: routine with GKE, ALB and AGIC, and neither
    the API server nor ingress-nginx refuses it, so a warning (``validation.multiple_default_backends``
    makes it an error, or silent). It names every one and the one the proxy uses: the first of
    ``default_backend_owners``, the route compiler's own rule (by namespace/name; canaries' never)."""
    owners = default_backend_owners(ordered)
    if len(owners) < 2 or severity == "ignore":
        return []
    used = owners[0]
    listing = ", ".join(f"{item.key} ({where(item, 'spec', 'defaultBackend')})" for item in owners)
    findings: list[Finding] = []
    for item in owners[1:]:
        Reporter.on(item, findings).add(
            "cross/default-backend",
            ("spec", "defaultBackend"),
            f"more than one spec.defaultBackend in environment {environment}: {listing}; "
            f"the proxy uses {used.key}'s, the first by namespace/name",
            "keep one defaultBackend per environment, or set validation.multiple_default_backends",
            severity=Severity.ERROR if severity == "error" else Severity.WARNING,
        )
    return findings


def _parent_wildcard(host: str) -> str:
    _, dot, parent = host.partition(".")
    return "*." + parent if dot else ""


def unused_tls_hosts(ordered: Sequence[LocatedIngress]) -> list[Finding]:
    rule_hosts = {
        rule.host for item in ordered if item.ingress.spec is not None for rule in item.ingress.spec.rules if rule.host
    }
    covered_wildcards: set[str] | None = None  # built only if some TLS host needs it
    findings: list[Finding] = []
    for item in ordered:
        spec = item.ingress.spec
        if spec is None:
            continue
        for tls_index, tls in enumerate(spec.tls):
            for host_index, host in enumerate(tls.hosts):
                if host in rule_hosts or _parent_wildcard(host) in rule_hosts:
                    continue
                if covered_wildcards is None:
                    covered_wildcards = {_parent_wildcard(rule_host) for rule_host in rule_hosts}
                if host in covered_wildcards:
                    continue
                Reporter.on(item, findings).add(
                    "cross/tls-host-unused",
                    ("spec", "tls", tls_index, "hosts", host_index),
                    f'TLS host "{host}" is not served by any rule in this environment',
                    "add a rule for the host or remove it from spec.tls",
                    severity=Severity.WARNING,
                )
    return findings


def hosts_in_several_environments(
    environments: Mapping[str, Sequence[LocatedIngress]], settings: Settings
) -> dict[str, list[Finding]]:
    """On the shared proxy a host belongs to one environment. A staging file that declares
    production's host and path would otherwise take production's requests to staging's backend
    (the stable environments are merged into one table). Every claim of such a host is an error
    in its environment, naming every file; ``policy.shared_hosts`` allows a host explicitly.
    Returns the findings by environment."""
    claims: dict[str, dict[str, tuple[LocatedIngress, int]]] = {}
    for name in sorted(environments):
        for item in in_order(environments[name]):
            spec = item.ingress.spec
            if spec is None or not is_ours(item, settings):
                continue
            for index, rule in enumerate(spec.rules):
                if rule.host:
                    claims.setdefault(rule.host.lower(), {}).setdefault(name, (item, index))
    found: dict[str, list[Finding]] = {}
    for host, by_environment in sorted(claims.items()):
        if len(by_environment) < 2 or any(fnmatch.fnmatchcase(host, p) for p in settings.policy.shared_hosts):
            continue
        places = ", ".join(
            f"{name} ({where(item, 'spec', 'rules', index, 'host')})"
            for name, (item, index) in sorted(by_environment.items())
        )
        for name, (item, index) in by_environment.items():
            Reporter.on(item, found.setdefault(name, [])).add(
                "cross/host-in-several-environments",
                ("spec", "rules", index, "host"),
                f"host {host} is claimed by more than one environment: {places}; "
                "on the shared proxy a host belongs to one environment",
                "remove it from all but one environment, or list it in policy.shared_hosts",
            )
    return found
