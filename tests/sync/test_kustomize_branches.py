"""serve renders kustomize overlays from git objects (issue 13 point 1): the sync engine routes
what the overlay renders, names the patch file in findings, and a refused kustomization (a remote
base) keeps the last good routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ingress.core.status import SyncState
from tests.support.manifests import drop, ingress, to_yaml
from tests.sync.conftest import running, seed

pytestmark = [
    pytest.mark.anyio,
]

OVERLAY = "resources:\n  - ../../base\nnamespace: shop-prod\npatches:\n  - path: host.yaml\n    target:\n      kind: Ingress\n"
HOST_PATCH = "- op: replace\n  path: /spec/rules/0/host\n  value: {host}\n"


def _files(host: str) -> dict[str, str]:
    return {
        "base/kustomization.yaml": "resources:\n  - shop.yaml\n",
        "base/shop.yaml": to_yaml(drop(ingress("shop", "base.example.com", "web"), "metadata.namespace")),
        "environments/production/kustomization.yaml": OVERLAY,
        "environments/production/host.yaml": HOST_PATCH.format(host=host),
    }


async def test_the_engine_routes_what_the_overlay_renders(tmp_path: Path) -> None:
    remote, work = seed(tmp_path, _files("shop.example.com"))
    async with running(tmp_path, remote) as h:
        assert h.resolve("shop.example.com") == "shop-prod/web:80"  # the overlay's namespace and host
        assert h.resolve("base.example.com") is None
        good = remote.head("main")
        work.write({"environments/production/host.yaml": HOST_PATCH.format(host="Bad_Host")})
        work.commit("bad host")
        work.push("main")
        await h.refresh("main")
        status = h.engine.branch("main")
        assert status is not None and status.state is SyncState.REFUSED
        (production,) = status.environments
        assert [(f.file, f.line) for f in production.findings if f.rule == "api/host-invalid"] == [
            ("environments/production/host.yaml", 3)
        ]
        work.write(
            {
                "environments/production/kustomization.yaml": OVERLAY.replace(
                    "  - ../../base\n", "  - ../../base\n  - https://example.com/shop.yaml\n"
                )
            }
        )
        work.commit("remote base")
        work.push("main")
        await h.refresh("main")
        status = h.engine.branch("main")
        assert status is not None and status.state is SyncState.REFUSED
        (production,) = status.environments
        assert [f.rule for f in production.findings] == ["kustomize/remote"]
        assert production.applied_commit == good
        assert h.resolve("shop.example.com") == "shop-prod/web:80"  # last good kept
