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
            raise ConfigError(f"a {self.kind} forge needs its API URL ({ENV_PREFIX}FORGE_API_URL)")

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
        ``_GITHUB_REPOSITORY``, ``_GITHUB_TOKEN``, ``_ALLOWED_HOSTS`` (comma-separated), the forge
        (``_FORGE``: github, gitlab, gitea or forgejo; ``_FORGE_API_URL``, ``_FORGE_REPOSITORY``,
        ``_FORGE_TOKEN``, which win over the ``_GITHUB_*`` ones; ``_FORGE_DEPLOYMENTS``); keyword
        overrides win."""

        def get(name: str) -> str:
            return environ.get(ENV_PREFIX + name, "").strip()

        anonymous = get("ANONYMOUS_READ").lower()
        if anonymous not in ("", "true", "false", "1", "0"):
            raise ConfigError(f"{ENV_PREFIX}ANONYMOUS_READ={anonymous!r}: expected true or false")
        kind = FORGE_KINDS.get(get("FORGE").lower() or "github")
        if kind is None:
            raise ConfigError(f"{ENV_PREFIX}FORGE={get('FORGE')!r}: expected github, gitlab, gitea or forgejo")
        deployments = get("FORGE_DEPLOYMENTS").lower()
        if deployments not in ("", "true", "false", "1", "0"):
            raise ConfigError(f"{ENV_PREFIX}FORGE_DEPLOYMENTS={deployments!r}: expected true or false")
        github = kind == "github"  # the GITHUB_* spellings name GitHub's only
        forge = ForgeOptions(
            api_url=get("FORGE_API_URL") or (get("GITHUB_API_URL") if github else "") or DEFAULT_API[kind],
            repository=get("FORGE_REPOSITORY") or (get("GITHUB_REPOSITORY") if github else ""),
            token=get("FORGE_TOKEN") or (get("GITHUB_TOKEN") if github else ""),
            kind=kind,
            deployments=deployments not in ("false", "0"),
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
