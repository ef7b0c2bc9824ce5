"""Audit of issue 6 ("TLS keys and secrets never shown"): with the real engine behind the app and a
repository that carries a TLS Secret with its private key, no page, API answer, OpenAPI document,
markdown summary or metric shows the key, the access credentials, the forge token, a webhook
secret or a password embedded in the repository URL."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from gitops_ingress.web.app import create_app
from gitops_ingress.web.options import ForgeOptions, WebOptions
from gitops_ingress.web.webhooks import ENDPOINTS
from tests.support.manifests import ingress, to_yaml
from tests.sync.conftest import WAIT, running, seed
from tests.web.test_stream import serving

pytestmark = pytest.mark.anyio

KEY_MATERIAL = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
KEY_PEM = f"-----BEGIN PRIVATE KEY-----\n{KEY_MATERIAL}\n-----END PRIVATE KEY-----\n"
SECRETS = {
    "webhook": "whsec-3f9a1c7e5b",
    "bearer": "bearer-77d1e0aa42",
    "basic": "basic-pw-5c2b19f0",
    "forge": "ghp_forgetoken0123456789",
    "url-password": "urlpw-a1b2c3d4",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def tls_files() -> dict[str, str]:
    encoded = base64.b64encode(KEY_PEM.encode()).decode()
    secret = (
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\n"
        "metadata:\n  name: shop-tls\n  namespace: shop\n"
        f"data:\n  tls.crt: {encoded}\n  tls.key: {encoded}\n"
        f"stringData:\n  tls.key: |\n" + "".join(f"    {line}\n" for line in KEY_PEM.splitlines())
    )
    shop = (
        to_yaml(ingress("shop", "shop.example.com", "web"))
        + "  tls:\n    - hosts: [shop.example.com]\n      secretName: shop-tls\n"
    )
    return {"environments/production/shop.yaml": shop, "environments/production/shop-tls.yaml": secret}


async def test_no_answer_shows_a_key_a_token_or_a_password(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    work.branch("feature/tls")
    work.write(tls_files())
    work.commit(f"add tls {KEY_MATERIAL[:8]}")
    work.push("feature/tls")
    options = WebOptions(
        anonymous_read=False,
        bearer_token=SECRETS["bearer"],
        basic_user="admin",
        basic_password=SECRETS["basic"],
        repo_url=f"https://deploy:{SECRETS['url-password']}@github.com/acme/routes.git",
        public_url="http://127.0.0.1:8000",
        forge=ForgeOptions(api_url="http://127.0.0.1:9/", repository="acme/routes", token=SECRETS["forge"]),
    )
    auth = {"Authorization": f"Bearer {SECRETS['bearer']}"}
    async with running(tmp_path, remote) as h:
        status = h.engine.branch("feature/tls")
        assert status is not None and status.environments  # the branch was read and judged
        app = create_app(
            h.engine,
            h.engine,
            webhook_secrets=dict.fromkeys(ENDPOINTS, SECRETS["webhook"]),
            metrics=h.engine.metrics.registry,
            web_options=options,
        )
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=WAIT, headers=auth) as client:
            paths = [
                "/",
                "/branches/main",
                "/branches/feature%2Ftls",
                "/routes",
                "/search?host=shop.example.com&path=/&branch=feature/tls",
                "/api/branches",
                "/api/v1/branches",
                "/api/v1/branch?branch=feature/tls",
                "/api/v1/routes?branch=feature/tls",
                "/api/v1/diff?branch=feature/tls",
                "/api/v1/history?branch=feature/tls",
                "/api/v1/resolve?host=shop.example.com&path=/&branch=feature/tls",
                "/api/v1/previews?branch=feature/tls",
                "/api/v1/previews/summary.md?branch=feature/tls",
                "/openapi.json",
                "/metrics",
                "/healthz",
            ]
            answers = {path: await client.get(path) for path in paths}
            unauthorised = await client.get("/api/v1/branches", headers={"Authorization": "Bearer wrong"})
    assert unauthorised.status_code == 401 and SECRETS["bearer"] not in unauthorised.text
    for path, answer in answers.items():
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        for name, secret in {**SECRETS, "key": KEY_MATERIAL}.items():
            assert secret not in answer.text, f"{name} shown by {path}"
        assert "PRIVATE KEY" not in answer.text, path
    assert "github.com/acme/routes/blob/" in answers["/branches/feature%2Ftls"].text  # links built from the URL
    # the Secret's name may be shown (it is no secret); the dashboard must still work with it
    assert "feature/tls" in answers["/"].text
