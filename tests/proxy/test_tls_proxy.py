"""TLS through the running proxy: termination by SNI, the plain-HTTP redirect, live reloads."""

from __future__ import annotations

import dataclasses
import json
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
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
    peer_serial,
    write,
)

pytestmark = pytest.mark.timeout(60)


def options(tmp_path: Path, upstream: TestUpstream, **extra: object) -> ProxyOptions:
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    write(env / "api.yaml", to_yaml(ingress("api", "api.example.com", "storefront")))
    return ProxyOptions(
        listen=(LOOPBACK, 0),
        tls_listen=(LOOPBACK, 0),
        tls_dir=str(tmp_path / "tls"),
        proxy=ProxySettings(access_log=False),
        settings=Settings(),
        ingress_dirs=(str(env),),
        backends=(f"storefront:80={upstream.url}",),
        reload_interval=0.02,
        **extra,  # type: ignore[arg-type]
    )


def https_get(proxy: ProxyThread, ca: CertificateAuthority, host: str, path: str) -> httpx.Response:
    port = urlsplit(proxy.url("https")).port
    context = ssl.create_default_context(cafile=str(ca.path))
    # SNI and Host say shop.example.com while the socket goes to 127.0.0.1
    transport = httpx.HTTPTransport(verify=context)
    with httpx.Client(transport=transport, timeout=WAIT) as client:
        return client.get(f"https://{LOOPBACK}:{port}{path}", headers={"Host": host}, extensions={"sni_hostname": host})


def test_https_is_terminated_with_the_certificate_sni_asks_for(
    tmp_path: Path, ca: CertificateAuthority, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    shop = ca.secret(tmp_path / "tls", "shop-example-com-tls", "shop.example.com")
    default = ca.secret(tmp_path / "tls", "default", "fallback.invalid")
    with ProxyThread(options(tmp_path, upstream)) as proxy:
        port = urlsplit(proxy.url("https")).port
        assert port is not None
        assert peer_serial(port, "shop.example.com", ca.path) == shop
        assert peer_serial(port, "api.example.com", ca.path) == default
        answer = https_get(proxy, ca, "shop.example.com", "/cart?x=1")
        assert answer.status_code == 200
        seen = json.loads(answer.text)
        headers = {k.lower(): v for k, v in seen["headers"]}
        assert seen["path"] == "/cart?x=1"
        assert headers["x-forwarded-proto"] == "https"
        assert headers["host"] == "shop.example.com"


@pytest.mark.parametrize("redirect", [True, False])
def test_plain_http_is_redirected_only_when_asked_and_only_for_hosts_with_a_certificate(
    tmp_path: Path, ca: CertificateAuthority, start_upstream: Callable[[str], TestUpstream], redirect: bool
) -> None:
    upstream = start_upstream("echo")
    ca.secret(tmp_path / "tls", "shop-example-com-tls", "shop.example.com")
    with ProxyThread(options(tmp_path, upstream, https_redirect=redirect)) as proxy:
        with httpx.Client(base_url=proxy.url(), timeout=WAIT) as client:
            shop = client.get("/cart?x=1", headers={"Host": "shop.example.com"})
            if redirect:
                assert shop.status_code in (301, 308)
                assert shop.headers["location"].startswith("https://shop.example.com")
                assert shop.headers["location"].endswith("/cart?x=1")
            else:
                assert shop.status_code == 200
            plain = client.get("/", headers={"Host": "api.example.com"})
            assert plain.status_code == 200  # no certificate names it: served over HTTP
        assert upstream.stats.requests and upstream.stats.requests[-1]["path"] == "/"


def test_a_renewed_certificate_is_served_without_a_restart(
    tmp_path: Path, ca: CertificateAuthority, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    ca.secret(tmp_path / "tls", "shop-example-com-tls", "shop.example.com")
    with ProxyThread(options(tmp_path, upstream)) as proxy:
        assert proxy.worker is not None and proxy.worker.tls is not None
        store = proxy.worker.tls
        port = urlsplit(proxy.url("https")).port
        assert port is not None
        changed = threading.Event()
        # set once both files are in: a poll may fall between the two writes
        store.subscribe(lambda count: store.has_tls("api.example.com") and changed.set())
        renewed = ca.secret(tmp_path / "tls", "shop-example-com-tls", "shop.example.com")
        added = ca.secret(tmp_path / "tls", "api-tls", "api.example.com")
        assert changed.wait(WAIT)  # the watcher polls every 20 ms
        assert peer_serial(port, "shop.example.com", ca.path) == renewed
        assert peer_serial(port, "api.example.com", ca.path) == added


def test_the_preview_link_sets_a_secure_cookie_over_https_and_settings_protect_hosts(
    tmp_path: Path, ca: CertificateAuthority, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    ca.secret(tmp_path / "tls", "shop-example-com-tls", "shop.example.com")
    protect = Settings(preview_key_protected_hosts=("api.example.com",))
    with ProxyThread(dataclasses.replace(options(tmp_path, upstream), settings=protect)) as proxy:
        link = https_get(proxy, ca, "shop.example.com", "/cart?gitops-ingress-preview=feature-x")
        assert (link.status_code, link.headers["location"]) == (302, "/cart")
        assert link.headers["set-cookie"].endswith("; HttpOnly; SameSite=Lax; Secure")
        with httpx.Client(base_url=proxy.url(), timeout=WAIT) as client:
            plain = client.get("/?gitops-ingress-preview=feature-x", headers={"Host": "shop.example.com"})
            protected = client.get("/?gitops-ingress-preview=feature-x", headers={"Host": "api.example.com"})
        assert plain.status_code == 302 and "Secure" not in plain.headers["set-cookie"]
        assert protected.status_code == 200  # not interpreted on a protected host
        assert json.loads(protected.text)["path"] == "/?gitops-ingress-preview=feature-x"
