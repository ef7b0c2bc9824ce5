"""The dashboard's own settings: access, forge links and PR publishing.

A frozen object built once by the cli (from options and ``GITOPS_INGRESS_WEB_*`` variables) and
passed to ``install_dashboard``; nothing in the web layer reads the environment or a global. They
are kept apart from ``core.settings.Settings`` because they describe this one server (its bind
address, its secrets), not the config repository that every branch shares.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from gitops_ingress.core.allowed_hosts import AllowedHosts
from gitops_ingress.core.errors import ConfigError

ENV_PREFIX = "GITOPS_INGRESS_WEB_"
GITHUB_API = "https://api.github.com"


@dataclass(frozen=True, slots=True)
class ForgeOptions:
    """Where PR comments and commit statuses are posted (the GitHub REST API or a stand-in)."""

    api_url: str = GITHUB_API
    repository: str = ""  # "owner/name"
    token: str = ""
    status_context: str = "gitops-ingress/preview"
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.repository and self.token)


@dataclass(frozen=True, slots=True)
class WebOptions:
    # The address the server is bound to. "" (the default, and what serve should use) judges
    # each request by the local address it arrived on, so a server bound to 0.0.0.0 is open to
    # requests that arrive on 127.0.0.1 only.
    listen_host: str = ""
    # Read access without credentials; None means "only when bound to loopback".
    anonymous_read: bool | None = None
    bearer_token: str = ""
    basic_user: str = ""
    basic_password: str = ""
    repo_url: str = ""  # the config repository, for links to files at a commit
    public_url: str = ""  # how people reach the dashboard, for links in PR comments
    page_size: int = 50
    forge: ForgeOptions = ForgeOptions()
    # Host names answered besides IP literals and localhost (DNS rebinding: core/allowed_hosts.py)
    allowed_hosts: tuple[str, ...] = ()
    # The proxy the search page sends tried requests to (web/tryout.py); serve sets it to its
    # embedded proxy. "" turns trying off.
    proxy_url: str = ""

    def __post_init__(self) -> None:
        if bool(self.basic_user) != bool(self.basic_password):
            raise ConfigError("web basic auth needs both a user and a password")
        if not 1 <= self.page_size <= 1000:
            raise ConfigError(f"web page size {self.page_size}: expected 1 to 1000")
        AllowedHosts.parse(self.allowed_hosts, public_url=self.public_url)  # refuses a bad pattern now

    @property
    def has_credentials(self) -> bool:
        return bool(self.bearer_token or self.basic_user)

    @property
    def hosts(self) -> AllowedHosts:
        return AllowedHosts.parse(self.allowed_hosts, public_url=self.public_url)

    def reads_open(self, local_address: str) -> bool:
        """Whether a request that arrived on ``local_address`` may read without credentials."""
        if self.anonymous_read is not None:
            return self.anonymous_read
        return is_loopback(self.listen_host or local_address)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: object) -> WebOptions:
        """``GITOPS_INGRESS_WEB_TOKEN``, ``_BASIC_USER``, ``_BASIC_PASSWORD``, ``_REPO_URL``,
        ``_PUBLIC_URL``, ``_ANONYMOUS_READ`` (true/false), ``_GITHUB_API_URL``,
        ``_GITHUB_REPOSITORY``, ``_GITHUB_TOKEN``, ``_ALLOWED_HOSTS`` (comma-separated); keyword
        overrides win."""

        def get(name: str) -> str:
            return environ.get(ENV_PREFIX + name, "").strip()

        anonymous = get("ANONYMOUS_READ").lower()
        if anonymous not in ("", "true", "false", "1", "0"):
            raise ConfigError(f"{ENV_PREFIX}ANONYMOUS_READ={anonymous!r}: expected true or false")
        forge = ForgeOptions(
            api_url=get("GITHUB_API_URL") or GITHUB_API,
            repository=get("GITHUB_REPOSITORY"),
            token=get("GITHUB_TOKEN"),
        )
        values: dict[str, object] = {
            "bearer_token": get("TOKEN"),
            "basic_user": get("BASIC_USER"),
            "basic_password": get("BASIC_PASSWORD"),
            "repo_url": get("REPO_URL"),
            "public_url": get("PUBLIC_URL"),
            "anonymous_read": None if not anonymous else anonymous in ("true", "1"),
            "forge": forge,
            "allowed_hosts": tuple(name.strip() for name in get("ALLOWED_HOSTS").split(",") if name.strip()),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
