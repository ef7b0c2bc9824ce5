"""Upstream connections that are lost early, and what they leave behind.

The backend here is a real listening socket whose accept loop closes every connection at once:
the proxy's connect succeeds (the kernel completed the handshake), and the close arrives while
the request is still on its way to being sent, often before. Every request must be answered
502 (gRPC: UNAVAILABLE) at once, never left waiting for the read timeout.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends, make_state, route
from tests.support.upstreams import LOOPBACK, listening

# the read timeout is far beyond the client's: a request left waiting for it fails the test
PATIENT = ProxySettings(connect_timeout=5, read_timeout=600, retries=0)


class Slammer:
    """Accepts every connection and closes it before reading a byte."""

    def __init__(self) -> None:
        self.listener = listening(128)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:  # closed: the test is over
                return
            self.accepted += 1
            sock.close()

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(5)


@pytest.fixture
def slammer() -> Iterator[Slammer]:
    server = Slammer()
    yield server
    server.close()


@pytest.mark.parametrize("scheme", ["http", "h2c"])
def test_a_connection_lost_before_the_request_is_sent_fails_at_once(make_proxy, slammer: Slammer, scheme: str) -> None:
    state = make_state([route("shop.example.com", "/", "web")])
    proxy = make_proxy(state, backends({"web": [f"{scheme}://{LOOPBACK}:{slammer.port}"]}), PATIENT)

    def call(n: int) -> tuple[int, str | None]:
        grpc = n % 4 == 0  # a gRPC client is told UNAVAILABLE (14) instead of a 502 page
        headers = {"Host": "shop.example.com", "Content-Type": "application/grpc" if grpc else "text/plain"}
        with httpx.Client(base_url=proxy.url, headers=headers, timeout=20) as http:
            got = http.post(f"/{n}", content=b"x")
        return got.status_code, got.headers.get("grpc-status")

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(48)))
    assert answers == [(200, "14") if n % 4 == 0 else (502, None) for n in range(48)]
    # HTTP/1.1: a connection per request (no retries); HTTP/2: requests share the one being opened
    assert slammer.accepted >= (48 if scheme == "http" else 1)
