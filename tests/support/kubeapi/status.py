"""v1 Status bodies, shaped and worded like the real API server's, raised as one exception type.

Clients branch on ``code`` and ``reason`` and humans read ``message``; both are copied from the API
server's wording (k8s.io/apimachinery/pkg/api/errors) so that a client tested here reacts the
same way against a real cluster. Every failure inside the stand-in is an :class:`ApiError`; the
HTTP layer turns it into a Status response and nothing else ever reaches the socket.
"""

from __future__ import annotations

from typing import Any

from .resources import ResourceType


class ApiError(Exception):
    """A failure the stand-in answers with a v1 Status of the given code and reason."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def success_status(rt: ResourceType, name: str, uid: str) -> dict[str, Any]:
    """What a DELETE answers for most kinds; ``kind`` holds the resource (plural), as the
    registry's finalizeDelete sets it, and ``group`` is left out for the core group."""
    details = _details(rt, name)
    details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def _details(rt: ResourceType, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": rt.plural}
    if rt.group:
        details["group"] = rt.group
    return details


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))


def stale(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        _details(rt, name),
    )


def apply_conflict(rt: ResourceType, name: str, conflicts: list[tuple[str, str]], api_version: str) -> ApiError:
    """``conflicts`` holds (manager, dotted field path) pairs."""
    lines = [f'conflict with "{m}" using {api_version}: {p}' for m, p in conflicts]
    if len(lines) == 1:
        message = f"Apply failed with 1 conflict: {lines[0]}"
    else:
        message = f"Apply failed with {len(lines)} conflicts: " + "\n".join(f"- {line}" for line in lines)
    details = _details(rt, name)
    details["causes"] = [
        {"reason": "FieldManagerConflict", "message": line, "field": p}
        for line, (_, p) in zip(lines, conflicts, strict=True)
    ]
    return ApiError(409, "Conflict", message, details)


_CAUSE_REASONS = (
    ("Required value", "FieldValueRequired"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Duplicate value", "FieldValueDuplicate"),
    ("Too long", "FieldValueTooLong"),
    ("Too many", "FieldValueTooMany"),
    ("Forbidden", "FieldValueForbidden"),
)


def _cause_reason(message: str) -> str:
    """The CauseType field.Error would carry, recovered from the start of its message."""
    for prefix, reason in _CAUSE_REASONS:
        if message.startswith(prefix):
            return reason
    return "FieldValueInvalid"


def invalid(rt: ResourceType, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """``causes`` holds (field path, message) pairs, as field.ErrorList renders them."""
    joined = ", ".join(f"{f}: {m}" for f, m in causes)
    if len(causes) > 1:
        joined = f"[{joined}]"
    details = _details(rt, name)
    details["kind"] = rt.kind
    details["causes"] = [{"reason": _cause_reason(m), "message": m, "field": f} for f, m in causes]
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {joined}', details)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unsupported_media(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types "
        f"include: application/json-patch+json, application/merge-patch+json, "
        f'application/apply-patch+yaml (got "{content_type}")',
    )


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(rt: ResourceType, user: str, verb: str, namespace: str, name: str) -> ApiError:
    subject = f'{rt.qualified} "{name}"' if name else rt.qualified
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{rt.plural}" in API group "{rt.group}" {scope}'
    )
    details: dict[str, Any] = {"kind": rt.plural}
    if name:
        details["name"] = name
    if rt.group:
        details["group"] = rt.group
    return ApiError(403, "Forbidden", message, details)


def injected(code: int) -> ApiError:
    reasons = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
    return ApiError(code, reasons.get(code, "InternalError"), f"injected failure (stand-in fault, HTTP {code})")
