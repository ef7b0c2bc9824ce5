"""``gitops-ingress serve`` as a real process: the "done when" of issue 4, end to end on loopback.

A bare repository holds ``main`` and a feature branch; ``serve --repo BARE --backend ...`` must
serve the stable host from ``main`` and the preview host from the branch through its own proxy; a
push plus webhook changes the preview within a second; a bad commit is refused and shown while the
last good routes keep serving; deleting the branch removes the preview; SIGTERM exits 0. Waits
follow the control-plane stream (every routing change is a line), or poll the API with a deadline.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.routing import RoutingState
from gitops_ingress.core.stream import Followed, decode_line
from gitops_ingress.core.stream import apply as stream_apply
from tests.support.gitrepos import Remote, WorkTree, make_branching_remote
from tests.support.manifests import ingress, to_yaml
from tests.support.processes import Child, poll, serve_args
from tests.support.upstreams import LoopThread, TestUpstream

WAIT = 20.0
SECRET = "e2e-secret"
_READY = r"gitops-ingress serve: api (\S+) proxy (\S+)"


class ServeProcess(Child):
    """One ``gitops-ingress serve`` child, with an HTTP client for its API and its proxy."""

    def __init__(
        self,
        tmp_path: Path,
        repo: str,
        backends: dict[str, str],
        *extra: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``cwd``: the checkout whose ``gitops_ingress`` runs (bench/scale.py's peer); this one by
        default. ``env``: the child's environment (this process's by default)."""
        secret_file = tmp_path / "webhook-secret"
        secret_file.write_text(SECRET + "\n")
        args = serve_args(tmp_path, repo, "--webhook-secret-file", str(secret_file), *extra)
        for key, url in backends.items():
            args += ["--backend", f"{key}={url}"]
        super().__init__(args, _READY, wait=WAIT, cwd=cwd, env=env)
        self.api, self.proxy = self.groups
        self.http = httpx.Client(timeout=WAIT)

    def webhook(self, branch: str) -> httpx.Response:
        return self.http.post(
            f"{self.api}/webhooks/generic",
            json={"ref": f"refs/heads/{branch}"},
            headers={"Authorization": f"Bearer {SECRET}"},
        )

    def get(self, host: str, path: str = "/") -> httpx.Response:
        return self.http.get(f"{self.proxy}{path}", headers={"Host": host})

    def branches(self) -> dict[str, dict[str, Any]]:
        return {b["name"]: b for b in self.http.get(f"{self.api}/api/branches").json()}

    @contextmanager
    def states(self) -> Iterator[Callable[[Callable[[RoutingState], bool]], RoutingState]]:
        """``wait(predicate)`` returns the first streamed state for which ``predicate`` holds."""
        with self.http.stream("GET", f"{self.api}/api/v1/proxy/stream") as response:
            lines = response.iter_lines()

            followed: list[Followed | None] = [None]

            def wait(predicate: Callable[[RoutingState], bool]) -> RoutingState:
                deadline = time.monotonic() + WAIT
                for line in lines:
                    current = followed[0] = stream_apply(followed[0], decode_line(line.encode()))
                    if current is not None and predicate(current.state):
                        return current.state
                    if time.monotonic() > deadline:
                        break
                raise AssertionError("the stream never showed the expected state")

            yield wait

    def poll(self, condition: Callable[[], bool], what: str) -> None:
        """Poll the API until ``condition`` (for states the route stream does not show)."""
        poll(condition, what, WAIT)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.http.close()
        return super().stop(sig)


@pytest.fixture
def upstreams() -> Iterator[dict[str, TestUpstream]]:
    loop = LoopThread()
    servers = {name: loop.run(TestUpstream().start()) for name in ("web", "web-v2", "web-v3")}
    yield servers
    loop.stop()


def served_by(upstream: TestUpstream, response: httpx.Response, before: int) -> bool:
    return response.status_code == 200 and len(upstream.stats.requests) == before + 1


def repository(tmp_path: Path) -> tuple[Remote, WorkTree]:
    return make_branching_remote(
        tmp_path,
        {"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web"))},
        "feature/new-shop",
        {"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v2"))},
    )


@pytest.mark.slow
def test_serve_stable_and_preview_push_refuse_delete(tmp_path: Path, upstreams: dict[str, TestUpstream]) -> None:
    remote, work = repository(tmp_path)
    branch = "feature/new-shop"
    host = preview_host(branch, "shop.example.com", "preview.localhost")
    serve = ServeProcess(tmp_path, remote.url, {f"{name}:80": up.url for name, up in upstreams.items()})
    try:
        with serve.states() as wait:
            wait(lambda s: branch in s.previews and bool(s.stable.routes))
            for name, target_host in (("web", "shop.example.com"), ("web-v2", host)):
                before = len(upstreams[name].stats.requests)
                answer = serve.get(target_host)
                assert served_by(upstreams[name], answer, before), (name, answer.text)
            forwarded = {str(k).lower(): v for k, v in upstreams["web-v2"].stats.requests[-1]["headers"]}
            assert (forwarded["host"], forwarded["x-forwarded-host"]) == ("shop.example.com", host)

            # a push to the branch changes the preview (how fast is bench/sync.py's business)
            work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v3"))})
            work.commit("v3")
            work.push(branch)
            assert serve.webhook(branch).status_code == 202
            wait(lambda s: str(s.resolve(host, "/").match.backend) == "shop/web-v3:80")
            before = len(upstreams["web-v3"].stats.requests)
            assert served_by(upstreams["web-v3"], serve.get(host), before)

        # a bad commit is refused and shown; the last good routes keep serving
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "Shop_Example.com", "web"))})
        bad = work.commit("bad host")
        work.push(branch)
        assert serve.webhook(branch).status_code == 202
        serve.poll(lambda: serve.branches()[branch]["state"] == "refused", "the refusal")
        status = serve.branches()[branch]
        assert status["head"]["sha"] == bad and "environments/production/shop.yaml:" in status["message"]
        before = len(upstreams["web-v3"].stats.requests)
        assert served_by(upstreams["web-v3"], serve.get(host), before)

        # deleting the branch removes its preview
        with serve.states() as wait:
            work.delete_remote_branch(branch)
            assert serve.webhook(branch).status_code == 202
            wait(lambda s: branch not in s.previews)
        assert serve.get(host).status_code == 404
        assert branch not in serve.branches()
        before = len(upstreams["web"].stats.requests)
        assert served_by(upstreams["web"], serve.get("shop.example.com"), before)
        assert "# TYPE gitops_ingress_sync_duration_seconds histogram" in serve.http.get(f"{serve.api}/metrics").text
    finally:
        code = serve.stop()
    assert code == 0, serve.log()


def served_once(tmp_path: Path, upstreams: dict[str, TestUpstream]) -> tuple[Remote, dict[str, str]]:
    """``repository``'s remote, served by a first ``serve`` until both branches were live, then
    stopped (the state folder holds them); and the ``--backend`` map for the next start."""
    remote, _work = repository(tmp_path)
    backends = {f"{name}:80": up.url for name, up in upstreams.items()}
    first = ServeProcess(tmp_path, remote.url, backends)
    try:
        with first.states() as wait:
            wait(lambda s: "feature/new-shop" in s.previews and bool(s.stable.routes))
    finally:
        assert first.stop() == 0
    return remote, backends


@pytest.mark.slow
def test_serve_restart_serves_the_stored_state_without_the_remote(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    remote, backends = served_once(tmp_path, upstreams)
    remote.path.rename(remote.path.with_name("gone.git"))
    second = ServeProcess(tmp_path, remote.url, backends)
    try:
        with second.states() as wait:
            wait(lambda s: "feature/new-shop" in s.previews and bool(s.stable.routes))
        before = len(upstreams["web"].stats.requests)
        assert served_by(upstreams["web"], second.get("shop.example.com"), before)
        # the fetch runs in the background after the start: its failure shows once it failed
        second.poll(lambda: "remote unavailable" in second.branches()["main"]["message"], "the fetch failure")
    finally:
        assert second.stop() == 0


@pytest.mark.slow
def test_serve_killed_mid_sync_completes_it_on_the_next_start(
    tmp_path: Path, upstreams: dict[str, TestUpstream]
) -> None:
    remote, work = repository(tmp_path)
    branch = "feature/new-shop"
    host = preview_host(branch, "shop.example.com", "preview.localhost")
    backends = {f"{name}:80": up.url for name, up in upstreams.items()}
    serve = ServeProcess(tmp_path, remote.url, backends)
    try:
        with serve.states() as wait:
            wait(lambda s: branch in s.previews)
        work.write({"environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "web-v3"))})
        head = work.commit("v3")
        work.push(branch)
        assert serve.webhook(branch).status_code == 202
    finally:
        serve.kill()  # SIGKILL while the fetch and sync of ``head`` are under way
        serve.http.close()
    again = ServeProcess(tmp_path, remote.url, backends)
    try:
        with again.states() as wait:
            wait(lambda s: str(s.resolve(host, "/").match.backend) == "shop/web-v3:80")
        again.poll(lambda: again.branches()[branch]["applied_commit"] == head, "the applied commit")
        before = len(upstreams["web-v3"].stats.requests)
        assert served_by(upstreams["web-v3"], again.get(host), before)
    finally:
        assert again.stop() == 0
