"""Deterministic names: branch slugs, preview namespaces and preview hosts (docs/concepts.md).

Everything here is a pure function of its inputs, so a CI job can compute a pull request's preview
URLs before anything is deployed.

Collision freedom. Slugging is lossy (``feature/login``, ``Feature_Login`` and ``feature-login``
all fold to ``feature-login``), and the naming promise is that two branches never share a slug. So a slug
keeps the plain folded form only when the branch name *is* that form already (lowercase letters,
digits and single inner dashes, within the budget, not ending in what looks like a hash suffix);
any lossy fold, and any cut to fit a budget,
appends ``-`` plus the first 6 hex digits of the SHA-256 of the full, original name. Names in the
plain form are distinct strings, and lossy names carry their own hash, so two different branch
names differ in the slug (up to a 24-bit hash collision between two lossy names).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

DNS_LABEL_MAX = 63
HASH_LENGTH = 6

_OUTSIDE_SLUG = re.compile(r"[^a-z0-9]+")
_PLAIN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A plain name that already ends like a hash suffix could equal a lossy name's slug.
_HASH_SUFFIX = re.compile(rf"-[0-9a-f]{{{HASH_LENGTH}}}$")


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]


def fold(text: str) -> str:
    """Lowercase; every run of characters outside ``[a-z0-9]`` becomes one ``-``; trimmed."""
    return _OUTSIDE_SLUG.sub("-", text.lower()).strip("-")


def cut(text: str, budget: int, full_name: str) -> str:
    """``text`` cut to ``budget`` characters, ending in ``-`` and the hash of ``full_name``."""
    keep = max(budget - HASH_LENGTH - 1, 0)
    head = text[:keep].rstrip("-")
    digest = short_hash(full_name)
    return f"{head}-{digest}" if head else digest


def branch_slug(branch: str, budget: int = DNS_LABEL_MAX) -> str:
    """The branch's slug: its folded name, with a hash suffix when folding lost information."""
    folded = fold(branch)
    plain = _PLAIN.fullmatch(branch) is not None and not _HASH_SUFFIX.search(branch)
    if plain and len(branch) <= budget:
        return branch
    return cut(folded, min(budget, len(folded) + HASH_LENGTH + 1), branch)


def fit_label(text: str, full_name: str, budget: int = DNS_LABEL_MAX) -> str:
    """``text`` as is when it fits in ``budget``, else hash-cut on ``full_name``."""
    if len(text) <= budget:
        return text
    return cut(text, budget, full_name)


def stable_namespace(template: str, namespace: str) -> str:
    name = template.format(namespace=namespace)
    return fit_label(fold(name), name)


def preview_namespace(template: str, namespace: str, branch: str) -> str:
    """``{namespace}-{branch}-{hash}`` (by default), a DNS-1123 label of at most 63 characters.

    The hash of the pair (namespace, branch) always ends the name: without it ``shop`` with branch
    ``staging`` became ``shop-staging``, which ``main`` may use as a stable namespace, and the
    pairs (``shop``, ``a-b``) and (``shop-a``, ``b``) met in ``shop-a-b``. With it no two pairs
    share a name (up to a 24-bit hash collision), whatever the template, and a stable namespace
    meets a preview one only by ending in that very hash, which the target refuses anyway.
    """
    name = template.format(namespace=namespace, branch=branch_slug(branch))
    return cut(name, min(DNS_LABEL_MAX, len(name) + HASH_LENGTH + 1), namespace + "\x00" + branch)


def host_label(host: str) -> str:
    """The stable host as one DNS label fragment: dots become ``-``, a wildcard ``*`` becomes
    ``wildcard`` (``*.apps.example.com`` -> ``wildcard-apps-example-com``).

    That fold is lossy for some hosts, and two hosts of one branch must never share a preview host
    (``a-b.example.com`` and ``a.b.example.com`` both fold to ``a-b-example-com``). So, as for
    branch names, a host keeps the plain fold only when the fold can be undone: no ``-`` in the
    host, no literal first label ``wildcard`` (the wildcard's own fold), and no fold ending like a
    hash suffix; any other host gets ``-`` and the hash of the full host appended
    (``a-b.example.com`` -> ``a-b-example-com-<hash>``).
    """
    wildcard = host.startswith("*.")
    folded = ("wildcard." + host[2:] if wildcard else host).replace(".", "-")
    literal_wildcard = not wildcard and (host == "wildcard" or host.startswith("wildcard."))
    lossless = "-" not in host and not literal_wildcard
    if lossless and not _HASH_SUFFIX.search(folded):
        return folded
    return f"{folded}-{short_hash(host)}"


def preview_host(branch: str, host: str | None, preview_domain: str) -> str:
    """``{branch}--{host}.{preview_domain}``; host-less rules get ``{branch}.{preview_domain}``."""
    return _preview_host(branch, branch_slug(branch), host, preview_domain)


def preview_hosts(branch: str, hosts: Iterable[str], preview_domain: str) -> list[str]:
    """``preview_host`` of each of one branch's rule hosts ("" for host-less), in order; the
    branch's slug (a SHA-256 for most branch names) is made once, not once per host: a routing
    state names every host of every branch it changes, 20 per branch in a burst of 500."""
    slug = branch_slug(branch)
    return [_preview_host(branch, slug, host or None, preview_domain) for host in hosts]


def _preview_host(branch: str, slug: str, host: str | None, preview_domain: str) -> str:
    if not host:
        return f"{slug}.{preview_domain}"
    label = fit_label(f"{slug}--{host_label(host)}", branch + "\x00" + host)
    return f"{label}.{preview_domain}"


def wildcard_preview_upstream_host(host: str) -> str:
    """The Host sent upstream for a wildcard rule's preview: the wildcard filled with ``wildcard``."""
    return "wildcard." + host[2:] if host.startswith("*.") else host
