"""The "done when" of the Kubernetes issue, end to end on loopback with real processes:

``gitops-ingress serve --target kubernetes`` against a bare repository and the stand-in API server
builds the stable and preview namespaces and Ingresses (checked with the real ``kubectl``); a push
updates them; a deleted branch's namespace goes away; ``gitops-ingress proxy --kubernetes`` routes
stable and preview hosts to the endpoints it watches and publishes its address in each Ingress's
status. Waits poll kubectl or HTTP with a deadline, never sleep.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gitops_ingress.core.naming import preview_host
from tests.kube.source_kit import Cluster
from tests.kube.target_kit import environment, envs, make_target, run
from tests.proxy.fixtures_ops import CertificateAuthority, peer_serial
from tests.support.gitrepos import make_branching_remote
from tests.support.kubeapi import StandIn, run_stand_in
from tests.support.manifests import ingress, to_yaml
from tests.support.processes import Child
from tests.support.processes import poll as wait_for
from tests.support.upstreams import LoopThread, TestUpstream

WAIT = 30.0
DOMAIN = "preview.example.com"
KUBECTL = "/usr/bin/kubectl"


def poll(condition: Callable[[], bool], what: str, logs: Callable[[], str] = lambda: "") -> None:
    wait_for(condition, what, WAIT, every=0.1, logs=logs)


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    with run_stand_in(bookmark_interval=0.5) as server:
        yield server


@pytest.mark.slow
def test_serve_and_proxy_on_kubernetes(stand_in: StandIn, tmp_path: Path) -> None:
    env = {**os.environ, "KUBECONFIG": str(stand_in.kubeconfig_path)}
    env = {k: v for k, v in env.items() if not k.startswith("GITOPS_INGRESS_")}

    def kubectl(*args: str) -> str:
        result = subprocess.run(
            [KUBECTL, "--cache-dir", str(tmp_path / "kcache"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    remote, work = make_branching_remote(
        tmp_path,
        {"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web", port="http"))},
        "feature/login",
        {"environments/production/login.yaml": to_yaml(ingress("login", "login.example.com", "web", port="http"))},
    )

    loop = LoopThread()
    web = loop.run(TestUpstream().start())
    cluster = Cluster(stand_in)
    cluster.namespace("shop")  # the team's namespace, with its Service: not ours, never changed
    cluster.service("shop", "web", port=80, port_name="http", target=web.port)
    cluster.endpoints("shop", "web", ready=["127.0.0.1"], port=web.port)

    serve = Child(
        [
            "serve",
            "--repo",
            str(remote.path),
            "--target",
            "kubernetes",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            str(tmp_path / "state"),
            "--poll-interval",
            "0.5",
            "--preview-domain",
            DOMAIN,
        ],
        r"api (http://\S+) target kubernetes",
        wait=WAIT,
        env=env,
    )
    proxy = Child(
        [
            "proxy",
            "--kubernetes",
            "--listen",
            "127.0.0.1:0",
            "--publish-address",
            "127.0.0.1",
            "--preview-domain",
            DOMAIN,
            "--no-access-log",
        ],
        r"serving (http://\S+)",
        wait=WAIT,
        env=env,
    )

    def logs() -> str:
        return serve.log(30) + proxy.log(30)

    try:

        def table() -> str:
            return kubectl("get", "ingress", "-A", "--no-headers")

        poll(lambda: "shop-feature-login-" in table() and "login" in table(), "stable and preview Ingresses", logs)
        rows = {tuple(line.split()[:2]) for line in table().splitlines()}
        preview_ns = next(ns for ns, _ in rows if ns.startswith("shop-feature-login"))
        assert rows == {("shop", "shop"), (preview_ns, "shop"), (preview_ns, "login")}
        assert "gitops-ingress" not in kubectl("get", "namespace", "shop", "--show-labels")
        labels = kubectl("get", "namespace", preview_ns, "-o", "jsonpath={.metadata.labels}")
        assert '"app.kubernetes.io/managed-by":"gitops-ingress"' in labels

        # the proxy routes the stable host and both preview hosts to the endpoint it watches
        http = httpx.Client(base_url=proxy.address, timeout=WAIT)
        login_preview = preview_host("feature/login", "login.example.com", DOMAIN)
        poll(lambda: http.get("/", headers={"Host": login_preview}).status_code == 200, "preview routed", logs)
        assert http.get("/", headers={"Host": "shop.example.com"}).status_code == 200
        seen = web.stats.requests[-1]
        headers = {k.lower(): v for k, v in seen["headers"]}
        assert headers["host"] == "shop.example.com"
        http.get("/", headers={"Host": login_preview})
        headers = {k.lower(): v for k, v in web.stats.requests[-1]["headers"]}
        assert headers["host"] == "login.example.com" and headers["x-forwarded-host"] == login_preview
        assert http.get("/", headers={"Host": "login.example.com"}).status_code == 404  # not on main yet
        poll(lambda: "127.0.0.1" in table(), "the proxy's address in kubectl get ingress", logs)

        # a push updates the preview
        work.write(
            {"environments/production/login.yaml": to_yaml(ingress("login", "signin.example.com", "web", port="http"))}
        )
        work.commit("rename")
        work.push("feature/login")
        poll(lambda: preview_host("feature/login", "signin.example.com", DOMAIN) in table(), "the push", logs)
        signin = preview_host("feature/login", "signin.example.com", DOMAIN)
        poll(lambda: http.get("/", headers={"Host": signin}).status_code == 200, "updated preview routed", logs)

        # deleting the branch removes its namespace, and the proxy stops serving its previews
        work.delete_remote_branch("feature/login")
        poll(lambda: preview_ns not in kubectl("get", "namespaces", "-o", "name"), "namespace removal", logs)
        poll(lambda: http.get("/", headers={"Host": signin}).status_code == 404, "preview gone from the proxy", logs)
        assert http.get("/", headers={"Host": "shop.example.com"}).status_code == 200
    finally:
        assert proxy.stop() == 0, logs()
        assert serve.stop() == 0, logs()
        loop.stop()


@pytest.mark.slow
def test_proxy_serves_the_tls_secrets_its_ingresses_name(stand_in: StandIn, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_INGRESS_")}
    env["KUBECONFIG"] = str(stand_in.kubeconfig_path)
    ca = CertificateAuthority(tmp_path / "ca")
    tls_dir = tmp_path / "tls"
    default_serial = ca.secret(tls_dir, "default", "default.invalid")
    shop_serial = ca.issue(tmp_path / "shop.crt", tmp_path / "shop.key", "shop.example.com")
    cluster = Cluster(stand_in)
    cluster.namespace("shop")
    cluster.tls_secret("shop", "shop-tls", (tmp_path / "shop.crt").read_bytes(), (tmp_path / "shop.key").read_bytes())
    run(
        make_target(stand_in).apply(
            "main",
            True,
            envs(environment("production", "c1", ingress("shop", "shop.example.com", "web", tls_secret="shop-tls"))),
        )
    )
    proxy = Child(
        [
            "proxy",
            "--kubernetes",
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-dir",
            str(tls_dir),
            "--no-access-log",
        ],
        r"serving http://\S+, (https://\S+)",
        wait=WAIT,
        env=env,
    )
    try:
        port = int(proxy.address.rsplit(":", 1)[1])
        assert peer_serial(port, "other.example.com", ca.path) == default_serial
        poll(
            lambda: peer_serial(port, "shop.example.com", ca.path) == shop_serial,
            "the Secret's certificate",
            lambda: proxy.log(20),
        )
    finally:
        assert proxy.stop() == 0
