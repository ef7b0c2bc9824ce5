"""Routing key values and signed tokens (core/previewkeys.py)."""

from __future__ import annotations

import pytest

from gitops_ingress.core.previewkeys import KeyVerdict, PreviewKeyPolicy
from gitops_ingress.core.settings import Settings

NOW = 1_800_000_000


@pytest.mark.parametrize("value", ["feature-x", "a", "a" * 63, "0-9"])
def test_plain_keys_are_dns_labels(value: str) -> None:
    assert PreviewKeyPolicy().judge(value, NOW) == KeyVerdict(value)


@pytest.mark.parametrize("value", ["", "A", "a_b", "a.b", "-a", "a-", "a" * 64, "a" * 10_000, "é"])
def test_other_plain_keys_are_malformed(value: str) -> None:
    assert PreviewKeyPolicy().judge(value, NOW).refused == "malformed"


def test_tokens_verify_and_expire() -> None:
    policy = PreviewKeyPolicy(secret="k", max_age=60)
    token = policy.issue("feature-x", NOW)
    slug, expiry, _ = token.split(".")
    assert (slug, int(expiry)) == ("feature-x", NOW + 60)
    assert policy.judge(token, NOW + 59) == KeyVerdict("feature-x", expires=NOW + 60)
    assert policy.judge(token, NOW + 60).refused == "expired"
    assert policy.judge("feature-x", NOW).refused == "unsigned"
    assert policy.judge(token.replace("feature-x", "feature-y"), NOW).refused == "forged"
    assert policy.judge(f"feature-x.{NOW + 999}.{token.split('.')[2]}", NOW).refused == "forged"
    assert policy.judge("feature-x.soon.sig", NOW).refused == "malformed"
    assert PreviewKeyPolicy().issue("feature-x", NOW) == "feature-x"


def test_protected_hosts_from_settings() -> None:
    settings = Settings.build(overrides={"preview_key_protected_hosts": ["Pay.Example.com.", "*.bank.example.com"]})
    policy = PreviewKeyPolicy.from_settings(settings)
    assert policy.protects("pay.example.com") and policy.protects("x.bank.example.com")
    assert not policy.protects("shop.example.com") and not policy.protects("bank.example.com")
    assert PreviewKeyPolicy.from_settings(Settings.build(overrides={"preview_keys": False})).protects(
        "shop.example.com"
    )
