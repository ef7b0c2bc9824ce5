"""Each entry of the route diff, witnessed by two real proxies (issue 13 point 8, issue 16).

For a few realistic before/after Ingress sets, the real ``gitops-ingress diff DIR_A DIR_B
--format json`` gives its entries; then two real ``gitops-ingress proxy`` processes serve the
before and the after folder (plain and TLS listeners, ``--https-redirect`` with a certificate for
each ``spec.tls`` host, as the diff assumes), every Service behind its own echo upstream. Each
entry's example request is sent to both over real HTTP (or HTTPS with SNI, when the entry's
example is over TLS), and what each proxy did (the status, the Location, which Service answered,
the path, Host and X-Forwarded-Prefix it was sent upstream under) must be the entry's
``beforeAnswer`` and ``afterAnswer``, and the two must differ.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from gitops_ingress.core.annotations import PREFIX as P
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

from .fixtures_ops import WAIT, CertificateAuthority, ProxyProcess, ca_fixture, write  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SERVICES = ("web", "api", "storefront", "canary", "legacy")
SHOP, API, OLD, SECURE = "shop.example.com", "api.example.com", "old.example.com", "pay.example.com"


def canary(weight: str) -> dict[str, Any]:
    annotations = {P + "canary": "true", P + "canary-weight": weight}
    return ingress("api-canary", host=API, service="canary", annotations=annotations)


def regex_api(target: str) -> dict[str, Any]:
    annotations = {P + "rewrite-target": target}
    return ingress("api", host=API, service="api", path="/api(/|$)(.*)", path_type="ImplementationSpecific",
                   annotations=annotations)  # fmt: skip


# (name, before objects, after objects, the example requests of the entries): each a change a
# pull request makes to a shop's Ingresses
CASES = [
    (
        "redirects",
        [ingress("shop", SHOP, "web"), ingress("old", OLD, "legacy"), ingress("store", "store.example.com", "web")],
        [
            ingress("shop", SHOP, "web", annotations={P + "force-ssl-redirect": "true"}),
            ingress("old", OLD, "legacy", annotations={P + "permanent-redirect": "https://shop.example.com/"}),
            ingress("store", "store.example.com", "web", annotations={P + "app-root": "/catalog"}),
        ],
        {"GET old.example.com/", "GET shop.example.com/", "GET store.example.com/"},
    ),
    (
        "rewrite-vhost-www",
        [regex_api("/$2"), ingress("shop", SHOP, "storefront"), ingress("legacy", OLD, "legacy")],
        [
            regex_api("/v2/$2"),
            ingress("legacy", OLD, "legacy", annotations={P + "x-forwarded-prefix": "/old"}),
            ingress(
                "shop",
                SHOP,
                "storefront",
                annotations={P + "upstream-vhost": "storefront.internal", P + "from-to-www-redirect": "true"},
            ),
        ],
        {"GET www.shop.example.com/", "GET api.example.com/api/", "GET shop.example.com/", "GET old.example.com/"},
    ),
    (
        "canary-and-tls",
        [
            ingress("api", API, "api"),
            canary("0"),
            ingress("pay", SECURE, "web", tls_secret="pay-tls"),
            ingress("shop", SHOP, "web", tls_secret="shop-tls"),
        ],
        [
            ingress("api", API, "api"),
            canary("100"),
            ingress("pay", SECURE, "web", tls_secret="pay-tls", annotations={P + "ssl-redirect": "false"}),
            ingress("shop", SHOP, "storefront", tls_secret="shop-tls"),
        ],
        {"GET https://shop.example.com/", "GET api.example.com/", "GET pay.example.com/"},
    ),
]


def _folder(root: Path, objects: list[dict[str, Any]]) -> Path:
    env = root / "production"
    for obj in objects:
        write(env / f"{obj['metadata']['name']}.yaml", to_yaml(obj))
    return env


def _certificates(ca: CertificateAuthority, tls_dir: Path, objects: list[dict[str, Any]]) -> Path:
    """A certificate for each host the objects' ``spec.tls`` names, and one the proxy always has
    (a folder without any is refused), for a name no case routes."""
    ca.secret(tls_dir, "unused-tls", "unused.example.net")
    for obj in objects:
        for entry in obj["spec"].get("tls", ()):
            ca.secret(tls_dir, entry["secretName"], *entry["hosts"])
    return tls_dir


def _diff(before: Path, after: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "gitops_ingress", "diff", str(before), str(after), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [change for change in json.loads(done.stdout)["changes"] if change["kind"] != "tls"]


def _proxy(env: Path, tls_dir: Path, upstreams: dict[str, TestUpstream]) -> ProxyProcess:
    args = ["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-dir", str(tls_dir)]
    args += ["--https-redirect", "--ingress-dir", str(env), "--no-access-log"]
    for name, upstream in upstreams.items():
        args += ["--backend", f"shop/{name}:80={upstream.url}"]
    return ProxyProcess(args)


def _observed(proxy: ProxyProcess, request: str, ca: CertificateAuthority, ports: dict[int, str]) -> dict[str, Any]:
    """What the proxy did with ``GET [https://]host/path``: status, Location, and for a proxied
    answer the Service that answered and the path, Host and X-Forwarded-Prefix it was sent under."""
    method, _, target = request.partition(" ")
    assert method == "GET"
    scheme = "https" if target.startswith("https://") else "http"
    host, _, path = target.removeprefix("https://").partition("/")
    port = urlsplit(proxy.url(scheme)).port
    context = ssl.create_default_context(cafile=str(ca.path))
    with httpx.Client(verify=context, timeout=WAIT, follow_redirects=False) as client:
        answer = client.get(
            f"{scheme}://127.0.0.1:{port}/{path}", headers={"Host": host}, extensions={"sni_hostname": host}
        )
    seen: dict[str, Any] = {"status": answer.status_code, "location": answer.headers.get("location", "")}
    if answer.status_code == 200:
        record = json.loads(answer.text)
        headers = {name.lower(): value for name, value in record["headers"]}
        seen.update(backend=f"shop/{ports[record['port']]}:80", path=record["path"], host=headers["host"])
        seen["prefix"] = headers.get("x-forwarded-prefix", "")
    return seen


def _expected(said: dict[str, Any], request: str) -> dict[str, Any]:
    """What an entry's answer says the proxy does with ``request``, in ``_observed``'s terms."""
    target = request.partition(" ")[2].removeprefix("https://")
    host, _, path = target.partition("/")
    expected: dict[str, Any] = {"status": said["status"], "location": said["location"]}
    if said["status"] == 200:
        backend = said["backend"]
        if said["canary"] is not None and said["canary"]["percent"] == 100:
            backend = said["canary"]["backend"]  # all of the weight: the canary answers every request
        expected.update(backend=backend, path=said["path"] or "/" + path, host=said["host"] or host)
        expected["prefix"] = said["prefix"]
    return expected


@pytest.mark.parametrize(("name", "before", "after", "requests"), CASES, ids=[case[0] for case in CASES])
def test_every_entry_is_answered_by_the_real_proxies_as_it_says(
    tmp_path: Path,
    ca: CertificateAuthority,
    start_upstream: Callable[[str], TestUpstream],
    name: str,
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    requests: set[str],
) -> None:
    old, new = _folder(tmp_path / "before", before), _folder(tmp_path / "after", after)
    changes = _diff(old, new)
    assert {change["request"] for change in changes} == requests, [c["message"] for c in changes]
    upstreams = {service: start_upstream("echo") for service in SERVICES}
    ports = {upstream.port: service for service, upstream in upstreams.items()}
    old_tls, new_tls = (
        _certificates(ca, tmp_path / "before-tls", before),
        _certificates(ca, tmp_path / "after-tls", after),
    )
    with _proxy(old, old_tls, upstreams) as was, _proxy(new, new_tls, upstreams) as now:
        was.wait_serving()
        now.wait_serving()
        for change in changes:
            request = change["request"]
            seen = _observed(was, request, ca, ports), _observed(now, request, ca, ports)
            said = _expected(change["beforeAnswer"], request), _expected(change["afterAnswer"], request)
            assert seen == said, change["message"]
            assert seen[0] != seen[1], change["message"]
