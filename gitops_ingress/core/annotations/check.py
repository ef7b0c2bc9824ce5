"""Validation of one Ingress's ingress-nginx annotations.

Findings (rule origin ``annotation/``), each at the annotation's line:

* ``annotation/refused`` (error): a snippet or ``auth-tls-*`` key (registry: refused). A key the
  team's ``policy.denied_annotations`` already denies gets that policy's error instead, not two;
* ``annotation/invalid-value`` (error): the parser's message (ingress-nginx would refuse it too),
  or ``auth-type`` without ``auth-secret``;
* ``annotation/invalid-regex`` (error): a path of a regex Ingress that is no regular expression;
* ``annotation/ignored`` (warning): a known key without effect here, and why;
* ``annotation/unknown`` (warning): a key under the prefix that ingress-nginx does not have.

Only Ingresses that we or ingress-nginx serve are checked (``core/validation``'s class check);
another controller's annotations are its business.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

from gitops_ingress.core.annotations import auth
from gitops_ingress.core.annotations.model import PREFIX, AnnotationValueError, Status
from gitops_ingress.core.annotations.registry import UNKNOWN, lookup, makes_paths_regex
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import LocatedIngress
from gitops_ingress.core.validation.reporter import Reporter


def check_annotations(item: LocatedIngress, denied: Sequence[str]) -> list[Finding]:
    annotations = item.ingress.metadata.annotations
    if not annotations:
        return []
    findings: list[Finding] = []
    report = Reporter.on(item, findings)
    for key, raw in annotations.items():
        spec = lookup(key)
        if spec is None:
            continue
        path = ("metadata", "annotations", key)
        name = f"metadata.annotations[{key}]"
        if spec.status is Status.REFUSED:
            if not any(fnmatchcase(key, pattern) for pattern in denied):
                report.add("annotation/refused", path, f'annotation "{key}" is refused: {spec.note}', "", name=name)
        elif spec.status is Status.IGNORED:
            rule = "annotation/unknown" if spec is UNKNOWN else "annotation/ignored"
            message = f'annotation "{key}" has no effect here: {spec.note}'
            hint = "see docs/migrating-from-ingress-nginx.md"
            report.add(rule, path, message, hint, severity=Severity.WARNING, name=name)
        else:
            try:
                spec.parse(raw)
            except AnnotationValueError as exc:
                report.add("annotation/invalid-value", path, f'annotation "{key}": {exc}', "", name=name)
    if auth.missing_secret(annotations, PREFIX):
        key = PREFIX + "auth-type"
        message = f'annotation "{key}": needs {PREFIX}auth-secret (the route would answer 503, as in ingress-nginx)'
        report.add(
            "annotation/invalid-value",
            ("metadata", "annotations", key),
            message,
            "",
            name=f"metadata.annotations[{key}]",
        )
    if makes_paths_regex(annotations):
        _regex_paths(item, report)
    return findings


def _regex_paths(item: LocatedIngress, report: Reporter) -> None:
    spec = item.ingress.spec
    if spec is None:
        return
    for rule_index, rule in enumerate(spec.rules):
        for path_index, entry in enumerate(rule.http.paths or () if rule.http else ()):
            if entry.path_type == "Exact" or not entry.path:
                continue
            try:
                re.compile(entry.path)
            except re.error as exc:
                report.add(
                    "annotation/invalid-regex",
                    ("spec", "rules", rule_index, "http", "paths", path_index, "path"),
                    f'path "{entry.path}" is not a regular expression ({exc}); use-regex or rewrite-target '
                    "makes every path of this Ingress one",
                    "escape the special characters, or drop use-regex",
                )
