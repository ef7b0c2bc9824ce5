"""Forge push webhooks: detect the forge, verify the delivery, parse it into a ``PushEvent``.

Pure functions over (headers, raw body bytes): the web layer reads the body with its size cap and
maps ``WebhookError.status`` onto the HTTP answer. The order is fixed and matters: size (413) before
anything else, the signature (401) before the body is parsed (so an unauthenticated sender cannot
make us parse anything), then JSON (400).

Detection reads the forge's own event header in the order Forgejo, Gitea, GitLab, GitHub, because
Gitea and Forgejo also send GitHub's headers with a GitHub-style signature while their bodies
differ. GitHub, Gitea and Forgejo sign the raw body with HMAC-SHA256 (``sha256=<hex>`` in
``X-Hub-Signature-256``, bare hex in ``X-Gitea-Signature``/``X-Forgejo-Signature``); GitLab sends
the shared token itself; the generic endpoint takes ``Authorization: Bearer`` or
``X-Webhook-Token``. Every comparison is constant-time and an empty header counts as missing.

The payload only ever tells us *which branch* moved: URLs in it are never used (the mirror fetches
the configured remote), and the branch name is checked again by the git adapter before use.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs

from gitops_ingress.core.errors import GitopsIngressError

MAX_BODY_BYTES = 1024 * 1024
HEADS = "refs/heads/"
TAGS = "refs/tags/"
_MAX_DELIVERY_ID = 200


class Forge(str, enum.Enum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"
    FORGEJO = "forgejo"
    GENERIC = "generic"


class Action(str, enum.Enum):
    FETCH = "fetch"  # fetch ``branch`` (None: every branch) from the configured remote
    PING = "ping"  # the forge checks the hook: answer, do nothing
    IGNORE = "ignore"  # another event, or a tag: answer 202, do nothing


class WebhookError(GitopsIngressError):
    """A delivery we refuse; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class PushEvent:
    forge: Forge
    event: str  # the forge's event name: "push", "delete", "Push Hook", "System Hook", ...
    delivery_id: str | None
    ref: str | None = None  # full ref, e.g. "refs/heads/main"
    branch: str | None = None  # None for tags, pings, other events and "fetch everything"
    before: str | None = None
    after: str | None = None
    created: bool = False
    deleted: bool = False
    action: Action = Action.FETCH
    reason: str = ""  # why a delivery is ignored


# (event header, signature headers in order of preference, delivery id headers)
_FORGE_HEADERS: dict[Forge, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    Forge.FORGEJO: (
        "x-forgejo-event",
        ("x-forgejo-signature", "x-gitea-signature", "x-hub-signature-256"),
        ("x-forgejo-delivery", "x-gitea-delivery"),
    ),
    Forge.GITEA: ("x-gitea-event", ("x-gitea-signature", "x-hub-signature-256"), ("x-gitea-delivery",)),
    Forge.GITLAB: ("x-gitlab-event", (), ("idempotency-key", "x-gitlab-event-uuid")),
    Forge.GITHUB: ("x-github-event", ("x-hub-signature-256",), ("x-github-delivery",)),
    Forge.GENERIC: ("x-webhook-event", (), ("x-request-id",)),
}


def handle(
    headers: Mapping[str, str],
    body: bytes,
    secret: str | bytes,
    *,
    max_bytes: int = MAX_BODY_BYTES,
) -> PushEvent:
    """Size check, forge detection, verification and parsing of one delivery, in that order."""
    if len(body) > max_bytes:
        raise WebhookError(413, f"the body is {len(body)} bytes, more than the limit of {max_bytes}")
    lowered = _lower(headers)
    forge = detect_forge(lowered)
    verify(forge, lowered, body, secret)
    return parse(forge, lowered, body)


def detect_forge(headers: Mapping[str, str]) -> Forge:
    lowered = _lower(headers)
    for forge, (event_header, _, _) in _FORGE_HEADERS.items():
        if forge is not Forge.GENERIC and lowered.get(event_header, "").strip():
            return forge
    return Forge.GENERIC


def verify(forge: Forge, headers: Mapping[str, str], body: bytes, secret: str | bytes) -> None:
    """Raise ``WebhookError(401)`` unless the delivery carries the right signature or token."""
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise WebhookError(401, f"no webhook secret is configured for {forge.value} deliveries")
    lowered = _lower(headers)
    if forge is Forge.GITLAB:
        _check_token(lowered.get("x-gitlab-token", ""), key, "X-Gitlab-Token")
    elif forge is Forge.GENERIC:
        bearer = lowered.get("authorization", "").strip()
        token = bearer[7:] if bearer[:7].lower() == "bearer " else lowered.get("x-webhook-token", "")
        _check_token(token, key, "Authorization: Bearer or X-Webhook-Token")
    else:
        _check_signature(forge, lowered, body, key)


def parse(forge: Forge, headers: Mapping[str, str], body: bytes) -> PushEvent:
    """Turn a verified delivery into a ``PushEvent``; ``WebhookError(400)`` for a malformed body."""
    lowered = _lower(headers)
    event_header, _, id_headers = _FORGE_HEADERS[forge]
    event = lowered.get(event_header, "").strip() or ("push" if forge is Forge.GENERIC else "")
    ids = (lowered.get(name, "").strip() for name in id_headers)
    delivery_id = next((value[:_MAX_DELIVERY_ID] for value in ids if value), None)
    base = PushEvent(forge=forge, event=event, delivery_id=delivery_id)
    if forge is Forge.GENERIC and not body.strip():
        return base  # an empty generic delivery: fetch every branch
    payload = _payload(lowered, body)
    if forge is Forge.GITLAB:
        kind = payload.get("object_kind") or payload.get("event_name")
        return _push(base, payload) if kind == "push" else _ignored(base, f"GitLab {kind or event} event")
    if event == "ping" and forge is not Forge.GENERIC:
        return replace(base, action=Action.PING)
    if event == "push":
        if forge is Forge.GENERIC and "ref" not in payload:
            return base
        return _push(base, payload)
    if event in ("create", "delete") and forge is not Forge.GENERIC:
        return _create_or_delete(base, payload, deleted=event == "delete")
    return _ignored(base, f"{forge.value} {event or 'unnamed'} event")


# -- verification ----------------------------------------------------------------------------------


def _check_token(given: str, key: bytes, header: str) -> None:
    if not given.strip():
        raise WebhookError(401, f"missing token ({header})")
    if not hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), key):
        raise WebhookError(401, f"wrong token ({header})")


def _check_signature(forge: Forge, headers: Mapping[str, str], body: bytes, key: bytes) -> None:
    names = _FORGE_HEADERS[forge][1]
    for name in names:
        given = headers.get(name, "").strip()
        if name == "x-hub-signature-256":
            if not given.startswith("sha256="):
                continue
            given = given[len("sha256=") :]
        if not given:
            continue
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.lower().encode("ascii", "replace"), expected.encode("ascii")):
            raise WebhookError(401, f"wrong signature ({_title(name)})")
        return
    raise WebhookError(401, f"missing signature ({', '.join(_title(n) for n in names)})")


# -- parsing ---------------------------------------------------------------------------------------


def _payload(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if content_type == "application/x-www-form-urlencoded" or text.startswith("payload="):
            form = parse_qs(text, strict_parsing=False, max_num_fields=16)
            if "payload" not in form:
                raise WebhookError(400, "a form-encoded delivery needs a 'payload' field")
            text = form["payload"][0]
        data = json.loads(text)
    except WebhookError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WebhookError(400, f"the body is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise WebhookError(400, f"the body is a JSON {type(data).__name__}, not an object")
    return data


def _push(base: PushEvent, payload: Mapping[str, Any]) -> PushEvent:
    ref = _string(payload, "ref", required=True)
    before = _string(payload, "before")
    after = _string(payload, "after")
    created = bool(payload.get("created")) or _all_zero(before)
    deleted = bool(payload.get("deleted")) or _all_zero(after)
    event = replace(base, ref=ref, before=before, after=after, created=created, deleted=deleted)
    if ref.startswith(HEADS) and len(ref) > len(HEADS):
        return replace(event, branch=ref[len(HEADS) :])
    return _ignored(event, "a tag" if ref.startswith(TAGS) else f"not a branch ({ref[:80]!r})")


def _create_or_delete(base: PushEvent, payload: Mapping[str, Any], *, deleted: bool) -> PushEvent:
    """GitHub/Gitea ``create``/``delete``: a short name (a full one from Forgejo hooks) and ref_type."""
    name = _string(payload, "ref", required=True)
    ref_type = payload.get("ref_type")
    if name.startswith(HEADS):
        name, ref_type = name[len(HEADS) :], "branch"
    elif name.startswith(TAGS):
        name, ref_type = name[len(TAGS) :], "tag"
    prefix = HEADS if ref_type == "branch" else TAGS
    event = replace(base, ref=prefix + name, created=not deleted, deleted=deleted)
    if ref_type != "branch" or not name:
        return _ignored(event, f"a {ref_type} was {'deleted' if deleted else 'created'}, not a branch")
    return replace(event, branch=name)


def _string(payload: Mapping[str, Any], field: str, *, required: bool = False) -> str:
    value = payload.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise WebhookError(400, f"the body's '{field}' must be a non-empty string")
    return value


def _all_zero(sha: str) -> bool:
    return bool(sha) and sha.strip("0") == ""


def _ignored(event: PushEvent, reason: str) -> PushEvent:
    return replace(event, branch=None, action=Action.IGNORE, reason=reason)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))
