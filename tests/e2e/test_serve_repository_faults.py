"""Issue 12, point 13, with real ``serve`` processes: a ``--repo`` that is a local path but no
repository fails at start (exit 2, naming it) instead of retrying forever; an unreachable URL keeps
retrying, with git's whole message in the log and in ``/readyz``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.gitrepo.servers import closed_port
from tests.support.processes import Child, poll, serve_args

WAIT = 20.0
READY = r"gitops-ingress serve: api (\S+) "

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", ["missing", "empty folder", "plain file"])
def test_a_local_path_that_is_no_repository_fails_at_start(tmp_path: Path, kind: str) -> None:
    repo = tmp_path / "repo.git"
    if kind == "empty folder":
        repo.mkdir()
    elif kind == "plain file":
        repo.write_text("not a repository\n")
    serve = Child(serve_args(tmp_path, str(repo)), wait=WAIT)
    error = serve.expect(r"gitops-ingress serve: error: ").string
    assert serve.proc.wait(WAIT) == 2
    assert str(repo) in error and ("no such folder" in error or "not a git repository" in error), error
    assert "Traceback" not in serve.log()


def test_an_unreachable_url_is_retried_and_reported_whole(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/config.git"
    serve = Child(serve_args(tmp_path, url), READY, wait=WAIT)
    try:
        with httpx.Client(base_url=serve.address, timeout=WAIT) as client:
            poll(lambda: client.get("/readyz").status_code == 503, "/readyz 503", WAIT, logs=serve.log)
            ready = client.get("/readyz")
            assert "127.0.0.1" in ready.text and "connect" in ready.text.lower(), ready.text
            assert client.get("/healthz").status_code == 200  # alive, only not ready
        serve.expect(r"fetch failed .*unable to access .*Failed to connect")  # the cause, not only the last line
    finally:
        serve.stop()
