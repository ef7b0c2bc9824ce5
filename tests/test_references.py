"""The project documents itself: code and docs cite files inside the project, never a design file
kept elsewhere, and every relative link in the Markdown pages reaches a file that exists."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tests.support.gitrepos import PROJECT_ROOT

# Spelled in pieces so that this file does not cite them itself.
OUTSIDE = ("../" + "shared", "DESI" + "GN section", "DESI" + "GN.md", "INGRESS-" + "SEMANTICS")
# Generated or installed content, and git's own files: not the project's text.
SKIPPED_FOLDERS = {
    ".git",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".venv",
    "build",
    "dist",
    "test-artifacts",
    ".gitops-ingress",
    ".hypothesis",
    ".state",
    "node_modules",  # tests/a11y: axe-core, installed by npm ci
}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def project_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.iterdir()):
        if path.is_dir():
            if path.name not in SKIPPED_FOLDERS and not path.name.endswith(".egg-info"):
                yield from project_files(path)
        elif path.is_file() and not path.is_symlink():
            yield path


def outside_references(root: Path) -> list[str]:
    found = []
    for path in project_files(root):
        data = path.read_bytes()
        if b"\0" in data:
            continue  # compiled modules, images
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            found += [f"{path.relative_to(root)}:{number}: {word}" for word in OUTSIDE if word in line]
    return found


def broken_links(root: Path) -> list[str]:
    broken = []
    for page in project_files(root):
        if page.suffix != ".md":
            continue
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target) or target.startswith("#"):
                    continue  # a URL or an anchor on the same page
                if not (page.parent / target.split("#", 1)[0]).exists():
                    broken.append(f"{page.relative_to(root)}:{number}: {target}")
    return broken


def test_nothing_in_the_project_cites_files_outside_it() -> None:
    assert outside_references(PROJECT_ROOT) == []


def test_every_relative_markdown_link_reaches_a_file() -> None:
    assert broken_links(PROJECT_ROOT) == []


def test_the_checks_see_the_project_and_catch_a_violation(tmp_path: Path) -> None:
    scanned = {str(p.relative_to(PROJECT_ROOT)) for p in project_files(PROJECT_ROOT)}
    assert {"README.md", "docs/dev/architecture.md", "gitops_ingress/core/__init__.py", "action.yml"} <= scanned
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        f"See {OUTSIDE[0]}/x.md and [the design](../{OUTSIDE[2]}), [ok](page.md), [web](https://example.com).\n"
    )
    (tmp_path / "module.py").write_text(f'"""Routing ({OUTSIDE[1]} 5)."""\n')
    assert outside_references(tmp_path) == [
        f"docs/page.md:1: {OUTSIDE[0]}",
        f"docs/page.md:1: {OUTSIDE[2]}",
        f"module.py:1: {OUTSIDE[1]}",
    ]
    assert broken_links(tmp_path) == [f"docs/page.md:1: ../{OUTSIDE[2]}"]


# Every annotation key ingress-nginx documents (docs/user-guide/nginx-configuration/annotations.md)
# or parses (internal/ingress/annotations) at its last release: ingress-nginx is retired, so the list
# is frozen here, and a key of it missing from the catalogue is a user's annotation we say nothing of.
INGRESS_NGINX_KEYS = [
    "affinity",
    "affinity-canary-behavior",
    "affinity-mode",
    "allowlist-source-range",
    "app-root",
    "auth-always-set-cookie",
    "auth-cache-duration",
    "auth-cache-key",
    "auth-keepalive",
    "auth-keepalive-requests",
    "auth-keepalive-share-vars",
    "auth-keepalive-timeout",
    "auth-method",
    "auth-proxy-set-headers",
    "auth-realm",
    "auth-request-redirect",
    "auth-response-headers",
    "auth-secret",
    "auth-secret-type",
    "auth-signin",
    "auth-signin-redirect-param",
    "auth-snippet",
    "auth-tls-error-page",
    "auth-tls-match-cn",
    "auth-tls-pass-certificate-to-upstream",
    "auth-tls-secret",
    "auth-tls-verify-client",
    "auth-tls-verify-depth",
    "auth-type",
    "auth-url",
    "backend-protocol",
    "canary",
    "canary-by-cookie",
    "canary-by-header",
    "canary-by-header-pattern",
    "canary-by-header-value",
    "canary-weight",
    "canary-weight-total",
    "client-body-buffer-size",
    "configuration-snippet",
    "connection-proxy-header",
    "cors-allow-credentials",
    "cors-allow-headers",
    "cors-allow-methods",
    "cors-allow-origin",
    "cors-expose-headers",
    "cors-max-age",
    "custom-headers",
    "custom-http-errors",
    "default-backend",
    "denylist-source-range",
    "disable-proxy-intercept-errors",
    "enable-access-log",
    "enable-cors",
    "enable-global-auth",
    "enable-modsecurity",
    "enable-opentelemetry",
    "enable-owasp-core-rules",
    "enable-rewrite-log",
    "fastcgi-index",
    "fastcgi-params-configmap",
    "force-ssl-redirect",
    "from-to-www-redirect",
    "http2-push-preload",
    "limit-allowlist",
    "limit-burst-multiplier",
    "limit-connections",
    "limit-rate",
    "limit-rate-after",
    "limit-rpm",
    "limit-rps",
    "limit-whitelist",
    "load-balance",
    "mirror-host",
    "mirror-request-body",
    "mirror-target",
    "modsecurity-snippet",
    "modsecurity-transaction-id",
    "opentelemetry-operation-name",
    "opentelemetry-trust-incoming-span",
    "permanent-redirect",
    "permanent-redirect-code",
    "preserve-trailing-slash",
    "proxy-body-size",
    "proxy-buffer-size",
    "proxy-buffering",
    "proxy-buffers-number",
    "proxy-busy-buffers-size",
    "proxy-connect-timeout",
    "proxy-cookie-domain",
    "proxy-cookie-path",
    "proxy-http-version",
    "proxy-max-temp-file-size",
    "proxy-next-upstream",
    "proxy-next-upstream-timeout",
    "proxy-next-upstream-tries",
    "proxy-read-timeout",
    "proxy-redirect-from",
    "proxy-redirect-to",
    "proxy-request-buffering",
    "proxy-send-timeout",
    "proxy-ssl-ciphers",
    "proxy-ssl-name",
    "proxy-ssl-protocols",
    "proxy-ssl-secret",
    "proxy-ssl-server-name",
    "proxy-ssl-verify",
    "proxy-ssl-verify-depth",
    "relative-redirects",
    "rewrite-target",
    "satisfy",
    "server-alias",
    "server-snippet",
    "service-upstream",
    "session-cookie-change-on-failure",
    "session-cookie-conditional-samesite-none",
    "session-cookie-domain",
    "session-cookie-expires",
    "session-cookie-max-age",
    "session-cookie-name",
    "session-cookie-path",
    "session-cookie-samesite",
    "session-cookie-secure",
    "ssl-ciphers",
    "ssl-passthrough",
    "ssl-prefer-server-ciphers",
    "ssl-redirect",
    "stream-snippet",
    "temporal-redirect",
    "temporal-redirect-code",
    "upstream-hash-by",
    "upstream-hash-by-subset",
    "upstream-hash-by-subset-size",
    "upstream-vhost",
    "use-port-in-redirects",
    "use-regex",
    "whitelist-source-range",
    "x-forwarded-prefix",
]
MIGRATION_ROW = re.compile(r"^\| `([a-z0-9-]+)` \| ([^|]+?) \| ((?:[^|]|\\\|)*?) ?\| [^|]*\|$", re.MULTILINE)


def test_the_migration_page_is_the_annotation_catalogue() -> None:
    """docs/migrating-from-ingress-nginx.md's table and core/annotations agree both ways: the same
    keys, each with the registry's status and its difference or reason word for word, and every
    key ingress-nginx has is in both."""
    from gitops_ingress.core.annotations import known_names
    from gitops_ingress.core.reports.annotation_table import label

    page = (PROJECT_ROOT / "docs" / "migrating-from-ingress-nginx.md").read_text(encoding="utf-8")
    rows = {name: (status, note.replace("\\|", "|")) for name, status, note in MIGRATION_ROW.findall(page)}
    catalogue = {name: (label(spec.status), spec.note) for name, spec in known_names()}
    assert sorted(set(rows) ^ set(catalogue)) == []  # a row for every key, and no row for a key we do not know
    assert {name: row for name, row in rows.items() if row != catalogue[name]} == {}
    assert sorted(set(INGRESS_NGINX_KEYS) - set(catalogue)) == []
