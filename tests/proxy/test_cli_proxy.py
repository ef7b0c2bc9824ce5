"""``gitops-ingress proxy`` as a user runs it: the sample environment over HTTP and HTTPS, file
reloads, the control-plane stream, and clear errors for bad input."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.config import read_settings
from gitops_ingress.core.routing import ServiceRef
from gitops_ingress.core.settings import SETTINGS_FILE
from gitops_ingress.proxy.sources.files import FileSource
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import LoopThread, TestUpstream

from .fixtures_ops import (
    LOOPBACK,
    PROXY_COMMAND,
    WAIT,
    CertificateAuthority,
    FakeControlPlane,
    ProxyProcess,
    ca_fixture,  # noqa: F401
    in_background,
    peer_serial,
    write,
)

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = REPO / "environments" / "production"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def sample_services_and_secrets() -> tuple[set[ServiceRef], dict[str, tuple[str, ...]]]:
    settings, _ = read_settings({SETTINGS_FILE: (REPO / SETTINGS_FILE).read_bytes()})
    table = FileSource([PRODUCTION], BackendMap(), settings).load().state.stable
    services = {r.backend for r in table.routes if isinstance(r.backend, ServiceRef)}
    if table.default_backend is not None and isinstance(table.default_backend.backend, ServiceRef):
        services.add(table.default_backend.backend)
    secrets: dict[str, tuple[str, ...]] = {}
    for entry in table.tls:
        secrets[entry.secret_name] = secrets.get(entry.secret_name, ()) + entry.hosts
    return services, secrets


def echo(answer: httpx.Response) -> dict[str, object]:
    record = json.loads(answer.text)
    record["headers"] = {k.lower(): v for k, v in record["headers"]}
    return record


def test_the_sample_environment_is_served_with_its_tls_hosts(
    tmp_path: Path, ca: CertificateAuthority, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    services, secrets = sample_services_and_secrets()
    assert len(secrets) >= 5
    serials = {name: ca.secret(tmp_path / "tls", name, *hosts) for name, hosts in secrets.items()}
    args = [
        "--listen",
        f"{LOOPBACK}:0",
        "--tls-listen",
        f"{LOOPBACK}:0",
        "--tls-dir",
        str(tmp_path / "tls"),
        "--ingress-dir",
        str(PRODUCTION),
        "--admin-listen",
        f"{LOOPBACK}:0",
        "--no-access-log",
    ]
    for ref in sorted(services, key=str):
        args += ["--backend", f"{ref}={upstream.url}"]
    with ProxyProcess(args) as proxy:
        proxy.wait_serving()
        with httpx.Client(base_url=proxy.url(), timeout=WAIT) as client:
            checkout = client.get("/checkout/confirm", headers={"Host": "shop.example.com"})
            assert checkout.status_code == 200 and echo(checkout)["path"] == "/checkout/confirm"
            assert (
                echo(client.get("/", headers={"Host": "Tools.Apps.Example.com:80"}))["headers"]["host"]
                == "Tools.Apps.Example.com:80"
            )
            unknown = client.get("/", headers={"Host": "a.b.apps.example.com"})
            assert unknown.status_code == 200  # the sample's defaultBackend takes unknown hosts
        port = urlsplit(proxy.url("https")).port
        assert port is not None
        assert peer_serial(port, "first.example.org", ca.path) == serials["first-example-org-tls"]
        assert peer_serial(port, "second.example.org", ca.path) == serials["second-example-org-tls"]
        assert peer_serial(port, "x.apps.example.com", ca.path) == serials["apps-example-com-wildcard-tls"]
        context = ssl.create_default_context(cafile=str(ca.path))
        with httpx.Client(verify=context, timeout=WAIT) as client:
            secure = client.get(
                f"https://{LOOPBACK}:{port}/",
                headers={"Host": "pay.example.com"},
                extensions={"sni_hostname": "pay.example.com"},
            )
        assert secure.status_code == 200
        assert echo(secure)["headers"]["x-forwarded-proto"] == "https"
        assert httpx.get(proxy.admin_url + "/readyz", timeout=WAIT).status_code == 200
        assert proxy.stop(signal.SIGTERM) == 0


def test_changed_files_are_served_without_a_restart(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream], loop_thread: LoopThread
) -> None:
    upstream = start_upstream("echo")
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    args = [
        "--listen",
        f"{LOOPBACK}:0",
        "--ingress-dir",
        str(env),
        "--backend",
        f"storefront:80={upstream.url}",
        "--backend",
        f"checkout:80={upstream.url}",
        "--no-access-log",
        "--admin-listen",
        f"{LOOPBACK}:0",
    ]
    with ProxyProcess(args) as proxy, httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
        assert client.get("/", headers={"Host": "pay.example.com"}).status_code == 404
        # a request in flight and an idle keep-alive connection across the reload
        in_flight, result = in_background(
            lambda: httpx.get(proxy.url() + "/hold", headers={"Host": "shop.example.com"}, timeout=WAIT)
        )
        assert upstream.stats.request_seen.wait(WAIT)
        write(env / "pay.yaml", to_yaml(ingress("pay", "pay.example.com", "checkout")))
        proxy.wait_stderr("route table version 2 loaded")
        loop_thread.call(upstream.release.set)
        in_flight.join(WAIT)
        assert isinstance(result[0], httpx.Response) and result[0].status_code == 200
        assert client.get("/", headers={"Host": "pay.example.com"}).status_code == 200
        metrics = httpx.get(proxy.admin_url + "/metrics", timeout=WAIT).text
        assert "gitops_ingress_proxy_open_connections 1.0" in metrics  # the same keep-alive connection
        write(env / "pay.yaml", "kind: Ingress\nmetadata: {name: [\n")
        line = proxy.wait_stderr("keeping the last good route table")
        assert f"{env}/pay.yaml:" in line
        assert client.get("/", headers={"Host": "pay.example.com"}).status_code == 200
        assert proxy.stop() == 0


def test_the_control_plane_stream_is_followed(
    start_upstream: Callable[[str], TestUpstream], loop_thread: LoopThread
) -> None:
    from gitops_ingress.core.routing import Route, RouteTable, RoutingState

    upstream = start_upstream("echo")
    plane = loop_thread.run(FakeControlPlane().__aenter__())
    try:
        args = [
            "--listen",
            f"{LOOPBACK}:0",
            "--controller",
            plane.url,
            "--admin-listen",
            f"{LOOPBACK}:0",
            "--no-access-log",
        ]
        with ProxyProcess(args) as proxy:
            proxy.wait_serving()
            assert httpx.get(proxy.admin_url + "/readyz", timeout=WAIT).status_code == 503
            table = RouteTable([Route("shop.example.com", "/", "Prefix", ServiceRef("shop", "web", "80"), "shop/web")])
            message = {
                "type": "state",
                "state": RoutingState(table, version=12).to_dict(),
                "backends": {"shop/web:80": [upstream.url]},
            }
            loop_thread.call(plane.send, message)
            proxy.wait_stderr("controller .*: route table version 12 loaded")
            ready = httpx.get(proxy.admin_url + "/readyz", timeout=WAIT)
            assert "version 12 from controller" in ready.text
            answer = httpx.get(proxy.url(), headers={"Host": "shop.example.com"}, timeout=WAIT)
            assert answer.status_code == 200
            assert proxy.stop() == 0
    finally:
        loop_thread.run(plane.__aexit__(None, None, None))


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PROXY_COMMAND, *args], capture_output=True, text=True, timeout=WAIT * 2, cwd=cwd, check=False
    )


def test_broken_ingress_files_exit_1_naming_file_and_line(tmp_path: Path) -> None:
    env = tmp_path / "production"
    write(env / "ok.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    write(env / "bad.yaml", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: [x\n")
    done = run_cli("--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env))
    assert done.returncode == 1, done.stderr
    assert f"{env}/bad.yaml:" in done.stderr and "Traceback" not in done.stderr
    assert "not serving" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "nonsense"], "--listen 'nonsense': expected HOST:PORT"),
        (["--listen", f"{LOOPBACK}:0"], "give --ingress-dir DIR"),
        (["--listen", f"{LOOPBACK}:0", "--ingress-dir", "x", "--controller", "http://127.0.0.1:1"], "alternatives"),
        (["--listen", f"{LOOPBACK}:0", "--ingress-dir", "/nonexistent/env"], "not a folder"),
        (["--listen", f"{LOOPBACK}:0", "--workers", "0", "--ingress-dir", "x"], "--workers 0"),
        (["--listen", f"{LOOPBACK}:0", "--ingress-dir", "x", "--backend", "nope"], "--backend 'nope'"),
        (["--listen", f"{LOOPBACK}:0", "--ingress-dir", "x", "--set", "read_timeout=-1"], "read_timeout"),
        (["--listen", f"{LOOPBACK}:0", "--ingress-dir", "x", "--set", "bogus=1"], "bogus"),
        (["--listen", f"{LOOPBACK}:0", "--ingress-dir", "x", "--tls-dir", "/nonexistent"], "--tls-dir"),
    ],
)
def test_usage_errors_exit_2_with_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    write(tmp_path / "x" / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
