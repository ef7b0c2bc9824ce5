"""The control-plane stream as deltas, between the real processes: ``serve`` and a separate
``gitops-ingress proxy --controller``.

Twelve previewed branches of ten rules each are live; a push to one of them must reach the stream
as a ``delta`` line that carries that branch alone (bytes in proportion to the branch, not to the
whole state), the proxy process must apply it to the state it holds and route the new commit, and
a proxy that connects afterwards must start from a whole state that already has the change.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from gitops_ingress.core.naming import preview_host
from tests.e2e import test_serve
from tests.e2e.test_serve import WAIT, ServeProcess
from tests.proxy.fixtures_ops import LOOPBACK, ProxyProcess
from tests.support.gitrepos import make_remote
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

BRANCHES = [f"feature/f{n:02d}" for n in range(12)]
upstreams = test_serve.upstreams  # the fixture: web, web-v2 and web-v3
PATHS = [f"/r{n}" for n in range(10)]


def manifests(service: str) -> dict[str, str]:
    return {"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", service, paths=PATHS))}


@pytest.mark.slow
def test_one_branch_push_streams_a_delta_the_proxy_process_applies(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    remote = make_remote(tmp_path)
    work = remote.clone()
    work.write(manifests("web"))
    work.commit("stable")
    work.push("main")
    for branch in BRANCHES:
        work.push(branch)
    changed = BRANCHES[3]
    host = preview_host(changed, "shop.example.com", "preview.localhost")
    serve = ServeProcess(tmp_path, remote.url, {f"{name}:80": up.url for name, up in upstreams.items()})
    try:
        with serve.states() as wait:
            live = wait(lambda s: set(BRANCHES) <= set(s.previews) and bool(s.stable.routes))
        args = ["--listen", f"{LOOPBACK}:0", "--controller", serve.api, "--no-access-log"]
        with ProxyProcess(args) as proxy, serve.http.stream("GET", f"{serve.api}/api/v1/proxy/stream") as stream:
            proxy.wait_serving()
            proxy.wait_stderr(f"controller .*: route table version {live.version} loaded")
            lines = stream.iter_lines()
            first = json.loads(next(lines))
            assert first["type"] == "state" and first["revision"] == live.version
            whole = len(json.dumps(first, separators=(",", ":")))

            work.switch(changed)
            work.write(manifests("web-v2"))
            work.commit("v2")
            work.push(changed)
            assert serve.webhook(changed).status_code == 202
            delta = json.loads(next(lines))
            assert delta["type"] == "delta" and delta["base"] == live.version
            assert list(delta["previews"]) == [changed] and "stable" not in delta
            # one branch of thirteen tables: far less than the whole state
            assert len(json.dumps(delta, separators=(",", ":"))) * 6 < whole

            proxy.wait_stderr(f"controller .*: route table version {delta['revision']} loaded")
            before = len(upstreams["web-v2"].stats.requests)
            answer = httpx.get(proxy.url() + "/r7", headers={"Host": host}, timeout=WAIT)
            assert answer.status_code == 200 and len(upstreams["web-v2"].stats.requests) == before + 1
            other = preview_host(BRANCHES[5], "shop.example.com", "preview.localhost")
            before = len(upstreams["web"].stats.requests)
            assert httpx.get(proxy.url() + "/r1", headers={"Host": other}, timeout=WAIT).status_code == 200
            assert len(upstreams["web"].stats.requests) == before + 1
            assert proxy.stop() == 0

        # a proxy that connects now starts from a whole state that holds the change
        late = ["--listen", f"{LOOPBACK}:0", "--controller", serve.api, "--no-access-log"]
        with ProxyProcess(late) as proxy:
            proxy.wait_serving()
            proxy.wait_stderr(f"controller .*: route table version {delta['revision']} loaded")
            before = len(upstreams["web-v2"].stats.requests)
            answer = httpx.get(proxy.url() + "/r2", headers={"Host": host}, timeout=WAIT)
            assert answer.status_code == 200 and len(upstreams["web-v2"].stats.requests) == before + 1
            assert proxy.stop() == 0
    finally:
        code = serve.stop()
    assert code == 0, serve.log()
