"""The sections of the ``GITOPS_INGRESS_*`` variables: pydantic-settings models given the mapping.

``cli/variables.Variables`` (the one reader, see its docstring) imports this module only when some
``GITOPS_INGRESS_*`` variable is set or a section is asked for: pydantic-settings (and the asyncio,
dotenv and provider modules it imports) is about 40 ms of every command's start, and a plain
``validate`` without variables needs none of it.

Each section is a pydantic-settings model given the mapping explicitly (``_GivenVariables``), so
no section reads ``os.environ`` behind the caller's back:

* ``repository``: ``GITOPS_INGRESS_<KEY>``, ``__`` between nesting levels
  (``GITOPS_INGRESS_POLICY__LIMITS__MAX_FILES``); the same keys as ``gitops-ingress.yaml``
  (``core.settings.Settings``, checked by its model ``core.settings_schema.SettingsModel``). Only what is set becomes a layer, merged over the file and under
  the options by ``core.config.read_settings``: defaults < file < variables < options.
* ``web``: ``GITOPS_INGRESS_WEB_<KEY>``, the dashboard and API of this one server, turned into
  ``web.options.WebOptions`` (variables < options).
* ``process``: fixed names for switches of the process rather than the repository
  (``GITOPS_INGRESS_DEBUG``); ``NO_COMPILE``, ``PURE_PYTHON``, ``URL`` and ``TOKEN_FILE`` are read
  by their own owners (setup.py and proxy/build.py before any settings exist, the post-receive
  hook in shell) and are known here so that they are never mistaken for misspelt settings.

A ``GITOPS_INGRESS_*`` name that belongs to no section is a ConfigError naming it (with the
nearest known name), and so is a bad value: exit 2 with one line, never a traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from gitops_ingress.cli.variables import PREFIX
from gitops_ingress.core.errors import ConfigError
from gitops_ingress.core.settings_schema import SettingsModel
from gitops_ingress.web.options import DEFAULT_API, FORGE_KINDS, ForgeOptions, WebOptions

WEB_PREFIX = PREFIX + "WEB_"


class _GivenVariables(EnvSettingsSource):
    """pydantic-settings' environment source over a mapping the caller gives, not ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._given = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # an empty variable is one not set (an empty Secret key in a manifest, say)
        return {name.lower(): value for name, value in self._given.items() if value != ""}


class _Section(BaseSettings):
    """A section: built from the given mapping alone (its init values), frozen, unknown keys refused."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")
    prefix: ClassVar[str] = PREFIX

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @classmethod
    def from_variables(cls, environ: Mapping[str, str]) -> Self:
        try:
            return cls(**_GivenVariables(cls, environ)())
        except ValidationError as exc:
            problems = "; ".join(
                _problem(cls.prefix, err["loc"], err["type"], err["msg"], environ) for err in exc.errors()
            )
            raise ConfigError(f"invalid environment variable {problems}") from exc
        except SettingsError as exc:  # a list or mapping value that is not JSON
            field = re.search(r'field "([^"]+)"', str(exc))
            names = [n for n in environ if field and n.upper().startswith(cls.prefix + field.group(1).upper())]
            raise ConfigError(
                f"invalid environment variable {', '.join(sorted(names)) or cls.prefix + '*'}: "
                "lists and mappings are written as JSON, e.g. '[\"wip/*\"]'"
            ) from exc


class RepositoryVariables(_Section, SettingsModel):  # type: ignore[misc,valid-type]  # a model made at import
    """``GITOPS_INGRESS_<KEY>``: the repository settings, as far as variables set them."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_nested_delimiter="__")

    def layer(self) -> dict[str, Any]:
        """What the variables set, nested like ``gitops-ingress.yaml``; nothing they left out."""
        return self.model_dump(exclude_unset=True)


def _split(value: Any) -> Any:
    return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value


# "a,b" in the environment (not JSON, as documented), a tuple in the model
CommaSeparated = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split)]


class WebVariables(_Section):
    """``GITOPS_INGRESS_WEB_<KEY>`` (docs/configuration.md, "Dashboard and API")."""

    model_config = SettingsConfigDict(env_prefix=WEB_PREFIX, str_strip_whitespace=True)
    prefix: ClassVar[str] = WEB_PREFIX

    token: str = ""
    basic_user: str = ""
    basic_password: str = ""
    repo_url: str = ""
    public_url: str = ""
    anonymous_read: bool | None = None
    allowed_hosts: CommaSeparated = ()
    github_api_url: str = ""
    github_repository: str = ""
    github_token: str = ""
    forge: str = "github"
    forge_api_url: str = ""
    forge_repository: str = ""
    forge_token: str = ""
    forge_deployments: bool = True

    @field_validator("forge")
    @classmethod
    def _known_forge(cls, value: str) -> str:
        if value.lower() not in FORGE_KINDS:
            raise ValueError(f"{value!r}: expected github, gitlab, gitea or forgejo")
        return value.lower()

    def options(self, **overrides: Any) -> WebOptions:
        """The dashboard's options; keyword ``overrides`` (from command-line options) win."""
        kind = FORGE_KINDS[self.forge]
        github = kind == "github"  # the GITHUB_* spellings name GitHub's only
        forge = ForgeOptions(
            api_url=self.forge_api_url or (self.github_api_url if github else "") or DEFAULT_API[kind],
            repository=self.forge_repository or (self.github_repository if github else ""),
            token=self.forge_token or (self.github_token if github else ""),
            kind=kind,
            deployments=self.forge_deployments,
        )
        values: dict[str, Any] = {
            "bearer_token": self.token,
            "basic_user": self.basic_user,
            "basic_password": self.basic_password,
            "repo_url": self.repo_url,
            "public_url": self.public_url,
            "anonymous_read": self.anonymous_read,
            "forge": forge,
            "allowed_hosts": self.allowed_hosts,
        }
        values.update(overrides)
        return WebOptions(**values)


class ProcessVariables(_Section):
    """Switches of the process: ``GITOPS_INGRESS_DEBUG`` (tracebacks for internal failures), and
    the names other owners read, kept here so they are known (see the module docstring)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX)

    debug: str = ""  # any non-empty value, as documented in docs/cli.md
    no_compile: str = ""
    pure_python: str = ""
    url: str = ""
    token_file: str = ""

    @property
    def tracebacks(self) -> bool:
        return bool(self.debug)


def _process_names() -> frozenset[str]:
    return frozenset(PREFIX + name.upper() for name in ProcessVariables.model_fields)


def _web_names() -> frozenset[str]:
    return frozenset(WEB_PREFIX + name.upper() for name in WebVariables.model_fields)


def _repository_keys() -> frozenset[str]:
    return frozenset(name.upper() for name in SettingsModel.model_fields)


class Sections(BaseModel):
    """Every ``GITOPS_INGRESS_*`` variable of the process, by section; ``Sections()`` is none set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repository: RepositoryVariables = Field(default_factory=RepositoryVariables)
    web: WebVariables = Field(default_factory=WebVariables)
    process: ProcessVariables = Field(default_factory=ProcessVariables)

    @classmethod
    def read(cls, ours: Mapping[str, str]) -> Sections:
        """The sections of ``ours`` (the ``GITOPS_INGRESS_*`` variables); ConfigError names the
        first unknown or invalid one."""
        process, web, repository = _process_names(), _web_names(), _repository_keys()
        for name in sorted(ours):
            upper = name.upper()
            if upper in process or upper in web or upper[len(PREFIX) :].split("__")[0] in repository:
                continue
            known = sorted(process | web | {PREFIX + key for key in repository})
            close = difflib.get_close_matches(upper, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(
                f"unknown environment variable {name}{hint}: not a setting in docs/configuration.md; unset it"
            )
        by_section = {
            "web": {n: v for n, v in ours.items() if n.upper() in web},
            "process": {n: v for n, v in ours.items() if n.upper() in process},
        }
        taken = by_section["web"].keys() | by_section["process"].keys()
        return cls(
            repository=RepositoryVariables.from_variables({n: v for n, v in ours.items() if n not in taken}),
            web=WebVariables.from_variables(by_section["web"]),
            process=ProcessVariables.from_variables(by_section["process"]),
        )


def _problem(prefix: str, loc: tuple[int | str, ...], kind: str, message: str, environ: Mapping[str, str]) -> str:
    name = _variable(prefix, loc, environ)
    if kind == "extra_forbidden":  # a misspelt key below a known section
        return f"{name}: no setting {'.'.join(str(part) for part in loc)} (see docs/configuration.md)"
    return f"{name}: {message}"


def _variable(prefix: str, loc: tuple[int | str, ...], environ: Mapping[str, str]) -> str:
    """The variable an error at ``loc`` came from: the given name ``loc`` leads to (a misspelt
    key's is longer than ``loc``: ``POLICY__LIMITZ__MAX_FILES`` for ``policy.limitz``)."""
    names = sorted(environ)
    parts = [str(part).upper() for part in loc]
    for end in range(len(parts), 0, -1):
        candidate = prefix + "__".join(parts[:end])
        for name in names:
            if name.upper() == candidate or name.upper().startswith(candidate + "__"):
                return name
    return prefix + "__".join(parts)
