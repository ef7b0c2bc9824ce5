"""Naming (docs/concepts.md): slugs, namespaces and preview hosts are valid, bounded,
deterministic, and never shared by two branch names."""

from __future__ import annotations

import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gitops_ingress.core.naming import (
    branch_slug,
    preview_host,
    preview_hosts,
    preview_namespace,
    short_hash,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
BRANCHES = st.one_of(
    st.text(min_size=1, max_size=300),
    st.from_regex(r"[a-z0-9][a-z0-9/_.-]{0,80}", fullmatch=True),
    st.sampled_from(["main", "feature/login", "feature-login", "Feature_Login", "a..b", "--upload-pack=x"]),
)
HOSTS = st.from_regex(
    r"(\*\.)?[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?){0,6}", fullmatch=True
)


def is_label(text: str) -> bool:
    return len(text) <= 63 and DNS_LABEL.match(text) is not None


def test_plain_names_keep_their_form_and_lossy_ones_get_a_hash() -> None:
    assert branch_slug("main") == "main"
    assert branch_slug("feature-login") == "feature-login"
    assert branch_slug("feature/login") == f"feature-login-{short_hash('feature/login')}"
    assert branch_slug("Feature_Login") == f"feature-login-{short_hash('Feature_Login')}"


def test_a_plain_name_that_looks_hashed_cannot_take_a_lossy_names_slug() -> None:
    lossy = branch_slug("feature/login")
    assert branch_slug(lossy) != lossy


def test_long_names_are_cut_and_hashed() -> None:
    name = "feature/" + "x" * 200
    slug = branch_slug(name)
    assert len(slug) == 63 and slug.endswith(short_hash(name)) and is_label(slug)


def test_option_like_and_empty_slugs_stay_labels() -> None:
    for name in ("--upload-pack=touch /tmp/x", "---", "日本語", "."):
        assert is_label(branch_slug(name))


@settings(max_examples=400)
@given(BRANCHES)
def test_slug_is_a_valid_label_and_deterministic(branch: str) -> None:
    slug = branch_slug(branch)
    assert is_label(slug)
    assert branch_slug(branch) == slug


@settings(max_examples=400)
@given(BRANCHES, BRANCHES)
def test_two_different_branches_never_share_a_slug(a: str, b: str) -> None:
    assume(a != b)
    assert branch_slug(a) != branch_slug(b)


def test_slugs_of_folded_twins_differ() -> None:
    twins = ["feature/login", "feature-login", "Feature-Login", "feature_login", "feature//login", "feature/login/"]
    assert len({branch_slug(name) for name in twins}) == len(twins)


@settings(max_examples=300)
@given(BRANCHES, st.from_regex(r"[a-z][a-z0-9-]{0,62}", fullmatch=True).filter(lambda s: not s.endswith("-")))
def test_preview_namespace_is_a_label(branch: str, namespace: str) -> None:
    assert is_label(preview_namespace("{namespace}-{branch}", namespace, branch))


@settings(max_examples=300)
@given(BRANCHES, HOSTS)
def test_preview_host_is_one_label_under_the_preview_domain(branch: str, host: str) -> None:
    name = preview_host(branch, host, "preview.example.com")
    label, _, domain = name.partition(".")
    assert domain == "preview.example.com"
    assert is_label(label)


def test_preview_host_shapes() -> None:
    assert preview_host("feature-login", "shop.example.com", "preview.localhost") == (
        "feature-login--shop-example-com.preview.localhost"
    )
    assert preview_host("feature-login", None, "preview.localhost") == "feature-login.preview.localhost"
    assert preview_host("x", "*.apps.example.com", "p.io") == "x--wildcard-apps-example-com.p.io"


def test_hosts_that_fold_alike_get_distinct_preview_hosts() -> None:
    """Issue 12, point 15: ``a-b.example.com`` and ``a.b.example.com`` shared one preview host."""
    groups = [
        ("a-b.example.com", "a.b.example.com", "a.b-example.com"),
        ("*.apps.example.com", "wildcard.apps.example.com"),
        ("*.a-b.example.com", "*.a.b.example.com"),
        ("shop.example.123abc", "shop-example.123abc"),
    ]
    for hosts in groups:
        names = {preview_host("feature-x", host, "preview.example.com") for host in hosts}
        assert len(names) == len(hosts), names
    # hosts whose fold is lossless keep their readable form
    assert preview_host("b", "shop.example.com", "p.io") == "b--shop-example-com.p.io"
    assert preview_host("b", "a-b.example.com", "p.io").startswith("b--a-b-example-com-")


@settings(max_examples=300)
@given(st.lists(HOSTS, min_size=2, max_size=6, unique=True))
def test_no_two_hosts_of_a_branch_share_a_preview_host(hosts: list[str]) -> None:
    names = {preview_host("feature/x", host, "preview.example.com") for host in hosts}
    assert len(names) == len(hosts)


@settings(max_examples=200)
@given(BRANCHES, st.lists(st.one_of(HOSTS, st.just("")), max_size=6))
def test_preview_hosts_of_a_branch_are_its_preview_host_per_host(branch: str, hosts: list[str]) -> None:
    """The one-slug-per-branch form the routing state uses names exactly what ``preview_host``
    names, host-less rules ("") included, in the hosts' order."""
    expected = [preview_host(branch, host or None, "preview.example.com") for host in hosts]
    assert preview_hosts(branch, hosts, "preview.example.com") == expected
