"""The webhook endpoints over real HTTP, with the forges' own published payloads.

The receiver here records calls (it is the engine's side of the contract, not the code under
test); everything between the socket and that call -- body cap, forge detection, signatures,
parsing, dedup -- is the real code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gitops_ingress.core.routing import RoutingState
from gitops_ingress.core.settings import Settings
from gitops_ingress.sync.events import EventBus
from gitops_ingress.web.app import create_app
from tests.web.live_server import serve

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "webhook-payloads"
SECRET = "s3cr3t-for-tests"


class RecordingReceiver:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.pushes: list[tuple[str | None, bool]] = []
        self.results: list[tuple[str, str]] = []
        self.received: list[float | None] = []

    def known_delivery(self, delivery_id: str) -> bool:
        return delivery_id in self.seen

    async def seen_delivery(self, delivery_id: str) -> bool:
        if delivery_id in self.seen:
            return True
        self.seen.add(delivery_id)
        return False

    async def record_delivery(self, forge: str, result: str, delivery_id: str | None = None) -> None:
        self.results.append((forge, result))

    async def push(self, branch: str | None, deleted: bool, received: float | None = None) -> None:
        self.pushes.append((branch, deleted))
        self.received.append(received)


class EmptyView:
    settings = Settings()
    remote_error: str | None = None
    bus = EventBus()

    def branches(self) -> list[object]:
        return []

    def routing_state(self) -> RoutingState:
        return RoutingState()

    def subscribe_routes(self, listener: Callable[[RoutingState], None]) -> Callable[[], None]:
        return lambda: None  # the state never changes

    def subscribe(self):  # type: ignore[no-untyped-def]
        return self.bus.subscribe()


@pytest.fixture
def receiver() -> RecordingReceiver:
    return RecordingReceiver()


@pytest.fixture
def client(receiver: RecordingReceiver) -> Iterator[httpx.Client]:
    secrets = {"github": SECRET, "gitlab": SECRET, "gitea": SECRET, "generic": SECRET}
    app = create_app(EmptyView(), receiver, webhook_secrets=secrets)  # type: ignore[arg-type]
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http


def body_of(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def hub(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github(event: str, body: bytes, delivery: str = "d-1", signature: str | None = None) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": hub(body) if signature is None else signature,
        "Content-Type": "application/json",
    }


def test_github_push_is_accepted_and_fetches_the_branch(client: httpx.Client, receiver: RecordingReceiver) -> None:
    body = body_of("github/push-branch-update.json")
    sent = time.monotonic()
    answer = client.post("/webhooks/github", content=body, headers=github("push", body))
    assert answer.status_code == 202 and answer.json()["status"] == "accepted"
    assert receiver.pushes == [("changes", False)]
    assert receiver.results == [("github", "accepted")]
    (received,) = receiver.received  # the delivery's arrival, for push to live
    assert received is not None and sent <= received <= time.monotonic()


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, hub(b"another body")])
def test_missing_or_wrong_signature_is_401_and_fetches_nothing(
    client: httpx.Client, receiver: RecordingReceiver, signature: str
) -> None:
    body = body_of("github/push-branch-update.json")
    answer = client.post("/webhooks/github", content=body, headers=github("push", body, signature=signature))
    assert answer.status_code == 401 and "error" in answer.json()
    assert receiver.pushes == [] and receiver.seen == set()
    assert receiver.results == [("github", "unauthorized")]


def test_other_event_types_are_202_and_ignored(client: httpx.Client, receiver: RecordingReceiver) -> None:
    for name, event in (("github/create-tag.json", "create"), ("github/push-tag-delete.json", "push")):
        body = body_of(name)
        answer = client.post("/webhooks/github", content=body, headers=github(event, body, delivery=name))
        assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    body = b'{"action": "opened"}'
    answer = client.post("/webhooks/github", content=body, headers=github("issues", body, delivery="i"))
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert receiver.pushes == []


def test_ping_is_answered_without_fetching(client: httpx.Client, receiver: RecordingReceiver) -> None:
    body = body_of("github/ping.json")
    answer = client.post("/webhooks/github", content=body, headers=github("ping", body))
    assert answer.status_code == 200 and receiver.pushes == []


def test_malformed_json_is_400(client: httpx.Client, receiver: RecordingReceiver) -> None:
    body = b'{"ref": "refs/heads/main", '
    answer = client.post("/webhooks/github", content=body, headers=github("push", body))
    assert answer.status_code == 400 and receiver.pushes == []
    assert receiver.results == [("github", "malformed")]


def test_body_over_one_mib_is_413(client: httpx.Client, receiver: RecordingReceiver) -> None:
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    answer = client.post("/webhooks/github", content=body, headers=github("push", body))
    assert answer.status_code == 413 and receiver.pushes == []
    chunked = client.post(
        "/webhooks/github", content=iter([body[:600_000], body[600_000:]]), headers=github("push", body)
    )
    assert chunked.status_code == 413 and receiver.pushes == []


def test_replayed_delivery_id_is_ignored(client: httpx.Client, receiver: RecordingReceiver) -> None:
    body = body_of("github/push-branch-update.json")
    first = client.post("/webhooks/github", content=body, headers=github("push", body, delivery="same"))
    again = client.post("/webhooks/github", content=body, headers=github("push", body, delivery="same"))
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["status"] == "ignored" and receiver.pushes == [("changes", False)]
    assert receiver.results[-1] == ("github", "replayed")


def test_gitlab_push_with_its_plain_token(client: httpx.Client, receiver: RecordingReceiver) -> None:
    body = body_of("gitlab/push-branch-update.json")
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET, "Idempotency-Key": "k1"}
    assert client.post("/webhooks/gitlab", content=body, headers=headers).status_code == 202
    wrong = dict(headers, **{"X-Gitlab-Token": "nope", "Idempotency-Key": "k2"})
    assert client.post("/webhooks/gitlab", content=body, headers=wrong).status_code == 401
    branch = json.loads(body)["ref"].removeprefix("refs/heads/")
    assert receiver.pushes == [(branch, False)]


@pytest.mark.parametrize("forge", ["gitea", "forgejo"])
def test_gitea_and_forgejo_use_their_own_headers(client: httpx.Client, receiver: RecordingReceiver, forge: str) -> None:
    body = body_of(f"{forge}/push-branch-update.json")
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    name = forge.capitalize()
    headers = {
        f"X-{name}-Event": "push",
        f"X-{name}-Delivery": f"{forge}-1",
        f"X-{name}-Signature": signature,
        # what these forges also send, in GitHub's format: must not make it a GitHub delivery
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": "sha256=" + signature,
    }
    answer = client.post("/webhooks/gitea", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert receiver.pushes == [(json.loads(body)["ref"].removeprefix("refs/heads/"), False)]
    wrong_endpoint = client.post("/webhooks/github", content=body, headers=dict(headers, **{f"X-{name}-Delivery": "x"}))
    assert wrong_endpoint.status_code == 400


def test_gitea_branch_delete_event_is_a_deletion(client: httpx.Client, receiver: RecordingReceiver) -> None:
    body = json.dumps({"ref": "feature/x", "ref_type": "branch", "pusher_type": "user"}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Gitea-Event": "delete", "X-Gitea-Delivery": "del-1", "X-Gitea-Signature": signature}
    assert client.post("/webhooks/gitea", content=body, headers=headers).status_code == 202
    assert receiver.pushes == [("feature/x", True)]


def test_generic_endpoint_takes_a_bearer_token(client: httpx.Client, receiver: RecordingReceiver) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    ok = client.post("/webhooks/generic", content=body, headers={"Authorization": f"Bearer {SECRET}"})
    assert ok.status_code == 202
    empty = client.post("/webhooks/generic", content=b"", headers={"X-Webhook-Token": SECRET})
    assert empty.status_code == 202
    assert client.post("/webhooks/generic", content=body).status_code == 401
    assert receiver.pushes == [("main", False), (None, False)]


def test_an_endpoint_without_a_secret_refuses_everything(receiver: RecordingReceiver) -> None:
    app = create_app(EmptyView(), receiver)  # type: ignore[arg-type]
    body = body_of("github/push-branch-update.json")
    with serve(app) as url:
        answer = httpx.post(
            f"{url}/webhooks/github", content=body, headers=github("push", body, signature=hub(body, ""))
        )
    assert answer.status_code == 401 and receiver.pushes == []


def test_a_sender_gone_before_its_body_ends_is_neither_answered_nor_recorded(
    client: httpx.Client, receiver: RecordingReceiver
) -> None:
    body = json.dumps({"ref": "refs/heads/cut"}).encode()
    address = httpx.URL(str(client.base_url))
    head = (
        f"POST /webhooks/generic HTTP/1.1\r\nHost: {address.host}\r\nAuthorization: Bearer {SECRET}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((address.host, address.port), timeout=10) as sock:
        sock.sendall(head + body[:-3])  # a JSON object that parses, were the cut taken for its end
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1024) == b""  # closed without an answer
    after = client.post("/webhooks/generic", content=body.replace(b"cut", b"whole"), headers=bearer())
    assert after.status_code == 202
    assert receiver.pushes == [("whole", False)] and receiver.results == [("generic", "accepted")]


def test_only_a_post_to_one_of_the_endpoints_is_a_delivery(client: httpx.Client, receiver: RecordingReceiver) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    # the intake sits in front of the app (web/webhooks.py) and takes only a POST: anything else
    # falls through to the app, which has no such route
    assert client.get("/webhooks/generic", headers=bearer()).status_code == 404
    assert client.put("/webhooks/generic", content=body, headers=bearer()).status_code == 404
    assert not [path for path in client.get("/openapi.json").json()["paths"] if path.startswith("/webhooks")]
    assert client.post("/webhooks/bitbucket", content=body, headers=bearer()).status_code == 404
    assert receiver.pushes == [] and receiver.results == []
    # the dashboard's layers still wrap everything else: its security headers, and nothing of them
    # on a delivery's answer (JSON for a machine, no page to protect)
    assert "content-security-policy" in client.get("/webhooks/generic").headers
    answer = client.post("/webhooks/generic", content=body, headers=bearer())
    assert answer.status_code == 202 and answer.headers["content-type"] == "application/json"
    assert answer.json() == {"status": "accepted", "branch": "main", "deleted": False}


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRET}"}
