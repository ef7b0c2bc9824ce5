"""``diff`` between two refs of a real git repository never hides a change (issue 13, point 8).

Each case commits a main branch and a feature branch, runs the real ``diff --base --head`` in
every format, and checks each entry's example request with the real ``routes --host --path`` on a
checkout of each branch: the backend before and after are what the entry says, and they differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.gitrepos import WorkTree, make_remote
from tests.support.manifests import drop, ingress, set_at, to_yaml

PROD = "environments/production"
HOST = "shop.example.com"


def _branches(tmp_path: Path, main: dict[str, str], feature: dict[str, str]) -> WorkTree:
    work = make_remote(tmp_path).clone()
    work.write(main)
    work.commit("main")
    work.push("main")
    work.branch("feature")
    work.write(feature)
    work.commit("feature")
    return work


def _diff(cli, work: WorkTree, fmt: str = "json") -> Any:  # type: ignore[no-untyped-def]
    result = cli("diff", "--repo", str(work.path), "--base", "main", "--head", "feature", "--format", fmt)
    assert result.code in (0, 1), result.err
    return result.json()["changes"] if fmt == "json" else result.out


def _routed(cli, work: WorkTree, branch: str, request: str) -> str | None:  # type: ignore[no-untyped-def]
    work.switch(branch)
    host, _, path = request.removeprefix("GET ").partition("/")
    answer = cli("routes", str(work.path / "environments"), "--host", host, "--path", "/" + path, "--format", "json")
    return answer.json()["backend"]  # type: ignore[no-any-return]


def _witnessed(cli, work: WorkTree, changes: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    for change in changes:
        before = _routed(cli, work, "main", change["request"])
        after = _routed(cli, work, "feature", change["request"])
        assert (before, after) == (change["before"], change["after"]) and before != after, change
        assert "(unchanged)" not in change["message"]


def test_prefix_to_exact_shows_the_requests_that_leave_the_prefix(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    web = to_yaml(ingress(name="web", service="storefront"))
    api = ingress(name="api", path="/api", service="api", port=8080)
    work = _branches(
        tmp_path,
        {f"{PROD}/web.yaml": web, f"{PROD}/api.yaml": to_yaml(api)},
        {f"{PROD}/api.yaml": to_yaml(set_at(api, "spec.rules.0.http.paths.0.pathType", "Exact"))},
    )
    [change] = _diff(cli, work)
    assert change["kind"] == "path-type" and change["request"].startswith(f"GET {HOST}/api/")
    assert (change["before"], change["after"]) == ("shop/api:8080", "shop/storefront:80")
    assert change["detail"] == f"{HOST}/api: pathType Prefix -> Exact"
    _witnessed(cli, work, [change])
    text = _diff(cli, work, "text")
    assert f"now goes to shop/storefront:80 instead of shop/api:8080; {HOST}/api: pathType Prefix -> Exact" in text
    markdown = _diff(cli, work, "markdown")
    assert "pathType Prefix -> Exact |" in markdown and "&gt;" not in markdown and "()" not in markdown


def test_a_host_rule_without_its_http_section_sends_the_host_to_the_default(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    default = {"service": {"name": "fallback", "port": {"number": 80}}}
    everyone = set_at(
        drop(ingress(name="all", service="storefront"), "spec.rules.0.host"), "spec.defaultBackend", default
    )
    blog = ingress(name="blog", host="blog.example.com", service="blog")
    work = _branches(
        tmp_path,
        {
            "gitops-ingress.yaml": "policy:\n  allow_hostless_rules: [production]\n",
            f"{PROD}/all.yaml": to_yaml(everyone),
            f"{PROD}/blog.yaml": to_yaml(blog),
        },
        {  # the http sections go: blog's rule and a new bare rule for shop.example.com
            f"{PROD}/blog.yaml": to_yaml(drop(blog, "spec.rules.0.http")),
            f"{PROD}/all.yaml": to_yaml(set_at(everyone, "spec.rules", [*everyone["spec"]["rules"], {"host": HOST}])),
        },
    )
    changes = _diff(cli, work)
    assert {(c["kind"], c["request"], c["before"], c["after"]) for c in changes} == {
        ("removed", "GET blog.example.com/", "shop/blog:80", "shop/fallback:80"),
        ("host", f"GET {HOST}/", "shop/storefront:80", "shop/fallback:80"),
    }
    _witnessed(cli, work, changes)
    assert "no route changes" not in _diff(cli, work, "text")


def test_a_port_name_changed_to_a_number_says_the_service_decides(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    work = _branches(
        tmp_path,
        {f"{PROD}/web.yaml": to_yaml(ingress(name="web", port="http"))},
        {f"{PROD}/web.yaml": to_yaml(ingress(name="web", port=80))},
    )
    [change] = _diff(cli, work)
    assert change["kind"] == "retargeted" and (change["before"], change["after"]) == ("shop/web:http", "shop/web:80")
    assert "whether this is a change depends on the Service shop/web's port mapping" in change["detail"]
    _witnessed(cli, work, [change])


def test_markdown_keeps_which_object_shadows_which(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    api = to_yaml(ingress(name="api", path="/api", service="api"))
    work = _branches(
        tmp_path,
        {f"{PROD}/api.yaml": api},
        {f"{PROD}/early.yaml": to_yaml(ingress(name="aa-early", path="/api", service="rogue"))},
    )
    [change] = _diff(cli, work)
    assert change["kind"] == "shadowed"
    markdown = _diff(cli, work, "markdown")
    row = next(line for line in markdown.splitlines() if line.startswith("| production | Shadowed"))
    assert f"shop/api ({PROD}/api.yaml:" in row and f"is shadowed by shop/aa-early ({PROD}/early.yaml:" in row
    assert "`GET shop.example.com/api`" in row and "`shop/rogue:80`" in row
