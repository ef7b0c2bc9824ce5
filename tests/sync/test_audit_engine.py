"""Audit of issue 4 through the whole engine (real remote, real Mirror, real store, local target):
branch names a shell or git would execute, names that slug alike, hostile repository content
(50 MB file, submodule, 100,000 files) shown as findings in the branch status, a feature
branch that tries to claim a stable host, and a remote that refuses our credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.status import SyncState
from gitops_ingress.core.validation.names import is_dns1123_label
from tests.gitrepo.servers import auth_server
from tests.support.gitrepos import git
from tests.support.manifests import ingress, to_yaml
from tests.sync.conftest import WAIT, running, seed

pytestmark = pytest.mark.anyio


def preview(branch: str, host: str) -> str:
    return preview_host(branch, host, "preview.localhost")


def executable_names(tmp_path: Path) -> tuple[list[str], list[Path]]:
    """Real ref names (git accepts every one) that run ``touch`` if ever given to a shell, or
    that git reads as an option; ``${IFS}`` stands in for the space a ref cannot hold."""
    markers = [tmp_path / f"marker-{n}" for n in range(4)]
    names = [
        f"--upload-pack=touch${{IFS}}{markers[0]}",
        f"$(touch${{IFS}}{markers[1]})",
        f"`touch${{IFS}}{markers[2]}`",
        f"x;touch${{IFS}}{markers[3]}",
    ]
    return names, markers


ALIKE = ["feature/login", "feature-login", "Feature/Login", "feature_login", "feature/-login", "feature.login"]
ODD = ["ünïcødé/ブランチ", "f" * 250, "/".join("abcdefghijklmnopqrstuvwxyz"), "-", "a.b/c.d"]


async def test_every_odd_branch_gets_its_own_working_preview_and_nothing_runs(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    dangerous, markers = executable_names(tmp_path)
    names = dangerous + ALIKE + ODD
    for name in names:
        git(work.path, "check-ref-format", f"refs/heads/{name}")  # each is a real, pushable ref
        work.push(name)
    async with running(tmp_path, remote) as h:
        await h.engine.refresh(None)
        await h.engine.settle(WAIT)
        statuses = {b.name: b for b in h.engine.branches()}
        assert sorted(statuses) == sorted(["main", *names])
        hosts = []
        for name in names:
            status = statuses[name]
            assert status.state is SyncState.APPLIED, (name, status.message)
            host = preview(name, "shop.example.com")
            label = host.removesuffix(".preview.localhost")
            assert not is_dns1123_label(label) and len(label) <= 63, host
            assert host in {p.host for p in status.preview_urls}, name
            assert h.resolve(host) == "shop/web:80", name
            hosts.append(host)
        assert len(set(hosts)) == len(hosts)  # names that slug alike still get distinct hosts
        # a webhook naming the same branches (or '..', or the space-separated original) runs nothing
        for name in [*dangerous, f"--upload-pack=touch {markers[0]}", "a..b", "../../etc"]:
            await h.engine.push(name, False)
        await h.engine.settle(WAIT)
        assert h.engine.remote_error is None
    assert [m for m in markers if m.exists()] == []


async def test_big_file_and_submodule_are_findings_in_the_branch_status(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    work.branch("feature/content")
    size = 50 * 1024 * 1024
    work.write({"environments/production/huge.yaml": b"#" * size})
    work.submodule("environments/production/vendored")
    work.commit("hostile content")
    work.push("feature/content")
    async with running(tmp_path, remote) as h:
        status = h.engine.branch("feature/content")
        assert status is not None and status.state is SyncState.REFUSED, status
        by_rule = {(f.rule, f.file): f for f in status.findings}
        big = by_rule[("yaml/too-large", "environments/production/huge.yaml")]
        assert str(size) in big.message
        assert ("fs/submodule", "environments/production/vendored") in by_rule
        assert h.resolve(preview("feature/content", "shop.example.com")) is None  # refused: never served
        assert h.resolve("shop.example.com") == "shop/web:80"
        assert h.engine.branch("main").state is SyncState.APPLIED  # type: ignore[union-attr]


@pytest.mark.slow
async def test_a_hundred_thousand_files_are_refused_with_a_finding_and_nothing_else_stalls(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    blob = git(
        work.path, "hash-object", "-w", "--stdin", input=to_yaml(ingress("wide", "wide.example.com", "web")).encode()
    )
    entries = "".join(f"100644 blob {blob}\tf{index:06d}.yaml\n" for index in range(100_000))
    production = git(work.path, "mktree", input=entries.encode())
    environments = git(work.path, "mktree", input=f"040000 tree {production}\tproduction\n".encode())
    root = git(work.path, "mktree", input=f"040000 tree {environments}\tenvironments\n".encode())
    commit = git(work.path, "commit-tree", root, "-p", "HEAD", "-m", "100,000 files")
    work.push("feature/wide", rev=commit)
    work.push("feature/fine")
    async with running(tmp_path, remote) as h:
        status = h.engine.branch("feature/wide")
        assert status is not None and status.state is SyncState.REFUSED, status
        rules = [f.rule for f in status.findings]
        assert "fs/too-many-files" in rules
        assert h.resolve(preview("feature/wide", "wide.example.com")) is None
        assert h.resolve(preview("feature/fine", "shop.example.com")) == "shop/web:80"
        assert h.resolve("shop.example.com") == "shop/web:80"


async def test_a_feature_branch_cannot_claim_a_stable_host(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    work.branch("feature/takeover")
    work.write(
        {
            "environments/production/shop.yaml": to_yaml(ingress("shop", "shop.example.com", "evil")),
            "environments/production/new.yaml": to_yaml(ingress("new", "new.example.com", "evil")),
            "environments/production/catchall.yaml": to_yaml(ingress("catchall", "*.example.com", "evil")),
        }
    )
    work.commit("claim the stable hosts")
    work.push("feature/takeover")
    async with running(tmp_path, remote) as h:
        status = h.engine.branch("feature/takeover")
        assert status is not None
        assert status.state is SyncState.APPLIED, (
            status.message,
            [(f.rule, f.file, f.message) for f in status.findings],
        )
        # the branch's rules live only on its preview hosts ...
        assert h.resolve(preview("feature/takeover", "shop.example.com")) == "shop/evil:80"
        assert h.resolve(preview("feature/takeover", "new.example.com")) == "shop/evil:80"
        # ... and the stable hosts serve main, whatever the branch says
        state = h.engine.routing_state()
        for host, expected in (
            ("shop.example.com", "shop/web:80"),
            ("api.example.com", None),
            ("new.example.com", None),
            ("other.example.com", None),
        ):
            assert h.resolve(host) == expected, host
        assert h.resolve("api.example.com", "/v1/x") == "shop/api:80"
        assert all(str(r.backend) != "shop/evil:80" for r in state.stable.routes)
        stable_given = [r for table in h.target.tables["main"].values() for r in table.routes]
        assert stable_given and "shop/evil:80" not in {str(r.backend) for r in stable_given}


async def test_an_authentication_failure_keeps_the_routes_says_why_and_is_retried(tmp_path: Path) -> None:
    remote, _work = seed(tmp_path)
    async with running(tmp_path, remote):
        pass  # the state folder now holds main's applied routes
    with auth_server() as port:
        url = f"http://robot:s3cr3t@127.0.0.1:{port}/config.git"
        async with running(tmp_path, remote, url=url) as h:
            assert h.resolve("shop.example.com") == "shop/web:80"
            status = h.engine.branch("main")
            assert status is not None and status.state is SyncState.ERROR
            assert "auth" in status.message.lower() and "s3cr3t" not in status.message, status.message
            assert h.engine.remote_error and "s3cr3t" not in h.engine.remote_error
            # the watcher retries on its own, one fetch at a time: the 4th fetch starts only after
            # the first three (the engine's first one and two retries) have failed and been counted
            await h.mirror.wait_fetches(4)
            assert h.engine.metrics.fetch_failures._value.get() >= 3
            assert h.resolve("shop.example.com") == "shop/web:80"
