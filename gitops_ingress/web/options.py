"""The dashboard's own settings: access, forge links and PR publishing.

A frozen object built once by the cli (from options and the ``GITOPS_INGRESS_WEB_*`` variables,
cli/variables.py) and passed to ``install_dashboard``; nothing in the web layer reads the
environment or a global. They
are kept apart from ``core.settings.Settings`` because they describe this one server (its bind
address, its secrets), not the config repository that every branch shares.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from gitops_ingress.core.allowed_hosts import AllowedHosts
from gitops_ingress.core.errors import ConfigError

GITHUB_API = "https://api.github.com"
# the API base each forge kind has without GITOPS_INGRESS_WEB_FORGE_API_URL (Gitea and Forgejo
# run on your own host, so they have none)
DEFAULT_API = {"github": GITHUB_API, "gitlab": "https://gitlab.com/api/v4", "gitea": ""}
FORGE_KINDS = {"github": "github", "gitlab": "gitlab", "gitea": "gitea", "forgejo": "gitea"}


@dataclass(frozen=True, slots=True)
class ForgeOptions:
    """Where PR comments, commit statuses and (GitHub) deployments are posted: a forge's REST API
    or a stand-in. ``kind``: github, gitlab or gitea (Forgejo speaks Gitea's API)."""

    api_url: str = GITHUB_API
    repository: str = ""  # GitHub and Gitea "owner/name"; GitLab "group/project" or its numeric id
    token: str = ""
    status_context: str = "gitops-ingress/preview"
    timeout: float = 10.0
    kind: str = "github"
    deployments: bool = True  # GitHub: a deployment per preview branch, inactive when it goes

    def __post_init__(self) -> None:
        if self.kind not in DEFAULT_API:
            raise ConfigError(f"forge kind {self.kind!r}: expected one of github, gitlab, gitea")
        if self.enabled and not self.api_url:
            raise ConfigError(f"a {self.kind} forge needs its API URL (GITOPS_INGRESS_WEB_FORGE_API_URL)")

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


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
