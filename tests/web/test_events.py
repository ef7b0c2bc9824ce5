"""Server-Sent Events over a real socket: control-plane events reach a connected client."""

from __future__ import annotations

import json

from gitops_ingress.web.options import WebOptions
from tests.web.dashboard_fakes import open_client, sample_view

WAIT = 10.0


def _messages(lines: list[str]) -> list[dict[str, str]]:
    messages, current = [], {}
    for line in lines:
        if not line:
            if current:
                messages.append(current)
            current = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            current[key] = value
    return messages


def test_events_stream_delivers_control_plane_events() -> None:
    view = sample_view()
    with open_client(view) as client, client.stream("GET", "/api/v1/events", timeout=WAIT) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        assert view.subscribed.wait(WAIT), "the endpoint never subscribed to the view"
        view.publish("sync", "feature/<api>")
        view.publish("branch", "main")
        received: list[str] = []
        for line in lines:  # bounded: the read timeout ends a stalled stream
            received.append(line)
            if len(_messages(received)) == 2 or len(received) > 50:
                break
    first, second = _messages(received)
    assert first["event"] == "sync" and second["event"] == "branch"
    assert json.loads(first["data"])["branch"] == "feature/<api>"
    assert int(second["id"]) == int(first["id"]) + 1


def test_events_need_credentials_off_loopback() -> None:
    with open_client(sample_view(), WebOptions(listen_host="192.0.2.1", bearer_token="t")) as client:
        assert client.get("/api/v1/events").status_code == 401
