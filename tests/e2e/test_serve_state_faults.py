"""Issue 12, point 5, with real ``serve`` processes: a state database truncated to 0 bytes, filled
with garbage or deleted while the mirror stays is never silently replaced (which would drop the
last good routes of a branch whose head is refused): ``serve`` exits 2 naming the file. Only
``--rebuild-state`` starts afresh: it validates every branch head again, serves the heads that
pass and gives a branch whose head is refused no routes, saying why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_ingress.core.naming import preview_host
from tests.e2e.test_serve import WAIT, ServeProcess, repository, served_by
from tests.support.manifests import ingress, to_yaml
from tests.support.processes import Child
from tests.support.upstreams import LoopThread, TestUpstream

pytestmark = pytest.mark.slow

BRANCH = "feature/new-shop"
STABLE_HOST = "shop.example.com"


@pytest.fixture
def upstreams() -> Iterator[dict[str, TestUpstream]]:
    loop = LoopThread()
    servers = {name: loop.run(TestUpstream().start()) for name in ("web", "web-v2")}
    yield servers
    loop.stop()


def _damage(db: Path, fault: str) -> None:
    if fault == "truncated":
        db.write_bytes(b"")
    elif fault == "garbage":
        db.write_bytes(b"this is not an SQLite database\n" * 200)
    else:
        db.unlink()


@pytest.mark.parametrize("fault", ["truncated", "garbage", "deleted"])
def test_a_damaged_state_database_stops_serve_until_a_rebuild_is_asked_for(
    tmp_path: Path, upstreams: dict[str, TestUpstream], fault: str
) -> None:
    remote, work = repository(tmp_path)
    backends = {f"{name}:80": up.url for name, up in upstreams.items()}
    db = tmp_path / "state" / "state.db"
    preview = preview_host(BRANCH, STABLE_HOST, "preview.localhost")

    # a first start with an empty state folder just works; main's next head is refused and its
    # last good routes keep serving
    db.parent.mkdir()
    first = ServeProcess(tmp_path, remote.url, backends)
    try:
        with first.states() as wait:
            wait(lambda s: BRANCH in s.previews and bool(s.stable.routes))
        work.switch("main")
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "Shop_Example.com", "web"))})
        bad = work.commit("bad host")
        work.push("main")
        assert first.webhook("main").status_code == 202
        first.poll(lambda: first.branches()["main"]["state"] == "refused", "main's refusal")
        before = len(upstreams["web"].stats.requests)
        assert served_by(upstreams["web"], first.get(STABLE_HOST), before)
    finally:
        assert first.stop() == 0, first.log()

    _damage(db, fault)
    damaged = db.read_bytes() if db.exists() else None
    refused = Child(first_args(first), wait=WAIT)
    error = refused.expect(r"gitops-ingress serve: error: ").string
    assert refused.proc.wait(WAIT) == 2, refused.log()
    assert str(db) in error and "--rebuild-state" in error, error
    assert {"truncated": "empty", "garbage": "corrupt", "deleted": "missing"}[fault] in error, error
    assert "Traceback" not in refused.log()
    assert (db.read_bytes() if db.exists() else None) == damaged  # left as it was found

    rebuilt = ServeProcess(tmp_path, remote.url, backends, "--rebuild-state")
    try:
        with rebuilt.states() as wait:
            wait(lambda s: BRANCH in s.previews)
        rebuilt.poll(lambda: rebuilt.branches()["main"]["state"] == "refused", "main's refusal after the rebuild")
        assert "state database rebuilt" in rebuilt.log() and str(db) in rebuilt.log()
        before = len(upstreams["web-v2"].stats.requests)
        assert served_by(upstreams["web-v2"], rebuilt.get(preview), before)  # a head that validates
        main = rebuilt.branches()["main"]
        assert main["head"]["sha"] == bad and main["applied_commit"] is None, main
        assert "environments/production/shop.yaml:" in main["message"], main  # why it has no routes
        assert all(env["route_count"] == 0 for env in main["environments"]), main
        assert rebuilt.get(STABLE_HOST).status_code == 404  # no routes it cannot vouch for
    finally:
        assert rebuilt.stop() == 0, rebuilt.log()
    if fault != "deleted":
        assert list(db.parent.glob("state.db.broken-*")), "the old file is kept, not deleted"

    # the rebuilt database is an ordinary one: the next start needs no option
    again = ServeProcess(tmp_path, remote.url, backends)
    try:
        again.poll(lambda: again.branches()["main"]["state"] == "refused", "main after a plain restart")
    finally:
        assert again.stop() == 0, again.log()


def first_args(serve: Child) -> list[str]:
    """The arguments ``serve`` was started with (the same state folder, repository and ports)."""
    args = serve.proc.args
    assert isinstance(args, list)
    return [str(a) for a in args[3:]]  # after "python -m gitops_ingress"
