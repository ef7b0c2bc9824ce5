"""``serve``'s embedded proxy is the proxy worker of ``gitops-ingress proxy``: same admin port.

Both commands run as real processes against one real upstream: ``serve --proxy-admin-listen``
routes from a bare repository, ``proxy --admin-listen`` from a folder with the same Ingress. Their
admin ports must answer the same paths with the same statuses and content types and expose the
same metric families; and the embedded proxy's ``/metrics`` must count the requests that really
went through it (before issue 11 the embedded proxy had no admin port and its metrics were lost).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_serve import ServeProcess, served_by
from tests.proxy.fixtures_ops import ProxyProcess
from tests.support.gitrepos import make_remote
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import LoopThread, TestUpstream

WAIT = 20.0
HOST = "shop.example.com"
SHOP = {"environments/production/shop.yaml": to_yaml(ingress("shop", HOST, "web"))}
# (method, path): every admin route, a HEAD, a refused method and two unknown paths
PROBES = [
    ("GET", "/healthz"),
    ("HEAD", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/metrics?name[]=x"),
    ("POST", "/metrics"),
    ("GET", "/"),
    ("GET", "/admin"),
]


@pytest.fixture
def upstream() -> Iterator[TestUpstream]:
    loop = LoopThread()
    yield loop.run(TestUpstream().start())
    loop.stop()


def surface(admin: str) -> dict[tuple[str, str], tuple[int, str]]:
    """(method, path) -> (status, content type) on an admin port."""
    answers = {}
    for method, path in PROBES:
        answer = httpx.request(method, admin + path, timeout=WAIT)
        answers[(method, path)] = (answer.status_code, answer.headers.get("content-type", ""))
    return answers


def families(admin: str) -> set[tuple[str, str]]:
    text = httpx.get(admin + "/metrics", timeout=WAIT).text
    return {(family.name, family.type) for family in text_string_to_metric_families(text)}


def gauge(admin: str, name: str) -> float:
    text = httpx.get(admin + "/metrics", timeout=WAIT).text
    (value,) = [s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]
    return value


def answered(admin: str, host: str) -> float:
    """Requests the proxy behind ``admin`` counted as answered 2xx for ``host``."""
    text = httpx.get(admin + "/metrics", timeout=WAIT).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gitops_ingress_proxy_requests_total"
        and sample.labels.get("host") == host
        and sample.labels.get("status_class") == "2xx"
    )


@pytest.mark.slow
def test_serve_exposes_the_same_admin_endpoints_as_proxy(tmp_path: Path, upstream: TestUpstream) -> None:
    remote = make_remote(tmp_path)
    work = remote.clone()
    work.write(SHOP)
    work.commit("shop")
    work.push("main")
    folder = tmp_path / "files" / "production"
    folder.mkdir(parents=True)
    (folder / "shop.yaml").write_text(SHOP["environments/production/shop.yaml"])
    backend = f"web:80={upstream.url}"

    serve = ServeProcess(tmp_path, remote.url, {"web:80": upstream.url}, "--proxy-admin-listen", "127.0.0.1:0")
    proxy_args = ["--listen", "127.0.0.1:0", "--ingress-dir", str(folder), "--backend", backend]
    proxy_args += ["--no-access-log", "--admin-listen", "127.0.0.1:0"]
    try:
        with ProxyProcess(proxy_args) as proxy:
            proxy.wait_serving()
            found = re.search(r" admin (\S+)", "".join(serve.lines))
            assert found, serve.log()
            serve_admin = found[1]
            with serve.states() as wait:
                streamed = wait(lambda s: bool(s.stable.routes))
            # one routing state: the embedded proxy serves the version the control plane streams
            assert gauge(serve_admin, "gitops_ingress_proxy_route_table_version") == streamed.version

            assert surface(serve_admin) == surface(proxy.admin_url)
            assert families(serve_admin) == families(proxy.admin_url)
            ready = httpx.get(serve_admin + "/readyz", timeout=WAIT)
            assert ready.status_code == 200 and "from serve" in ready.text, ready.text

            assert answered(serve_admin, HOST) == 0
            for _ in range(3):
                before = len(upstream.stats.requests)
                assert served_by(upstream, serve.get(HOST), before)
            assert answered(serve_admin, HOST) == 3
            before = len(upstream.stats.requests)
            assert served_by(upstream, httpx.get(proxy.url(), headers={"Host": HOST}, timeout=WAIT), before)
            assert answered(proxy.admin_url, HOST) == 1  # the same counting in both
            assert proxy.stop() == 0
    finally:
        code = serve.stop()
    assert code == 0, serve.log()
