"""Real HTTP/2 clients through the running proxy over loopback: curl over TLS (ALPN h2) and with
prior knowledge (h2c), h2load with many concurrent streams, and the access log's protocol."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gitops_ingress.core.settings import Settings
from gitops_ingress.proxy.app import ProxyOptions
from gitops_ingress.proxy.config import ProxySettings
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

from .fixtures_ops import (  # noqa: F401
    LOOPBACK,
    WAIT,
    CertificateAuthority,
    ProxyThread,
    ca_fixture,
    write,
)

pytestmark = [
    pytest.mark.timeout(60),
]


def options(tmp_path: Path, upstream: TestUpstream) -> ProxyOptions:
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    return ProxyOptions(
        listen=(LOOPBACK, 0),
        tls_listen=(LOOPBACK, 0),
        tls_dir=str(tmp_path / "tls"),
        proxy=ProxySettings(access_log=True, h2c=True),
        settings=Settings(),
        ingress_dirs=(str(env),),
        backends=(f"storefront:80={upstream.url}",),
    )


def curl(*args: str) -> tuple[str, str]:
    """curl's body and its ``--write-out`` line (the HTTP version it spoke, then the status)."""
    done = subprocess.run(
        ["curl", "-sS", "--max-time", str(WAIT), "-w", "\n%{http_version} %{http_code}", *args],
        capture_output=True, text=True, timeout=WAIT * 2, check=True,
    )  # fmt: skip
    body, _, outcome = done.stdout.rpartition("\n")
    return body, outcome


@pytest.fixture
def proxy(
    tmp_path: Path, ca: CertificateAuthority, start_upstream: Callable[[str], TestUpstream]
) -> tuple[ProxyThread, int, int]:
    ca.secret(tmp_path / "tls", "shop-example-com-tls", "shop.example.com")
    thread = ProxyThread(options(tmp_path, start_upstream("echo")))
    return thread, urlsplit(thread.__enter__().url("https")).port or 0, urlsplit(thread.url()).port or 0


def test_curl_http2_over_tls_and_h2c(
    proxy: tuple[ProxyThread, int, int], ca: CertificateAuthority, tmp_path: Path
) -> None:
    thread, tls_port, plain_port = proxy
    try:
        body, outcome = curl(
            "--http2", "--cacert", str(ca.path), "--resolve", f"shop.example.com:{tls_port}:{LOOPBACK}",
            "-b", "a=1; b=2", f"https://shop.example.com:{tls_port}/cart?x=1",
        )  # fmt: skip
        assert outcome == "2 200"
        seen = json.loads(body)
        headers = {name.lower(): value for name, value in seen["headers"]}
        assert seen["path"] == "/cart?x=1" and headers["x-forwarded-proto"] == "https"
        assert headers["host"] == f"shop.example.com:{tls_port}"

        upload = tmp_path / "upload.bin"
        upload.write_bytes(b"z" * 200_000)  # more than a stream window
        body, outcome = curl(
            "--http2-prior-knowledge", "-H", "Host: shop.example.com", "--data-binary", f"@{upload}",
            f"http://{LOOPBACK}:{plain_port}/upload",
        )  # fmt: skip
        assert outcome == "2 200" and json.loads(body)["body_len"] == 200_000

        body, outcome = curl("--http1.1", "-H", "Host: shop.example.com", f"http://{LOOPBACK}:{plain_port}/h1")
        assert outcome == "1.1 200"
    finally:
        thread.__exit__(None, None, None)
    records = [json.loads(line) for line in thread.access.getvalue().splitlines()]
    assert [(r["protocol"], r["target"]) for r in records] == [
        ("h2", "/cart?x=1"),
        ("h2", "/upload"),
        ("h1", "/h1"),
    ]


def test_h2load_many_streams(proxy: tuple[ProxyThread, int, int]) -> None:
    thread, tls_port, plain_port = proxy
    try:
        for url in (f"https://{LOOPBACK}:{tls_port}/", f"http://{LOOPBACK}:{plain_port}/"):
            done = subprocess.run(
                ["h2load", "-n", "400", "-c", "4", "-m", "20", "-H", ":authority: shop.example.com", url],
                capture_output=True, text=True, timeout=WAIT * 3, check=True,
            )  # fmt: skip
            assert "400 succeeded, 0 failed, 0 errored" in done.stdout, done.stdout
            assert "status codes: 400 2xx" in done.stdout, done.stdout
    finally:
        thread.__exit__(None, None, None)
