"""``auth-type: basic`` through the real ``gitops-ingress proxy`` process, its Secrets in
``--secret-dir`` laid out as a kubelet mounts them, modelled on ingress-nginx's e2e
test/e2e/annotations/auth.go: 401 with the realm without or with wrong credentials, 200 with the
right ones (the Authorization header reaching the upstream), 503 when the Secret is missing, and
the hosts without the annotation untouched."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import bcrypt
import httpx
import pytest

from gitops_ingress.core.annotations import PREFIX as P
from gitops_ingress.core.htpasswd import apr1
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, ProxyProcess, write
from .test_cli_proxy import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

BASIC = {P + "auth-type": "basic", P + "auth-secret": "basic-auth", P + "auth-realm": "test auth"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def htpasswd() -> str:
    """One user per format we check: bcrypt as ``htpasswd -B`` writes it ($2y$), apr1, {SHA}."""
    hashed = bcrypt.hashpw(b"bar", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(b"sesame").digest()).decode()
    return f"foo:{hashed}\njane:{apr1(b'doe', b'OFG3Xybp').decode()}\n# a comment\nali:{sha}\n"


def served(tmp_path: Path, upstream: TestUpstream, secret: str | None, **annotations: str) -> list[str]:
    env = tmp_path / "production"
    write(env / "auth.yaml", to_yaml(ingress("auth", "auth.foo.com", "web", annotations=BASIC | annotations)))
    write(env / "open.yaml", to_yaml(ingress("open", "open.foo.com", "web")))
    if secret is not None:
        write(tmp_path / "secrets" / "shop" / "basic-auth" / "auth", secret)
    return [
        "--listen",
        f"{LOOPBACK}:0",
        "--ingress-dir",
        str(env),
        "--secret-dir",
        str(tmp_path / "secrets"),
        "--backend",
        f"web:80={upstream.url}",
        "--no-access-log",
    ]


def test_basic_auth_asks_checks_and_forwards(tmp_path: Path, start_upstream: Callable[[str], TestUpstream]) -> None:
    upstream = start_upstream("echo")
    with ProxyProcess(served(tmp_path, upstream, htpasswd())) as proxy:
        with httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
            host = {"Host": "auth.foo.com"}
            # "should return status code 401 when authentication is configured but Authorization header is not"
            denied = client.get("/", headers=host)
            assert denied.status_code == 401
            assert denied.headers["www-authenticate"] == 'Basic realm="test auth"'
            assert upstream.stats.requests == []
            # "... when authentication is configured and Authorization header is sent with invalid credentials"
            for headers in (
                basic("foo", "wrong"),
                basic("nobody", "bar"),
                basic("foo", ""),
                {"Authorization": "Basic !!!not-base64"},
                {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
                {"Authorization": "Bearer " + base64.b64encode(b"foo:bar").decode()},
            ):
                assert client.get("/", headers=host | headers).status_code == 401, headers
            assert upstream.stats.requests == []
            # "... 200 when authentication is configured and Authorization header is sent" (each format)
            for user, password in (("foo", "bar"), ("jane", "doe"), ("ali", "sesame"), ("foo", "bar")):
                answer = client.get("/private", headers=host | basic(user, password))
                assert answer.status_code == 200, (user, answer.text)
                seen = {name.lower(): value for name, value in json.loads(answer.text)["headers"]}
                assert seen["authorization"] == basic(user, password)["Authorization"]  # forwarded, as nginx
            # a host without the annotation is not asked
            assert client.get("/", headers={"Host": "open.foo.com"}).status_code == 200
        assert proxy.stop() == 0


def test_a_missing_secret_is_503_never_open(tmp_path: Path, start_upstream: Callable[[str], TestUpstream]) -> None:
    """e2e: "should return status code 503 when authentication is configured with an invalid secret"."""
    upstream = start_upstream("echo")
    with ProxyProcess(served(tmp_path, upstream, None)) as proxy:
        proxy.wait_stderr("Secret shop/basic-auth of auth-type basic: not found; its routes answer 503")
        with httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
            assert client.get("/", headers={"Host": "auth.foo.com"} | basic("foo", "bar")).status_code == 503
            assert client.get("/", headers={"Host": "open.foo.com"}).status_code == 200
        assert proxy.stop() == 0


def test_auth_map_secret_one_key_per_user(tmp_path: Path, start_upstream: Callable[[str], TestUpstream]) -> None:
    """e2e: "should return status code 200 when authentication is configured with a map"."""
    upstream = start_upstream("echo")
    args = served(tmp_path, upstream, None, **{P + "auth-secret-type": "auth-map"})
    write(tmp_path / "secrets" / "basic-auth" / "foo", apr1(b"bar", b"xyzXYZ12").decode())  # any namespace
    with ProxyProcess(args) as proxy:
        with httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
            host = {"Host": "auth.foo.com"}
            assert client.get("/", headers=host | basic("foo", "bar")).status_code == 200
            assert client.get("/", headers=host | basic("foo", "baz")).status_code == 401
        assert proxy.stop() == 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [("bob:secret", "plain-text"), ("bob:E5BrlrQ5IXYK2", "DES crypt()"), ("bob:$6$salt$abc", "hash format")],
)
def test_unsafe_hashes_are_refused_naming_file_and_line(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream], line: str, reason: str
) -> None:
    upstream = start_upstream("echo")
    args = served(tmp_path, upstream, f"jane:{apr1(b'doe', b'OFG3Xybp').decode()}\n{line}\n")
    done = run_cli(*args)
    assert done.returncode == 1, done.stderr
    where = f"{tmp_path}/secrets/shop/basic-auth/auth:2"
    assert where in done.stderr and reason in done.stderr and "auth/unsupported-hash" in done.stderr
    assert "Traceback" not in done.stderr
