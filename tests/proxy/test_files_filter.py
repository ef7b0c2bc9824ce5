"""``proxy --ingress-dir``: what the file watcher watches is exactly what the reader reads.

Both go through one listing (``fs.FolderTree``, the one file filter), so a hidden folder is
neither served nor watched, and a symlink is seen by the watcher and refused by the reader with
the same ``fs/symlink`` finding ``validate`` gives. Before, the reader read ``.hidden/`` (served
once, never reloaded on edit) and the watcher did not see a symlinked folder at all.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.manifests import ingress, to_yaml
from tests.support.processes import run_once
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, WAIT, ProxyProcess, write

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def status(client: httpx.Client, host: str) -> int:
    return client.get("/", headers={"Host": host}).status_code


def validate(env: Path) -> dict[str, Any]:
    """``gitops-ingress validate ENV --format json`` as a process: what the reader reads."""
    report: dict[str, Any] = json.loads(run_once(["validate", str(env), "--format", "json"], wait=WAIT).stdout)
    return report


@contextlib.contextmanager
def serving(env: Path, upstream: TestUpstream) -> Iterator[tuple[ProxyProcess, httpx.Client]]:
    """``proxy --ingress-dir ENV`` with every Service of these tests on ``upstream``."""
    args = ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env), "--no-access-log"]
    for service in ("storefront", "checkout", "web"):
        args += ["--backend", f"{service}:80={upstream.url}"]
    with ProxyProcess(args) as proxy, httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
        yield proxy, client


def test_a_hidden_folder_is_neither_served_nor_watched(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    write(env / ".drafts" / "pay.yaml", to_yaml(ingress("pay", "pay.example.com", "checkout")))
    assert validate(env)["files"] == [f"{env}/shop.yaml"]
    with serving(env, upstream) as (proxy, client):
        assert status(client, "shop.example.com") == 200
        assert status(client, "pay.example.com") == 404  # not read, as validate does not read it
        write(env / ".drafts" / "pay.yaml", to_yaml(ingress("pay", "pay.example.com", "web")))
        write(env / "web.yaml", to_yaml(ingress("web", "web.example.com", "web")))  # a change that is watched
        proxy.wait_stderr("route table version 2 loaded")
        assert status(client, "web.example.com") == 200
        assert status(client, "pay.example.com") == 404  # the edit under .drafts/ changed nothing
        assert proxy.stop() == 0


def test_a_symlinked_folder_is_seen_by_the_watcher_and_refused_like_validate_refuses_it(
    tmp_path: Path, start_upstream: Callable[[str], TestUpstream]
) -> None:
    upstream = start_upstream("echo")
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    write(tmp_path / "outside" / "pay.yaml", to_yaml(ingress("pay", "pay.example.com", "checkout")))
    with serving(env, upstream) as (proxy, client):
        os.symlink(tmp_path / "outside", env / "more")
        refused = proxy.wait_stderr("keeping the last good route table")
        assert f"{env}/more:" in refused and "[fs/symlink]" in refused
        report = validate(env)
        assert [(f["rule"], f["file"]) for f in report["findings"]] == [("fs/symlink", f"{env}/more")]
        assert status(client, "shop.example.com") == 200 and status(client, "pay.example.com") == 404
        (env / "more").unlink()
        proxy.wait_stderr("route table version 2 loaded")  # the link's removal is a change too
        assert status(client, "shop.example.com") == 200
        assert proxy.stop() == 0


def test_a_symlinked_file_at_start_is_refused_with_the_finding_validate_gives(tmp_path: Path) -> None:
    env = tmp_path / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "storefront")))
    write(tmp_path / "outside.yaml", to_yaml(ingress("pay", "pay.example.com", "checkout")))
    os.symlink(tmp_path / "outside.yaml", env / "pay.yaml")
    done = run_once(["proxy", "--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env)], wait=WAIT)
    report = validate(env)
    assert done.returncode == 1 and report["ok"] is False
    assert [(f["rule"], f["file"]) for f in report["findings"]] == [("fs/symlink", f"{env}/pay.yaml")]
    assert f"{env}/pay.yaml: error:" in done.stderr and "[fs/symlink]" in done.stderr
