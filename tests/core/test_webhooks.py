"""Webhook detection, verification and parsing against the forges' own published payloads.

The payloads in tests/data/webhook-payloads/ are byte-for-byte copies of what GitHub, GitLab, Gitea
and Forgejo publish (see its README); we sign their raw bytes with a test secret, with the headers
each forge really sends (Gitea and Forgejo send GitHub's headers too).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from gitops_ingress.core.webhooks import (
    MAX_BODY_BYTES,
    Action,
    Forge,
    PushEvent,
    WebhookError,
    detect_forge,
    handle,
    verify,
)

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "webhook-payloads"
SECRET = "test-secret-äß"
ZERO = "0" * 40


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(body: bytes, event: str, delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958") -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256=" + sign(body),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
    }


def gitea_headers(body: bytes, event: str, delivery: str = "gitea-1") -> dict[str, str]:
    # Gitea's addDefaultHeaders: its own headers, the Gogs copies, and GitHub's, all filled in.
    signature = sign(body)
    return {
        "X-Gitea-Delivery": delivery,
        "X-Gitea-Event": event,
        "X-Gitea-Event-Type": event,
        "X-Gitea-Signature": signature,
        "X-Gogs-Delivery": delivery,
        "X-Gogs-Event": event,
        "X-Gogs-Signature": signature,
        "X-Hub-Signature": "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + signature,
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": event,
        "Content-Type": "application/json",
    }


def forgejo_headers(body: bytes, event: str, delivery: str = "forgejo-1") -> dict[str, str]:
    headers = gitea_headers(body, event, delivery)
    headers.update(
        {
            "X-Forgejo-Delivery": delivery,
            "X-Forgejo-Event": event,
            "X-Forgejo-Event-Type": event,
            "X-Forgejo-Signature": sign(body),
        }
    )
    return headers


def gitlab_headers(event: str, token: str = SECRET) -> dict[str, str]:
    return {
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": token,
        "Idempotency-Key": "b1e1b4f0-1f8a-4bd5-9d7c-000000000001",
        "X-Gitlab-Event-UUID": "recursion-id",
        "X-Gitlab-Webhook-UUID": "per-request",
        "Content-Type": "application/json",
    }


# -- the published vector and verification ---------------------------------------------------------


def test_github_published_test_vector() -> None:
    body = b"Hello, World!"
    good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    verify(Forge.GITHUB, {"X-Hub-Signature-256": good}, body, "It's a Secret to Everybody")
    with pytest.raises(WebhookError) as caught:
        verify(Forge.GITHUB, {"X-Hub-Signature-256": good}, body + b" ", "It's a Secret to Everybody")
    assert caught.value.status == 401


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=", "sha1=" + "0" * 40, "sha256=" + "0" * 64, "sha256=zz", "sha256=" + sign(b"other")],
)
def test_github_missing_or_wrong_signature_is_401(signature: str | None) -> None:
    body = payload("github/push-branch-update.json")
    headers = github_headers(body, "push")
    del headers["X-Hub-Signature-256"]
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    with pytest.raises(WebhookError) as caught:
        handle(headers, body, SECRET)
    assert caught.value.status == 401
    assert "signature" in caught.value.message


def test_signature_checked_before_the_body_is_parsed() -> None:
    with pytest.raises(WebhookError) as caught:
        handle({"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "1" * 64}, b"{not json", SECRET)
    assert caught.value.status == 401


def test_uppercase_hex_signature_is_accepted() -> None:
    body = payload("github/push-branch-update.json")
    headers = github_headers(body, "push")
    headers["X-Hub-Signature-256"] = "sha256=" + sign(body).upper()
    assert handle(headers, body, SECRET).branch == "changes"


def test_empty_secret_refuses_everything() -> None:
    body = payload("github/push-branch-update.json")
    with pytest.raises(WebhookError) as caught:
        handle(github_headers(body, "push"), body, "")
    assert caught.value.status == 401


def test_gitea_empty_signature_headers_count_as_missing() -> None:
    # Gitea without a secret sends X-Gitea-Signature: "" and X-Hub-Signature-256: "sha256="
    body = payload("gitea/push-branch-update.json")
    headers = gitea_headers(body, "push")
    headers["X-Gitea-Signature"] = ""
    headers["X-Hub-Signature-256"] = "sha256="
    with pytest.raises(WebhookError) as caught:
        handle(headers, body, SECRET)
    assert caught.value.status == 401
    assert "missing" in caught.value.message


def test_gitea_wrong_own_signature_is_not_rescued_by_the_github_header() -> None:
    body = payload("gitea/push-branch-update.json")
    headers = gitea_headers(body, "push")
    headers["X-Gitea-Signature"] = sign(body, "another secret")
    with pytest.raises(WebhookError) as caught:
        handle(headers, body, SECRET)
    assert caught.value.status == 401


def test_gitea_signature_is_plain_hex_not_prefixed() -> None:
    body = payload("gitea/push-branch-update.json")
    headers = {"X-Gitea-Event": "push", "X-Gitea-Signature": "sha256=" + sign(body)}
    with pytest.raises(WebhookError):
        handle(headers, body, SECRET)
    headers["X-Gitea-Signature"] = sign(body)
    assert handle(headers, body, SECRET).branch == "develop"


@pytest.mark.parametrize("token", ["", "wrong", SECRET + " extra", SECRET.upper()])
def test_gitlab_missing_or_wrong_token_is_401(token: str) -> None:
    body = payload("gitlab/push-branch-update.json")
    with pytest.raises(WebhookError) as caught:
        handle(gitlab_headers("Push Hook", token), body, SECRET)
    assert caught.value.status == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {SECRET}"},
        {"authorization": f"bearer {SECRET}"},
        {"X-Webhook-Token": SECRET},
    ],
)
def test_generic_token_accepted(headers: dict[str, str]) -> None:
    event = handle(headers | {"X-Request-Id": "r-1"}, b"", SECRET)
    assert (event.forge, event.action, event.branch, event.delivery_id) == (Forge.GENERIC, Action.FETCH, None, "r-1")


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET}, {"X-Webhook-Token": ""}]
)
def test_generic_without_the_token_is_401(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookError) as caught:
        handle(headers, b'{"ref": "refs/heads/main"}', SECRET)
    assert caught.value.status == 401


# -- detection ---------------------------------------------------------------------------------------


def test_detection_prefers_the_forges_own_header() -> None:
    body = b"{}"
    assert detect_forge(forgejo_headers(body, "push")) is Forge.FORGEJO
    assert detect_forge(gitea_headers(body, "push")) is Forge.GITEA
    assert detect_forge(gitlab_headers("Push Hook")) is Forge.GITLAB
    assert detect_forge(github_headers(body, "push")) is Forge.GITHUB
    assert detect_forge({"x-github-event": "push"}) is Forge.GITHUB
    assert detect_forge({"X-Gitea-Event": "", "X-GitHub-Event": "push"}) is Forge.GITHUB
    assert detect_forge({"Authorization": "Bearer x"}) is Forge.GENERIC


# -- parsing the published payloads -------------------------------------------------------------------


def test_github_push_branch_update() -> None:
    body = payload("github/push-branch-update.json")
    event = handle(github_headers(body, "push"), body, SECRET)
    assert event == PushEvent(
        forge=Forge.GITHUB,
        event="push",
        delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
        ref="refs/heads/changes",
        branch="changes",
        before="9049f1265b7d61be4a8904a9a27120d2064dab3b",
        after="0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
        created=False,
        deleted=False,
        action=Action.FETCH,
    )


@pytest.mark.parametrize("name", ["github/push-branch-create.json", "github/push-branch-create-forced.json"])
def test_github_push_creating_a_branch(name: str) -> None:
    body = payload(name)
    event = handle(github_headers(body, "push"), body, SECRET)
    assert event.action is Action.FETCH
    assert event.created and not event.deleted
    assert event.before == ZERO
    assert event.branch in ("master", "changes")


def test_github_push_deleting_a_tag_is_ignored() -> None:
    body = payload("github/push-tag-delete.json")
    event = handle(github_headers(body, "push"), body, SECRET)
    assert (event.action, event.branch, event.ref, event.deleted) == (
        Action.IGNORE,
        None,
        "refs/tags/simple-tag",
        True,
    )
    assert "tag" in event.reason


def test_github_push_deleting_a_branch() -> None:
    # GitHub publishes no branch-delete push; the README says it has the tag-delete shape with refs/heads/
    data = json.loads(payload("github/push-tag-delete.json"))
    data["ref"] = "refs/heads/feature/login"
    body = json.dumps(data).encode()
    event = handle(github_headers(body, "push"), body, SECRET)
    assert (event.action, event.branch, event.deleted, event.after) == (Action.FETCH, "feature/login", True, ZERO)


@pytest.mark.parametrize("event_name", ["create", "delete"])
def test_github_create_and_delete_of_a_tag_are_ignored(event_name: str) -> None:
    body = payload(f"github/{event_name}-tag.json")
    event = handle(github_headers(body, event_name), body, SECRET)
    assert event.action is Action.IGNORE
    assert event.ref == "refs/tags/simple-tag"
    assert event.branch is None


@pytest.mark.parametrize("event_name", ["create", "delete"])
def test_github_create_and_delete_of_a_branch_use_the_short_name(event_name: str) -> None:
    data = json.loads(payload(f"github/{event_name}-tag.json"))
    data.update(ref="feature/x", ref_type="branch")
    body = json.dumps(data).encode()
    event = handle(github_headers(body, event_name), body, SECRET)
    assert (event.action, event.branch, event.ref) == (Action.FETCH, "feature/x", "refs/heads/feature/x")
    assert event.deleted is (event_name == "delete")
    assert event.created is (event_name == "create")


def test_github_ping_is_answered_without_a_fetch() -> None:
    body = payload("github/ping.json")
    event = handle(github_headers(body, "ping"), body, SECRET)
    assert event.action is Action.PING
    assert event.branch is None


@pytest.mark.parametrize("event_name", ["issues", "pull_request", "workflow_run"])
def test_other_github_events_are_ignored(event_name: str) -> None:
    body = payload("github/ping.json")
    event = handle(github_headers(body, event_name), body, SECRET)
    assert event.action is Action.IGNORE
    assert event_name in event.reason


def test_github_form_encoded_body() -> None:
    raw = payload("github/push-branch-update.json").decode()
    body = urlencode({"payload": raw}).encode()
    headers = github_headers(body, "push") | {"Content-Type": "application/x-www-form-urlencoded"}
    event = handle(headers, body, SECRET)
    assert event.branch == "changes"
    assert event.after == "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"


def test_gitlab_push_hook() -> None:
    body = payload("gitlab/push-branch-update.json")
    event = handle(gitlab_headers("Push Hook"), body, SECRET)
    assert (event.forge, event.action, event.branch) == (Forge.GITLAB, Action.FETCH, "master")
    assert event.after == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert event.delivery_id == "b1e1b4f0-1f8a-4bd5-9d7c-000000000001"
    assert not event.created and not event.deleted


def test_gitlab_delivery_id_falls_back_to_the_event_uuid() -> None:
    body = payload("gitlab/push-branch-update.json")
    headers = gitlab_headers("Push Hook")
    del headers["Idempotency-Key"]
    assert handle(headers, body, SECRET).delivery_id == "recursion-id"


def test_gitlab_tag_push_is_ignored() -> None:
    body = payload("gitlab/tag_push-create.json")
    event = handle(gitlab_headers("Tag Push Hook"), body, SECRET)
    assert event.action is Action.IGNORE


def test_gitlab_system_hook_push() -> None:
    body = payload("gitlab/system_hook-push.json")
    event = handle(gitlab_headers("System Hook"), body, SECRET)
    assert (event.action, event.branch, event.event) == (Action.FETCH, "master", "System Hook")


def test_gitlab_system_hook_other_event_is_ignored() -> None:
    body = json.dumps({"event_name": "project_create", "name": "x"}).encode()
    assert handle(gitlab_headers("System Hook"), body, SECRET).action is Action.IGNORE


@pytest.mark.parametrize("sha_length", [40, 64])
def test_all_zero_shas_of_any_length_mean_created_or_deleted(sha_length: int) -> None:
    data = json.loads(payload("gitlab/push-branch-update.json"))
    data.update(before="0" * sha_length, after="a" * sha_length)
    created = handle(gitlab_headers("Push Hook"), json.dumps(data).encode(), SECRET)
    data.update(before="a" * sha_length, after="0" * sha_length)
    deleted = handle(gitlab_headers("Push Hook"), json.dumps(data).encode(), SECRET)
    assert (created.created, created.deleted) == (True, False)
    assert (deleted.created, deleted.deleted) == (False, True)


def test_gitea_push_though_it_also_sends_github_headers() -> None:
    body = payload("gitea/push-branch-update.json")
    event = handle(gitea_headers(body, "push"), body, SECRET)
    assert (event.forge, event.branch, event.delivery_id) == (Forge.GITEA, "develop", "gitea-1")
    assert event.before == "28e1879d029cb852e4844d9c718537df08844e03"
    assert not event.created and not event.deleted


def test_forgejo_push() -> None:
    body = payload("forgejo/push-branch-update.json")
    event = handle(forgejo_headers(body, "push"), body, SECRET)
    assert (event.forge, event.branch, event.delivery_id) == (Forge.FORGEJO, "develop", "forgejo-1")


def test_forgejo_accepts_only_the_gitea_signature_when_its_own_is_absent() -> None:
    body = payload("forgejo/push-branch-update.json")
    headers = forgejo_headers(body, "push")
    del headers["X-Forgejo-Signature"]
    assert handle(headers, body, SECRET).branch == "develop"


@pytest.mark.parametrize("ref", ["feature/gone", "refs/heads/feature/gone"])
def test_gitea_delete_event_announces_a_deleted_branch(ref: str) -> None:
    # Gitea sends no push when a branch is deleted, only this (short ref; Forgejo hooks: full ref)
    body = json.dumps({"ref": ref, "ref_type": "branch", "pusher_type": "user"}).encode()
    event = handle(gitea_headers(body, "delete"), body, SECRET)
    assert (event.action, event.branch, event.deleted) == (Action.FETCH, "feature/gone", True)


def test_generic_push_with_a_ref() -> None:
    body = json.dumps({"ref": "refs/heads/main", "before": "a" * 40, "after": "b" * 40}).encode()
    event = handle({"X-Webhook-Token": SECRET}, body, SECRET)
    assert (event.forge, event.action, event.branch, event.after) == (Forge.GENERIC, Action.FETCH, "main", "b" * 40)


def test_payload_urls_are_not_part_of_the_event() -> None:
    data = json.loads(payload("github/push-branch-update.json"))
    data["repository"]["clone_url"] = "https://evil.example/steal.git"
    body = json.dumps(data).encode()
    event = handle(github_headers(body, "push"), body, SECRET)
    assert "evil" not in repr(event)


def test_hostile_branch_names_are_passed_through_as_data() -> None:
    # The git adapter checks names with check-ref-format; the parser must not mangle or execute them.
    for name in ["--upload-pack=touch /tmp/x", "ünïcode/ß", "a" * 250, "a/../b"]:
        body = json.dumps({"ref": f"refs/heads/{name}"}).encode()
        assert handle({"X-Webhook-Token": SECRET}, body, SECRET).branch == name


# -- malformed and oversized bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe{}",
        b"[1, 2]",
        b'"just a string"',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"ref": 5}',
        b'{"ref": ""}',
        b'{"before": "a"}',
        b"payload=",
        b"payload=%7Bnot",
    ],
)
def test_malformed_body_is_400(body: bytes) -> None:
    with pytest.raises(WebhookError) as caught:
        handle(github_headers(body, "push"), body, SECRET)
    assert caught.value.status == 400


def test_body_over_the_limit_is_413_before_anything_else() -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    with pytest.raises(WebhookError) as caught:
        handle({}, body, "")
    assert caught.value.status == 413
    small = payload("github/push-branch-update.json")
    with pytest.raises(WebhookError) as caught:
        handle(github_headers(small, "push"), small, SECRET, max_bytes=100)
    assert caught.value.status == 413


def test_body_at_the_limit_is_accepted() -> None:
    data = json.loads(payload("github/push-branch-update.json"))
    raw = json.dumps(data).encode()
    body = raw + b" " * (MAX_BODY_BYTES - len(raw))
    assert len(body) == MAX_BODY_BYTES
    assert handle(github_headers(body, "push"), body, SECRET).branch == "changes"


def test_generic_other_event_and_tags_are_ignored() -> None:
    other = handle({"X-Webhook-Token": SECRET, "X-Webhook-Event": "build"}, b'{"ref": "refs/heads/main"}', SECRET)
    tag = handle({"X-Webhook-Token": SECRET}, b'{"ref": "refs/tags/v1"}', SECRET)
    assert (other.action, tag.action, tag.branch) == (Action.IGNORE, Action.IGNORE, None)
