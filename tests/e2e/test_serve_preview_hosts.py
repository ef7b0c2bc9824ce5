"""Two hosts of one branch whose preview hosts fold alike stay apart (issue 12, point 15).

``a-b.example.com`` and ``a.b.example.com`` both fold to ``a-b-example-com``; the fold is lossy
for the first (its dash), which therefore carries a hash of the full host (docs/previews.md). This
runs the real ``gitops-ingress serve`` on a real bare repository: the branch's preview URLs come
from its API, and each preview host, asked through serve's own proxy, reaches its own backend.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_serve import ServeProcess, served_by, upstreams
from tests.support.gitrepos import make_branching_remote
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

pytestmark = [pytest.mark.slow]

BRANCH = "feature/two-hosts"
__all__ = ["upstreams"]  # the fixture, imported for its name


def test_hosts_that_fold_alike_get_two_preview_hosts_each_with_its_own_backend(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    remote, _work = make_branching_remote(
        tmp_path,
        {"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web"))},
        BRANCH,
        {
            "environments/production/dash.yaml": to_yaml(ingress("dash", "a-b.example.com", "web-v2")),
            "environments/production/dot.yaml": to_yaml(ingress("dot", "a.b.example.com", "web-v3")),
        },
    )
    serve = ServeProcess(tmp_path, remote.url, {f"{name}:80": up.url for name, up in upstreams.items()})
    try:

        def applied() -> bool:
            status = serve.branches().get(BRANCH)
            return status is not None and status["state"] == "applied"

        serve.poll(applied, "the branch applied")
        urls = serve.branches()[BRANCH]["preview_urls"]
        hosts = {p["stable_host"]: p["host"] for p in urls}
        # one preview host per stable host (the stable shop.example.com is on the branch too)
        assert len(urls) == 3 and set(hosts) == {"shop.example.com", "a-b.example.com", "a.b.example.com"}, urls
        assert hosts["a-b.example.com"] != hosts["a.b.example.com"], hosts
        for stable, backend in (("a-b.example.com", "web-v2"), ("a.b.example.com", "web-v3")):
            before = len(upstreams[backend].stats.requests)
            answer = serve.get(hosts[stable])
            assert served_by(upstreams[backend], answer, before), (stable, hosts[stable], answer.text)
            forwarded = {str(k).lower(): v for k, v in upstreams[backend].stats.requests[-1]["headers"]}
            assert forwarded["host"] == stable  # the backend sees the host it serves
        assert not upstreams["web"].stats.requests
    finally:
        assert serve.stop() == 0, serve.log()
