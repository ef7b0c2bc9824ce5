"""``auth-url`` (external authentication) through the real ``gitops-ingress proxy`` process and a
real auth service process (tests/support/authservice.py), modelled on ingress-nginx's e2e
test/e2e/annotations/auth.go "when external authentication is configured": 2xx lets the request
through with the listed response headers, 401/403 reach the client, ``auth-signin`` turns 401
into a 302 with ``rd=``, and anything else (an error, a service that is down or too slow) is 500."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gitops_ingress.core.annotations import PREFIX as P
from tests.proxy.h2client import H2Client
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, CertificateAuthority, ProxyProcess, write

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
REPO = Path(__file__).resolve().parents[2]
GOOD = {"Authorization": "Bearer good"}


def _auth_service(*args: str) -> Iterator[int]:
    """The auth service as its own process (``args``: its options): the port it listens on."""
    command = [sys.executable, "-m", "tests.support.authservice", *args]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # waits for the process to say where it listens
        assert line.startswith("listening "), line
        yield int(line.split()[1])
    finally:
        proc.kill()
        proc.wait(WAIT)


@pytest.fixture
def auth_service() -> Iterator[str]:
    """The auth service as its own process: its base URL."""
    for port in _auth_service():
        yield f"http://{LOOPBACK}:{port}"


@pytest.fixture
def tls_auth_service(tmp_path: Path) -> Iterator[tuple[str, CertificateAuthority]]:
    """The auth service over TLS with a certificate for localhost from a test CA: its base URL
    and the CA (a proxy trusts it through ``SSL_CERT_FILE``, as the system's CA bundle)."""
    ca = CertificateAuthority(tmp_path / "ca")
    ca.issue(tmp_path / "auth.crt", tmp_path / "auth.key", "localhost")
    for port in _auth_service("--tls", str(tmp_path / "auth.crt"), str(tmp_path / "auth.key")):
        yield f"https://localhost:{port}", ca


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def proxy_args(tmp_path: Path, upstream: TestUpstream, annotations: dict[str, str]) -> list[str]:
    env = tmp_path / "production"
    write(env / "auth.yaml", to_yaml(ingress("auth", "auth.foo.com", "web", annotations=annotations)))
    write(env / "open.yaml", to_yaml(ingress("open", "open.foo.com", "web")))
    return ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env), "--backend", f"web:80={upstream.url}", "--no-access-log"]  # fmt: skip


def echoed(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 200, answer.text
    return {name.lower(): value for name, value in json.loads(answer.text)["headers"]}


@pytest.fixture
def start_upstream_echo(start_upstream: Callable[[str], TestUpstream]) -> TestUpstream:
    return start_upstream("echo")


def test_auth_url_lets_2xx_through_with_the_response_headers_and_no_smuggling(
    tmp_path: Path, start_upstream_echo: TestUpstream, auth_service: str
) -> None:
    upstream = start_upstream_echo
    annotations = {P + "auth-url": auth_service + "/oauth2/auth?x=1", P + "auth-response-headers": "X-User, X-Email, X-Seen"}  # fmt: skip
    with ProxyProcess(proxy_args(tmp_path, upstream, annotations)) as proxy:
        with httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
            host = {"Host": "auth.foo.com"}
            smuggled = {
                "X-User": "mallory",
                "X-Original-URL": "http://evil.example/",
                "X-Original-Method": "DELETE",
                "X-Forwarded-For": "203.0.113.9",
                "X-Real-IP": "203.0.113.9",
                "X-Auth-Request-Redirect": "http://evil.example/",
            }
            answer = client.get("/private?q=1", headers=host | GOOD | smuggled | {"Cookie": "session=abc"})
            seen_upstream = echoed(answer)
            assert (seen_upstream["x-user"], seen_upstream["x-email"]) == ("alice", "alice@example.com")
            assert answer.text.count('"X-User"') + answer.text.count('"x-user"') == 1  # mallory's line is gone
            sub = json.loads(base64.b64decode(seen_upstream["x-seen"]))
            assert (sub["method"], sub["path"]) == ("GET", "/oauth2/auth?x=1")
            lines: dict[str, list[str]] = {}
            for name, value in sub["headers"]:
                lines.setdefault(name.lower(), []).append(value)
            assert lines["x-original-url"] == ["http://auth.foo.com/private?q=1"]
            assert lines["x-original-method"] == ["GET"]
            assert lines["x-auth-request-redirect"] == ["/private?q=1"]
            assert lines["x-forwarded-for"] == [LOOPBACK] and lines["x-real-ip"] == [LOOPBACK]
            assert lines["host"] == [auth_service.removeprefix("http://")]
            assert lines["authorization"] == ["Bearer good"] and lines["cookie"] == ["session=abc"]
            assert lines["x-user"] == ["mallory"]  # the client's other lines go along, as nginx passes them
            # a body waits for the verdict, then reaches the upstream whole
            posted = client.post("/form", headers=host | GOOD, content=b"a=1&b=2")
            assert posted.status_code == 200 and json.loads(posted.text)["body"] == "a=1&b=2"
            assert client.get("/", headers={"Host": "open.foo.com"}).status_code == 200
        assert proxy.stop() == 0


def test_auth_url_over_https_verifies_the_auth_service_against_the_trusted_cas(
    tmp_path: Path,
    start_upstream_echo: TestUpstream,
    tls_auth_service: tuple[str, CertificateAuthority],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An https auth-url is asked over TLS, its certificate checked against the CAs the proxy
    trusts (the system's, here the test CA through SSL_CERT_FILE); one it cannot verify is 500."""
    url, ca = tls_auth_service
    annotations = {P + "auth-url": url + "/auth", P + "auth-response-headers": "X-User"}
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.path))
    with ProxyProcess(proxy_args(tmp_path / "trusted", start_upstream_echo, annotations)) as proxy:
        with httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
            assert echoed(client.get("/", headers={"Host": "auth.foo.com"} | GOOD))["x-user"] == "alice"
            denied = client.get("/", headers={"Host": "auth.foo.com"})
            assert (denied.status_code, denied.headers["www-authenticate"]) == (401, 'Bearer realm="auth"')
        assert proxy.stop() == 0
    passed = len(start_upstream_echo.stats.requests)
    monkeypatch.setenv("SSL_CERT_FILE", str(CertificateAuthority(tmp_path / "other").path))
    with ProxyProcess(proxy_args(tmp_path / "untrusted", start_upstream_echo, annotations)) as proxy:
        with httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
            assert client.get("/", headers={"Host": "auth.foo.com"} | GOOD).status_code == 500
            assert len(start_upstream_echo.stats.requests) == passed  # never an open door
        assert proxy.stop() == 0


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("Bearer bad", 401), ("Bearer forbidden", 403), ("Bearer broken", 500)],
)
def test_auth_url_denials_reach_the_client_and_errors_are_500(
    tmp_path: Path, start_upstream_echo: TestUpstream, auth_service: str, token: str | None, status: int
) -> None:
    upstream = start_upstream_echo
    with ProxyProcess(proxy_args(tmp_path, upstream, {P + "auth-url": auth_service + "/auth"})) as proxy:
        with httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
            headers = {"Host": "auth.foo.com"} | ({"Authorization": token} if token else {})
            answer = client.get("/", headers=headers)
            assert answer.status_code == status
            if status == 401:
                assert answer.headers["www-authenticate"] == 'Bearer realm="auth"'
            assert upstream.stats.requests == []
        assert proxy.stop() == 0


def test_auth_signin_turns_401_into_a_redirect_with_rd(
    tmp_path: Path, start_upstream_echo: TestUpstream, auth_service: str
) -> None:
    """e2e: "should redirect to signin url when not signed in"."""
    annotations = {P + "auth-url": auth_service + "/auth", P + "auth-signin": "http://$host/auth/start"}
    with ProxyProcess(proxy_args(tmp_path, start_upstream_echo, annotations)) as proxy:
        with httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
            answer = client.get("/a/b?c=d", headers={"Host": "auth.foo.com"})
            assert answer.status_code == 302
            assert answer.headers["location"] == "http://auth.foo.com/auth/start?rd=http://auth.foo.com%2Fa%2Fb%3Fc%3Dd"
            assert client.get("/a", headers={"Host": "auth.foo.com"} | GOOD).status_code == 200
        assert proxy.stop() == 0


def test_an_auth_service_down_or_too_slow_is_500_never_open(
    tmp_path: Path, start_upstream_echo: TestUpstream, auth_service: str
) -> None:
    upstream = start_upstream_echo
    env = tmp_path / "production"
    down = {P + "auth-url": f"http://{LOOPBACK}:{_closed_port()}/auth"}
    slow = {P + "auth-url": auth_service + "/auth", P + "proxy-read-timeout": "1"}
    write(env / "down.yaml", to_yaml(ingress("down", "down.foo.com", "web", annotations=down)))
    write(env / "slow.yaml", to_yaml(ingress("slow", "slow.foo.com", "web", annotations=slow)))
    args = ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env), "--backend", f"web:80={upstream.url}", "--no-access-log"]  # fmt: skip
    with ProxyProcess(args) as proxy:
        with httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
            assert client.get("/", headers={"Host": "down.foo.com"} | GOOD).status_code == 500
            assert client.get("/", headers={"Host": "slow.foo.com", "Authorization": "Bearer slow"}).status_code == 500
            assert upstream.stats.requests == []
        assert proxy.stop() == 0


def test_both_authentications_reach_http2_clients(
    tmp_path: Path, start_upstream_echo: TestUpstream, auth_service: str
) -> None:
    """The same answers as fields over h2c: 401 with the challenge, the pass with the copied lines."""
    env = tmp_path / "production"
    forward = {P + "auth-url": auth_service + "/auth", P + "auth-response-headers": "X-User"}
    basic = {P + "auth-type": "basic", P + "auth-secret": "basic-auth", P + "auth-realm": "h2"}
    write(env / "fwd.yaml", to_yaml(ingress("fwd", "fwd.foo.com", "web", annotations=forward)))
    write(env / "basic.yaml", to_yaml(ingress("basic", "basic.foo.com", "web", annotations=basic)))
    write(tmp_path / "secrets" / "shop" / "basic-auth" / "auth", "foo:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\n")
    args = ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env), "--secret-dir", str(tmp_path / "secrets"),
            "--backend", f"web:80={start_upstream_echo.url}", "--no-access-log", "--h2c"]  # fmt: skip
    with ProxyProcess(args) as proxy:
        port = int(proxy.wait_serving().url().rsplit(":", 1)[1])
        client = H2Client(port).start()
        try:
            asked = client.answer(client.request("/", host="basic.foo.com"))
            good = [("authorization", "Basic " + base64.b64encode(b"foo:bar").decode())]
            passed = client.answer(client.request("/", host="basic.foo.com", extra=good))
            denied = client.answer(client.request("/", host="fwd.foo.com"))
            through = client.answer(client.request("/", host="fwd.foo.com", extra=[("authorization", "Bearer good")]))
        finally:
            client.close()
        assert asked.status == 401 and asked.header(b"www-authenticate") == b'Basic realm="h2"'
        assert passed.status == 200
        assert denied.status == 401 and denied.header(b"www-authenticate") == b'Bearer realm="auth"'
        assert through.status == 200 and b'"alice"' in through.body
        assert proxy.stop() == 0
