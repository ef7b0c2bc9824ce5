"""A mirror deleted under a running ``serve`` is noticed at the next readiness probe, not at the
next fetch (the poll here is an hour away): ``/readyz`` says so at once, the probe's check asks
for a fetch, which makes the mirror again, and ``/readyz`` turns ready; the last good routes serve
throughout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e import test_serve
from tests.e2e.test_serve import ServeProcess, served_by
from tests.kube.target_kit import shop_remote
from tests.support.upstreams import TestUpstream

upstreams = test_serve.upstreams  # the fixture


@pytest.mark.slow
def test_a_deleted_mirror_is_reported_at_once_and_made_again(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    remote, _work = shop_remote(tmp_path)
    serve = ServeProcess(tmp_path, remote.url, {"web:80": upstreams["web"].url})
    mirror = tmp_path / "state" / "mirror.git"
    try:
        with serve.states() as wait:
            wait(lambda s: bool(s.stable.routes))
        assert serve.http.get(f"{serve.api}/readyz").status_code == 200
        shutil.rmtree(mirror)
        probe = serve.http.get(f"{serve.api}/readyz")
        assert probe.status_code == 503 and f"the mirror {mirror} is gone" in probe.text, probe.text
        before = len(upstreams["web"].stats.requests)
        assert served_by(upstreams["web"], serve.get("shop.example.com"), before)
        serve.poll(lambda: serve.http.get(f"{serve.api}/readyz").status_code == 200, "the mirror made again")
        assert (mirror / "HEAD").is_file()
        assert serve.branches()["main"]["state"] == "applied"
    finally:
        code = serve.stop()
    assert code == 0, serve.log()
