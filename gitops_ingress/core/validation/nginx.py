"""What ingress-nginx's admission webhook adds on one object.

Deep inspection rejects nginx-directive and file-path patterns in hosts, paths and secret names
(they were the way into CVE-2021-25742-style config injection); the patterns are the controller's
own. The strict path charset (``strict-validate-path-type``) is a warning here, not an error: the
API server accepts such paths and only ingress-nginx refuses them.

Nearly every value is clean, so one combined regular expression of the literals that each pattern
needs (``_SUSPECT``) screens a value first, and only a value it matches goes through the
controller's patterns one by one, which pick the message. A test feeds every pattern to the screen.
"""

from __future__ import annotations

import re

from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.models import FieldPath, Ingress, SourceMap
from gitops_ingress.core.validation.reporter import Reporter

_FORBIDDEN = (
    re.compile(r"(?s)\s*alias\s*.*;"),
    re.compile(r"(?s)\s*root\s*.*;"),
    re.compile(r"/etc/(passwd|shadow|group|nginx|ingress-controller)"),
    re.compile(r"/var/run/secrets"),
    re.compile(r".*_by_lua.*"),
)
# Each pattern above matches only text that contains one of these literals, so a value without any
# of them cannot match any pattern; the screen only decides whether to run the patterns at all.
_SUSPECT = re.compile(r"alias|root|/etc/|/var/run/secrets|_by_lua")
_STRICT_PATH = re.compile(r"/[A-Za-z0-9._/-]*\Z")


def inspect_ingress(ingress: Ingress, source: SourceMap, key: str, strict_path_charset: bool) -> list[Finding]:
    spec = ingress.spec
    if spec is None:
        return []
    report = Reporter(source, key)
    suspect = _SUSPECT.search
    # A field's path is made only for a value the screen or the charset picks out: nearly every
    # value is clean, and building each one's path took most of the time of a clean object.
    for index, rule in enumerate(spec.rules):
        if rule.host and suspect(rule.host):
            _deep(report, rule.host, ("spec", "rules", index, "host"))
        if rule.http is None:
            continue
        for path_index, item in enumerate(rule.http.paths or ()):
            value = item.path
            if not value:
                continue
            if suspect(value):
                _deep(report, value, ("spec", "rules", index, "http", "paths", path_index, "path"))
            if strict_path_charset and item.path_type in ("Exact", "Prefix") and not _STRICT_PATH.match(value):
                report.add(
                    "nginx/path-charset",
                    ("spec", "rules", index, "http", "paths", path_index, "path"),
                    f"ingress contains invalid paths: path {value} cannot be used with pathType {item.path_type}",
                    "ingress-nginx only allows letters, digits and . _ / - in Exact and Prefix paths; "
                    "use ImplementationSpecific for anything else",
                    severity=Severity.WARNING,
                )
    for index, tls in enumerate(spec.tls):
        for host_index, host in enumerate(tls.hosts):
            if host and suspect(host):
                _deep(report, host, ("spec", "tls", index, "hosts", host_index))
        if tls.secret_name and suspect(tls.secret_name):
            _deep(report, tls.secret_name, ("spec", "tls", index, "secretName"))
    return report.findings


def _deep(report: Reporter, value: str, path: FieldPath) -> None:
    """The finding of the first of the controller's patterns that ``value`` (which the screen,
    ``_SUSPECT``, picked out) matches, if any."""
    for pattern in _FORBIDDEN:
        if pattern.search(value):  # Go's MatchString is unanchored
            report.add(
                "nginx/deep-inspection",
                path,
                f"invalid value found: {value}",
                f"ingress-nginx rejects values matching {pattern.pattern!r} (nginx config injection)",
            )
            return
