"""Annotations through ``gitops-ingress serve`` (local target), on the stable host and on a branch's
preview host (issue 16: they apply in ``proxy``, ``serve`` and the Kubernetes route source alike).

A real bare repository holds, on ``main``, a host behind ``auth-type: basic`` (its htpasswd in
``serve --secret-dir``, laid out as a kubelet mounts a Secret) and a host with a canary by header;
a branch moves the canary to another backend. ``serve`` runs as a subprocess with real upstreams:
without credentials the answer is 401 with the realm, with them 200 from the backend; the canary
header picks the canary backend, its absence the main one, on both hosts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gitops_ingress.core.annotations import PREFIX as P
from tests.e2e.test_serve import ServeProcess, served_by, upstreams
from tests.proxy.test_auth_basic import BASIC, basic, htpasswd
from tests.support.gitrepos import Remote, make_branching_remote
from tests.support.manifests import ingress, to_yaml
from tests.support.processes import run_once
from tests.support.upstreams import TestUpstream

pytestmark = [pytest.mark.slow]

BRANCH = "feature/canary-v3"
AUTH_HOST, CANARY_HOST = "auth.example.com", "canary.example.com"
CANARY = {P + "canary": "true", P + "canary-by-header": "X-Canary"}
__all__ = ["upstreams"]  # the fixture, imported for its name


def canary_file(service: str) -> str:
    return to_yaml(ingress("shop-canary", CANARY_HOST, service, annotations=CANARY))


@pytest.fixture
def served(tmp_path: Path, upstreams: dict[str, TestUpstream]) -> Iterator[tuple[ServeProcess, Remote]]:
    remote, _work = make_branching_remote(
        tmp_path,
        {
            "environments/production/auth.yaml": to_yaml(ingress("auth", AUTH_HOST, "web", annotations=BASIC)),
            "environments/production/shop.yaml": to_yaml(ingress("shop", CANARY_HOST, "web")),
            "environments/production/canary.yaml": canary_file("web-v2"),
        },
        BRANCH,
        {"environments/production/canary.yaml": canary_file("web-v3")},
    )
    secrets = tmp_path / "secrets" / "shop" / "basic-auth"
    secrets.mkdir(parents=True)
    (secrets / "auth").write_text(htpasswd())
    backends = {f"{name}:80": up.url for name, up in upstreams.items()}
    process = ServeProcess(tmp_path, remote.url, backends, "--secret-dir", str(tmp_path / "secrets"))
    try:

        def applied() -> bool:
            branches = process.branches()
            return all(branches.get(name, {}).get("state") == "applied" for name in ("main", BRANCH))

        process.poll(applied, "main and the branch applied")
        yield process, remote
    finally:
        assert process.stop() == 0, process.log()


@pytest.fixture
def serve(served: tuple[ServeProcess, Remote]) -> ServeProcess:
    return served[0]


def preview_of(serve: ServeProcess, stable_host: str) -> str:
    urls = serve.branches()[BRANCH]["preview_urls"]
    return next(p["host"] for p in urls if p["stable_host"] == stable_host)


def ask(serve: ServeProcess, host: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return serve.http.get(f"{serve.proxy}/", headers={"Host": host, **(headers or {})})


def test_basic_auth_from_the_secret_folder_on_the_stable_and_the_preview_host(
    serve: ServeProcess, upstreams: dict[str, TestUpstream]
) -> None:
    web = upstreams["web"]
    for host in (AUTH_HOST, preview_of(serve, AUTH_HOST)):
        before = len(web.stats.requests)
        denied = ask(serve, host)
        assert denied.status_code == 401, (host, denied.text)
        assert denied.headers["www-authenticate"] == 'Basic realm="test auth"'
        assert ask(serve, host, basic("foo", "wrong")).status_code == 401
        assert len(web.stats.requests) == before  # nothing reached the backend
        assert served_by(web, ask(serve, host, basic("foo", "bar")), before), host
        assert served_by(web, ask(serve, host, basic("ali", "sesame")), before + 1), host


def test_canary_by_header_on_the_stable_and_the_preview_host(
    serve: ServeProcess, upstreams: dict[str, TestUpstream]
) -> None:
    # the stable host's canary is main's (web-v2); the preview's is the branch's (web-v3)
    for host, canary in ((CANARY_HOST, "web-v2"), (preview_of(serve, CANARY_HOST), "web-v3")):
        for headers, backend in (({"X-Canary": "always"}, canary), ({"X-Canary": "never"}, "web"), ({}, "web")):
            before = len(upstreams[backend].stats.requests)
            answer = ask(serve, host, headers)
            assert served_by(upstreams[backend], answer, before), (host, headers, backend, answer.text)


def annotation_table(markdown: str) -> list[str]:
    """The lines of the support table: its heading up to the blank line or the end after it."""
    lines = markdown.splitlines() + [""]
    start = lines.index("#### ingress-nginx annotations")
    return lines[start : lines.index("", start + 2)]


def test_the_pull_request_summary_has_the_annotation_table_validate_prints(served: tuple[ServeProcess, Remote]) -> None:
    serve, remote = served
    answer = serve.http.get(f"{serve.api}/api/v1/previews/summary.md", params={"branch": BRANCH})
    assert answer.status_code == 200, answer.text
    table = annotation_table(answer.text)
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in table[4:]}
    assert set(rows) == {P + key for key in ("auth-realm", "auth-secret", "auth-type", "canary", "canary-by-header")}
    assert rows[P + "canary-by-header"].startswith(f"| {P}canary-by-header | honoured | ")
    assert " | honoured, with a difference | basic only: " in rows[P + "auth-type"]
    assert rows[P + "canary"].endswith(" | 1 | environments/production/canary.yaml:7 |")
    # one table, one piece of code: validate's markdown summary of the same commit prints it too
    checked = run_once(["validate", "--repo", str(remote.path), "--ref", BRANCH, "--format", "markdown"], wait=60)
    assert checked.returncode == 0, checked.stderr
    assert annotation_table(checked.stdout) == table
