"""The credentials of ``auth-type: basic`` routes, read where each route source keeps Secrets.

A snapshot carries the parsed htpasswd of every Secret its routes name (``Snapshot.credentials``,
keyed by ``BasicAuth.secret_key``); a route whose Secret is missing or unreadable is absent there,
and the request path answers 503 for it, as ingress-nginx denies a location whose secret it cannot
read (never open). Two places hold Secrets:

* a folder (``--secret-dir DIR``, for ``proxy --ingress-dir`` and ``serve``): laid out the way a
  kubelet mounts a Secret, one file per key: ``DIR/<namespace>/<name>/auth`` (or ``DIR/<name>/auth``
  for a Secret of that name in any namespace, as the backend map's keys without a namespace;
  the namespaced folder wins), beside the TLS layout of ``--tls-dir`` (proxy/tls.py);
* the cluster (``--kubernetes``): the Secret's ``data`` through the API (proxy/sources/cluster.py).

Entries in a format we refuse (core/htpasswd.py) become findings naming the file and line, with
the rule ``auth/unsupported-hash``: the file source refuses the change as for any error, the
cluster source logs them and leaves those users out.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from gitops_ingress.core.annotations.authn import BasicAuth
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.htpasswd import AUTH_KEY, Htpasswd, HtpasswdError, from_secret
from gitops_ingress.core.routing import RouteTable, RoutingState

Credentials = dict[tuple[str, str, str], Htpasswd]
SecretData = Mapping[str, str]  # a Secret's keys and their decoded text
MAX_SECRET_BYTES = 1024 * 1024  # a Kubernetes Secret is at most 1 MiB
RULE = "auth/unsupported-hash"


def wanted(state: RoutingState) -> set[BasicAuth]:
    """Every basic auth of the stable and preview routes (and of their canaries' main routes)."""
    return {auth for table in (state.stable, *state.previews.values()) for auth in _auths_of(table)}


def _auths_of(table: RouteTable) -> frozenset[BasicAuth]:
    return frozenset(
        route.effects.basic_auth
        for route in table.routes
        if route.effects is not None and route.effects.basic_auth is not None and route.effects.basic_auth.name
    )


class WantedByTable:
    """``wanted`` for a source that reads every new state of a burst: each table's basic auths
    are kept by the table's version (a fingerprint of its routes with their effects), so a
    publication costs one look-up per table, not a walk of every route of every branch (30,000
    routes for 1,500 branches, once per publication). Only the last state's tables are kept."""

    def __init__(self) -> None:
        self._by_version: dict[str, frozenset[BasicAuth]] = {}

    def __call__(self, state: RoutingState) -> set[BasicAuth]:
        kept: dict[str, frozenset[BasicAuth]] = {}
        for table in (state.stable, *state.previews.values()):
            auths = kept.get(table.version)
            if auths is None:
                auths = self._by_version.get(table.version)
            kept[table.version] = auths if auths is not None else _auths_of(table)
        self._by_version = kept
        return set().union(*kept.values())


def _findings(where: str, parsed: Htpasswd, auth: BasicAuth) -> list[Finding]:
    return [
        Finding(
            rule=RULE,
            severity=Severity.ERROR,
            message=f'user "{bad.user}" of Secret {auth.namespace}/{auth.name} is left out: {bad.reason}',
            file=where if bad.line else f"{where}/{bad.user}",
            line=bad.line,
        )
        for bad in parsed.bad
    ]


def credentials_of(
    auths: Iterable[BasicAuth], read: Mapping[tuple[str, str], tuple[str, SecretData]]
) -> tuple[Credentials, list[Finding]]:
    """Parse the Secrets ``read`` found ((namespace, name) -> (where, data)) for every basic
    auth in ``auths`` (a state's ``wanted``); a Secret not found, or without its key, is a
    finding and stays out."""
    found: Credentials = {}
    findings: list[Finding] = []
    for auth in sorted(auths, key=lambda a: a.secret_key):
        entry = read.get((auth.namespace, auth.name))
        if entry is None:
            findings.append(_missing(auth, "not found"))
            continue
        where, data = entry
        try:
            parsed = from_secret(data, auth.secret_type)
        except HtpasswdError as exc:
            findings.append(_missing(auth, str(exc), where))
            continue
        found[auth.secret_key] = parsed
        findings.extend(_findings(where if auth.secret_type == "auth-map" else f"{where}/{AUTH_KEY}", parsed, auth))
    return found, findings


def _missing(auth: BasicAuth, why: str, where: str = "") -> Finding:
    return Finding(
        rule="auth/secret-missing",
        severity=Severity.WARNING,
        message=f"Secret {auth.namespace}/{auth.name} of auth-type basic: {why}; its routes answer 503",
        file=where or f"{auth.namespace}/{auth.name}",
    )


def from_folder(
    root: Path | None, state: RoutingState, auths_of: Callable[[RoutingState], set[BasicAuth]] = wanted
) -> tuple[Credentials, list[Finding]]:
    """The credentials of ``state``'s basic-auth routes from the folder ``root`` (blocking; None:
    no folder, so every such Secret is missing and its routes answer 503). ``auths_of``: a
    source that follows a state's changes passes its ``WantedByTable``."""
    auths = auths_of(state)
    names = [(auth.namespace, auth.name) for auth in auths]
    return credentials_of(auths, read_folder(root, names) if root is not None else {})


def read_folder(root: Path, names: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, SecretData]]:
    """The Secrets ``names`` from ``root`` (blocking): each key a file of the Secret's folder."""
    found: dict[tuple[str, str], tuple[str, SecretData]] = {}
    for namespace, name in names:
        for folder in (root / namespace / name, root / name):
            if folder.is_dir() and not folder.is_symlink():
                found[(namespace, name)] = (str(folder), _keys_of(folder))
                break
    return found


def _keys_of(folder: Path) -> dict[str, str]:
    data: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.stat().st_size > MAX_SECRET_BYTES:
            continue  # ..data and the kubelet's other atomic-swap entries, or a file too large
        data[path.name] = path.read_bytes().decode("utf-8", "surrogateescape")
    return data


def decoded(data: Mapping[str, str] | None) -> dict[str, str]:
    """A Secret's ``data`` (base64 values, as the API gives them) as text; bad values are left out."""
    found: dict[str, str] = {}
    for key, value in (data or {}).items():
        try:
            found[key] = base64.b64decode(value, validate=True).decode("utf-8", "surrogateescape")
        except (binascii.Error, ValueError):
            continue
    return found
