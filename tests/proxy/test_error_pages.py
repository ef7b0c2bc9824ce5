"""Error pages do not tell the internet what lies behind the proxy: a ``gitops-ingress proxy``
process whose one Service refuses connections (502) and whose other has no endpoint (503), with
and without ``--debug-pages``; the log names the Service either way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gitops_ingress.proxy import pages
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import refused_port

from .fixtures_ops import LOOPBACK, WAIT, ProxyProcess, write

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

# what the client must not read unless asked: the namespace, the Service and its port
REFUSING = "shop/web:80"
EMPTY = "shop/checkout:80"


def start(tmp_path: Path, *extra: str) -> ProxyProcess:
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "web")))
    write(env / "pay.yaml", to_yaml(ingress("pay", "pay.example.com", "checkout")))
    args = ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env), "--no-access-log"]
    args += ["--backend", f"web:80=http://{LOOPBACK}:{refused_port()}", *extra]
    return ProxyProcess(args)


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[ProxyProcess]:
    with start(tmp_path) as proxy:
        yield proxy.wait_serving()


def get(proxy: ProxyProcess, host: str) -> httpx.Response:
    return httpx.get(proxy.url() + "/", headers={"Host": host}, timeout=WAIT)


@pytest.mark.parametrize(
    ("host", "page", "service", "logged"),
    [
        ("shop.example.com", "502 Bad Gateway: could not connect to the upstream\n", REFUSING, "upstream error for"),
        ("pay.example.com", "503 Service Unavailable: no ready endpoint\n", EMPTY, "no ready endpoint"),
    ],
)
def test_the_service_is_named_in_the_log_not_to_the_client(
    plain: ProxyProcess, host: str, page: str, service: str, logged: str
) -> None:
    answer = get(plain, host)
    assert (answer.status_code, answer.text) == (int(page[:3]), page)
    assert service in plain.wait_stderr(logged)


def test_debug_pages_name_the_service(tmp_path: Path) -> None:
    with start(tmp_path, "--debug-pages") as proxy:
        proxy.wait_serving()
        assert REFUSING in get(proxy, "shop.example.com").text
        assert EMPTY in get(proxy, "pay.example.com").text


def test_service_error_names_the_service_only_when_debugging() -> None:
    quiet = pages.service_error(502, "the upstream failed", "ns/svc:80", debug=False, close=True)
    loud = pages.service_error(502, "the upstream failed", "ns/svc:80", debug=True, close=False)
    assert quiet.endswith(b"\r\n\r\n502 Bad Gateway: the upstream failed\n") and b"svc" not in quiet
    assert b"Connection: close" in quiet
    assert loud.endswith(b"502 Bad Gateway: the upstream failed (service ns/svc:80)\n")
    assert b"Connection: close" not in loud
