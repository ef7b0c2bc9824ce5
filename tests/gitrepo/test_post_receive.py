"""The sample post-receive hook, run by a real `git push`, notifies a real HTTP endpoint."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gitops_ingress.core.webhooks import Action, Forge, handle
from tests.support.gitrepos import PROJECT_ROOT, Remote, WorkTree, git

HOOK = PROJECT_ROOT / "hooks" / "post-receive"
TOKEN = "hook-token-0123456789"


@contextmanager
def recorder() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    received: list[tuple[str, dict[str, str], bytes]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                received.append((self.path, dict(self.headers.items()), body))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def configure(remote: Remote, url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    remote.install_hook("post-receive", HOOK)
    git(remote.path, "config", "gitops-ingress.url", url)
    git(remote.path, "config", "gitops-ingress.tokenFile", str(token_file))


@pytest.mark.slow
def test_hook_posts_one_verified_delivery_per_branch(remote: Remote, work: WorkTree, tmp_path: Path) -> None:
    with recorder() as (url, received):
        configure(remote, url + "/", tmp_path)
        work.write({"environments/a.yaml": "a: 1\n"})
        head = work.commit("a")
        work.push("main")
        work.push('feature/"quoted"-ünï')
        git(work.path, "tag", "v1")
        git(work.path, "push", "-q", "origin", "refs/tags/v1:refs/tags/v1")
        work.delete_remote_branch('feature/"quoted"-ünï')
        # git runs post-receive before `push` returns, so every request has arrived by now
        events = [handle(headers, body, TOKEN) for _, headers, body in received]

    assert [path for path, _, _ in received] == ["/webhooks/generic"] * 3
    assert [(e.forge, e.action, e.branch, e.created, e.deleted) for e in events] == [
        (Forge.GENERIC, Action.FETCH, "main", True, False),
        (Forge.GENERIC, Action.FETCH, 'feature/"quoted"-ünï', True, False),
        (Forge.GENERIC, Action.FETCH, 'feature/"quoted"-ünï', False, True),
    ]
    assert events[0].after == head
    assert len({e.delivery_id for e in events}) == 3
    assert all(TOKEN not in str(headers.get("X-Request-Id")) for _, headers, _ in received)


@pytest.mark.slow
def test_hook_never_fails_the_push(remote: Remote, work: WorkTree, tmp_path: Path) -> None:
    configure(remote, "http://127.0.0.1:1", tmp_path)
    work.write({"environments/a.yaml": "a: 1\n"})
    head = work.commit("a")
    work.push("main")
    assert remote.branches() == {"main": head}
