"""The client protocol label (h1, h2) of request metrics, over real sockets (issue 15.6).

Once with the recording observer of conftest.py, which keeps the protocol of each answer, and
once end to end: the wired proxy (app.serve) with h2c on, its /metrics on the admin port.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

from .conftest import ProxyHarness, backends, make_state, route
from .fixtures_ops import WAIT, ProxyThread, write
from .h2client import H2Client
from .test_metrics_proxy import options

pytestmark = pytest.mark.timeout(60)


def test_each_answer_is_counted_with_the_protocol_its_client_spoke(
    make_proxy: Callable[..., ProxyHarness], start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    state = make_state([route("shop.example.com", "/", "web")])
    proxy = make_proxy(state, backends({"web": [upstream.url]}), ProxySettings(h2c=True))
    client = H2Client(proxy.port).start()
    assert client.answer(client.request("/one")).status == 200
    assert client.answer(client.request("/two")).status == 200  # the connection's second request
    assert client.answer(client.request("/", host="nowhere.example.net")).status == 404
    client.close()
    with httpx.Client(base_url=proxy.url, headers={"Host": "shop.example.com"}, timeout=WAIT) as http:
        assert http.get("/three").status_code == 200
        assert http.get("/", headers={"Host": "nowhere.example.net"}).status_code == 404
    assert proxy.loop.call(proxy.observer.counted) == {
        ("stable", "", "shop.example.com", "h2", "2xx"): 2,
        ("stable", "", "", "h2", "4xx"): 1,
        ("stable", "", "shop.example.com", "h1", "2xx"): 1,
        ("stable", "", "", "h1", "4xx"): 1,
    }


def test_metrics_endpoint_shows_h2_and_h1_requests_apart(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    plain = options(tmp_path, upstream, access_log=False)
    # refused by an annotation before the request is routed: counted where the exchange ends
    allowed = {"nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8"}
    write(tmp_path / "production" / "inner.yaml", to_yaml(ingress("inner", "inner.example.com", annotations=allowed)))
    with ProxyThread(dataclasses.replace(plain, proxy=plain.proxy.with_changes(h2c=True))) as proxy:
        port = int(proxy.url().rsplit(":", 1)[1])
        client = H2Client(port).start()
        for path in ("/a", "/b"):
            assert client.answer(client.request(path)).status == 200
        assert client.answer(client.request("/", host="inner.example.com")).status == 403
        client.close()
        answer = httpx.get(proxy.url() + "/c", headers={"Host": "shop.example.com"}, timeout=WAIT)
        assert answer.status_code == 200
        proxy.call(lambda: None)  # one round trip through the loop: every callback before it ran
        metrics = httpx.get(proxy.admin_url + "/metrics", timeout=WAIT).text
    series = 'requests_total{branch="",host="shop.example.com",kind="stable",protocol="%s",status_class="2xx"}'
    assert f"{series % 'h2'} 2.0" in metrics
    assert f"{series % 'h1'} 1.0" in metrics
    # no route labels yet ("-"), but the protocol is known from the connection
    assert 'requests_total{branch="",host="-",kind="stable",protocol="h2",status_class="4xx"} 1.0' in metrics
