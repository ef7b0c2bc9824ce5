"""``routes --host H --path P`` when annotations change the answer: the redirect the proxy answers
itself, or the path, Host and X-Forwarded-Prefix the upstream gets; a route without them keeps
its one line. tests/proxy/test_routes_agree.py checks the answers against the real proxy."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.core.annotations import PREFIX
from tests.support.manifests import ingress, to_yaml

P = PREFIX
REGEX_API = ingress(
    "api",
    "shop.example.com",
    "api",
    path="/api(/|$)(.*)",
    path_type="ImplementationSpecific",
    annotations={P + "rewrite-target": "/$2", P + "upstream-vhost": "internal.shop", P + "x-forwarded-prefix": "/api"},
)
INGRESSES = {
    "plain.yaml": ingress("plain", "plain.example.com", "web"),
    "api.yaml": REGEX_API,
    "moved.yaml": ingress(
        "moved", "old.example.com", "web", annotations={P + "permanent-redirect": "https://new.example.com/"}
    ),
    "secure.yaml": ingress("secure", "pay.example.com", "pay", annotations={P + "force-ssl-redirect": "true"}),
    "root.yaml": ingress("root", "app.example.com", "app", annotations={P + "app-root": "/app"}),
    "www.yaml": ingress("www", "shop.example.org", "web", annotations={P + "from-to-www-redirect": "true"}),
}


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    folder = tmp_path / "environments" / "production"
    folder.mkdir(parents=True)
    for name, obj in INGRESSES.items():
        (folder / name).write_text(to_yaml(obj))
    return tmp_path / "environments"


def _routes(cli, environments: Path, host: str, path: str, *extra: str) -> str:  # type: ignore[no-untyped-def]
    result = cli("routes", str(environments), "--host", host, "--path", path, *extra)
    assert result.code == 0, result.err
    return str(result.out)


def test_a_plain_route_is_one_line_as_before(environments: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert _routes(cli, environments, "plain.example.com", "/cart") == "shop/web:80\n"
    answer = cli("routes", str(environments), "--host", "plain.example.com", "--format", "json").json()
    assert "redirect" not in answer and "upstream" not in answer


def test_redirects_are_shown_with_status_and_location(environments: Path, cli) -> None:  # type: ignore[no-untyped-def]
    moved = _routes(cli, environments, "old.example.com", "/a")
    assert moved == "shop/web:80\n  redirect 301 https://new.example.com/ (answered by the proxy)\n"
    secure = _routes(cli, environments, "pay.example.com:8080", "/pay?id=1")
    assert secure.splitlines()[1] == "  redirect 308 https://pay.example.com/pay?id=1 (answered by the proxy)"
    assert _routes(cli, environments, "pay.example.com", "/pay", "--scheme", "https") == "shop/pay:80\n"
    root = _routes(cli, environments, "app.example.com:8080", "/")
    assert root.splitlines()[1] == "  redirect 302 http://app.example.com:8080/app (answered by the proxy)"
    assert _routes(cli, environments, "app.example.com", "/app/x") == "shop/app:80\n"
    www = _routes(cli, environments, "www.shop.example.org", "/x?y=1")
    assert www.splitlines()[1] == "  redirect 308 http://shop.example.org/x?y=1 (answered by the proxy)"
    answer = cli("routes", str(environments), "--host", "old.example.com", "--format", "json").json()
    assert answer["redirect"] == {"status": 301, "location": "https://new.example.com/"}


def test_a_rewrite_shows_what_the_upstream_gets(environments: Path, cli) -> None:  # type: ignore[no-untyped-def]
    lines = _routes(cli, environments, "shop.example.com", "/API/users?page=2").splitlines()
    # a regex host matches case-insensitively, and the query follows the rewritten path
    assert lines == [
        "shop/api:80",
        "  upstream path /users?page=2",
        "  upstream Host internal.shop",
        "  X-Forwarded-Prefix /api",
    ]
    answer = cli("routes", str(environments), "--host", "shop.example.com", "--path", "/api", "--format", "json").json()
    assert answer["upstream"] == {"target": "/", "host": "internal.shop", "xForwardedPrefix": "/api"}
