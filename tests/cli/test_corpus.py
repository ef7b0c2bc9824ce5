"""Issue 13's done-when: a corpus of realistic layouts (tests/data/README.md) validates with zero
false errors, every kustomize overlay rendered by the real kubectl."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from gitops_ingress.cli.sources import build_paths
from gitops_ingress.cli.variables import Variables

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"


def test_the_corpus_has_at_least_thirty_manifests() -> None:
    # manifests only: the settings file and the repository-top marker do not count
    manifests = [
        path
        for path in CORPUS.rglob("*")
        if path.is_file() and (path.suffix in {".yaml", ".yml", ".json"} or path.name == "Kustomization")
    ]
    manifests.remove(CORPUS / "gitops-ingress.yaml")
    assert len(manifests) >= 30, sorted(str(path.relative_to(CORPUS)) for path in manifests)


def test_the_corpus_validates_with_zero_errors(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(CORPUS / "environments"), "--format", "json")
    report = result.json()
    rules = Counter((f["severity"], f["rule"]) for f in report["findings"])
    assert result.code == 0, report["findings"]
    # what is left is true: Services are not Ingresses and other controllers' classes are not ours;
    # every ingress-nginx annotation the corpus uses is honoured (limit-rps was the last one ignored)
    assert set(rules) == {("warning", "schema/other-kind"), ("notice", "cross/not-ours")}, rules
    assert report["objects"] == 26


def test_every_layout_of_the_corpus_yields_its_objects() -> None:
    built = build_paths([str(CORPUS / "environments")], Variables())
    names = {name: sorted(item.key for item in env.ingresses) for name, env in built.environments.items()}
    assert names["shop-prod"] == ["shop-prod/prod-api", "shop-prod/prod-web"]
    assert names["shop-staging"] == ["shop-staging/api-staging", "shop-staging/web-staging"]
    assert names["shop-canary"] == ["shop-canary/canary-api", "shop-canary/canary-web"]
    assert names["docs-prod"] == ["docs/docs", "docs/docs-redirects"]
    assert names["legacy"] == [
        "billing/billing",
        "billing/invoices",
        "billing/reports",
        "monitoring/grafana",
        "ops/status-page",
    ]
    hosts = {
        rule.host
        for env in built.environments.values()
        for item in env.ingresses
        for rule in item.ingress.spec.rules or ()
        if item.ingress.spec
    }
    assert {"www.shop.example.com", "api.www.shop.example.com", "staging.shop.example.com"} <= hosts
    grafana = next(i for i in built.environments["legacy"].ingresses if i.name == "grafana")
    assert grafana.ingress.metadata.labels["app.kubernetes.io/component"] == ""  # null, as the API server stores it
