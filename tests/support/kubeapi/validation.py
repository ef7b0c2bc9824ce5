"""Object validation that answers 422 Invalid, worded like the API server.

Ingresses go through gitops-ingress's own ``validate_manifest`` (core.validation), so the stand-in
rejects exactly what our validator says the API server rejects, and a client tested here meets the
same 422s it will meet on a cluster. For every other kind only the metadata.name rules are checked.
"""

from __future__ import annotations

import re
from typing import Any

from .resources import ResourceType

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character "
    "(e.g. 'example.com', regex used for validation is '" + _DNS1123_SUBDOMAIN + "')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
    "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
    "'123-abc', regex used for validation is '" + _DNS1123_LABEL + "')"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character "
    "(e.g. 'my-name',  or 'abc-123', regex used for validation is '" + _DNS1035_LABEL + "')"
)

Cause = tuple[str, str]


def _name_rule(rt: ResourceType) -> tuple[str, str, int]:
    if rt.plural == "namespaces":
        return _DNS1123_LABEL, _LABEL_MSG, 63
    if rt.plural == "services":
        return _DNS1035_LABEL, _DNS1035_MSG, 63
    return _DNS1123_SUBDOMAIN, _SUBDOMAIN_MSG, 253


def check_name(rt: ResourceType, name: str) -> list[Cause]:
    if not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    pattern, message, limit = _name_rule(rt)
    causes = []
    if len(name) > limit:
        causes.append(("metadata.name", f'Invalid value: "{name}": must be no more than {limit} characters'))
    if not re.fullmatch(pattern, name):
        causes.append(("metadata.name", f'Invalid value: "{name}": {message}'))
    return causes


def validate(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    """Causes of a 422 for ``obj`` (empty when valid)."""
    if rt.kind == "Ingress" and rt.group == "networking.k8s.io":
        # Imported on first use: it loads pydantic models, and the stand-in should start fast.
        from gitops_ingress.core.findings import Severity
        from gitops_ingress.core.validation import validate_manifest

        causes: list[Cause] = []
        for finding in validate_manifest(obj):
            if finding.severity is not Severity.ERROR:
                continue
            field = finding.field or "spec"
            # Findings repeat the field in front of the message, as field.Error.Error() does;
            # a Status cause carries the two apart.
            message = finding.message.removeprefix(f"{field}: ")
            if (field, message) not in causes:
                causes.append((field, message))
        return causes
    return check_name(rt, str(obj.get("metadata", {}).get("name") or ""))
