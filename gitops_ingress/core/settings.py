"""Settings: one frozen, nested dataclass, built once and passed in; never read from globals.

Sources, lowest to highest precedence: the defaults below, ``gitops-ingress.yaml`` in the config
repository, the ``GITOPS_INGRESS_*`` variables, and command-line options, each handed in as a
mapping of the same shape (the cli parses the file and reads the variables: cli/variables.py; core
does no I/O). ``Settings.build`` merges them; nothing changes a Settings object after construction.

The classes are plain frozen dataclasses; what a layer may hold is checked by pydantic models made
from them (core/settings_schema.py: the same fields, types, defaults and ``Annotated`` bounds), and
only when some layer is non-empty and not plain (``settings_of``: a layer whose every value is
exactly of its field's type is built here, as pydantic would build it): ``validate`` on a
repository without ``gitops-ingress.yaml``, variables or options, or with a plain file, does not
import pydantic at all (issue 13: about 60-80 ms of every run).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from gitops_ingress.core.errors import ConfigError

if TYPE_CHECKING:
    # The bounds are read only where a layer is checked (core/settings_schema.py, which hands them
    # to the annotations it evaluates): annotated_types and typing_extensions took 12 ms to import.
    from annotated_types import Ge, Gt

SETTINGS_FILE = "gitops-ingress.yaml"


Severity3 = Literal["warning", "error", "ignore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchSettings:
    stable: str = "main"
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NamespaceSettings:
    stable_template: str = "{namespace}"
    preview_template: str = "{namespace}-{branch}"
    # environment name -> namespace for Ingresses without metadata.namespace
    defaults: dict[str, str] = field(default_factory=dict)
    fallback: str = "default"

    def default_for(self, environment: str) -> str:
        return self.defaults.get(environment, self.fallback)


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitSettings:
    max_file_bytes: int = 1024 * 1024
    max_files: int = 10_000
    max_documents_per_file: int = 500
    max_objects: int = 50_000
    max_paths_per_host: int = 500
    max_yaml_aliases: int = 100
    max_yaml_depth: int = 64
    max_yaml_nodes: int = 200_000
    # kustomize (core/kustomize.py): the files one render may read, what it may write, how long
    max_render_input_bytes: int = 64 * 1024 * 1024
    max_render_output_bytes: int = 64 * 1024 * 1024
    render_timeout_seconds: float = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySettings:
    # environment name -> host suffixes its Ingresses may claim ("" or missing: any host)
    allowed_host_suffixes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # environments where host-less rules (which match every host) are intended, so the
    # allowed-host-suffix policy does not warn about them
    allow_hostless_rules: tuple[str, ...] = ()
    # glob patterns over annotation keys; every *-snippet key by default (CVE-2021-25742)
    denied_annotations: tuple[str, ...] = ("*-snippet",)
    # glob patterns over hosts that several environments may claim on the shared proxy (by default
    # a host belongs to one environment: issue 12's cross-environment takeover)
    shared_hosts: tuple[str, ...] = ()
    limits: LimitSettings = field(default_factory=LimitSettings)


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationSettings:
    # Clusters before Kubernetes v1.36 require Service names to be DNS-1035 labels.
    strict_service_names: bool = False
    # ingress-nginx's strict-validate-path-type charset for Exact/Prefix paths, as a warning.
    strict_path_charset: bool = True
    other_kinds: Severity3 = "warning"
    # kubectl's default (--validate=strict) refuses unknown fields; so do we, unless told otherwise
    unknown_fields: Severity3 = "error"
    multiple_default_backends: Severity3 = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionSettings:
    """How much history the state database keeps (docs/configuration.md): the newest
    ``syncs_per_branch`` sync rows of each branch, the rows of a removed branch for
    ``removed_branch_days``, and webhook deliveries (the replay guard) received within
    ``delivery_days``. Older rows are deleted as new ones are written."""

    syncs_per_branch: Annotated[int, Ge(1)] = 200
    removed_branch_days: Annotated[float, Gt(0)] = 30.0
    delivery_days: Annotated[float, Gt(0)] = 7.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    branches: BranchSettings = field(default_factory=BranchSettings)
    environments_dir: str = "environments"
    preview_domain: str = "preview.localhost"
    namespaces: NamespaceSettings = field(default_factory=NamespaceSettings)
    ingress_class: str = "gitops-ingress"
    serve_ingresses_without_class: bool = True
    poll_interval: float = 60.0
    # Preview lifecycle (docs/previews-lifecycle.md). ``preview_ttl``: seconds a preview lives after
    # its branch's last push (0: forever); ``preview_keep``: branch globs that never expire;
    # ``max_previews``: live previews at most (0: no cap), the least recently pushed shelved first;
    # ``deleted_preview_grace``: seconds a deleted branch keeps its previews (0: removed at once;
    # this was ``preview_ttl``'s meaning before it became the idle time-to-live).
    preview_ttl: Annotated[float, Ge(0)] = 0.0
    preview_keep: tuple[str, ...] = ()
    max_previews: Annotated[int, Ge(0)] = 0
    deleted_preview_grace: Annotated[float, Ge(0)] = 0.0
    # routing keys on the real host (docs/previews.md): on or off, hosts that never take one
    # (rule hosts, ``*.`` wildcards allowed), and the HMAC secret that makes keys signed tokens
    # (set it by environment variable, GITOPS_INGRESS_PREVIEW_KEY_SECRET, not in the repository)
    preview_keys: bool = True
    preview_key_protected_hosts: tuple[str, ...] = ()
    preview_key_secret: str = ""
    preview_key_max_age: Annotated[int, Gt(0)] = 7 * 24 * 3600  # seconds: cookie and token lifetime
    policy: PolicySettings = field(default_factory=PolicySettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    # "[NS/]SERVICE:PORT" -> URL, where each Service lives for the local target
    backends: dict[str, str] = field(default_factory=dict)
    retention: RetentionSettings = field(default_factory=RetentionSettings)

    @property
    def stable_branch(self) -> str:
        return self.branches.stable

    def preview_kept(self, branch: str) -> bool:
        """A branch whose previews never expire (``preview_keep``)."""
        return any(fnmatch.fnmatchcase(branch, pattern) for pattern in self.preview_keep)

    @classmethod
    def build(
        cls,
        file_data: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Settings:
        """The layers merged, lowest first: the file, the variables (already nested), the options."""
        merged: dict[str, Any] = {}
        for layer in (file_data or {}, variables or {}, overrides or {}):
            merged = deep_merge(merged, layer)
        if not merged:
            return cls()  # the defaults, without importing pydantic (module docstring)
        settings, errors = settings_of(merged)
        if settings is None:
            problems = "; ".join(f"{'.'.join(str(p) for p in path)}: {message}" for path, message in errors)
            raise ConfigError(f"invalid settings: {problems}")
        return settings


def deep_merge(base: Mapping[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def settings_of(data: Mapping[str, Any]) -> tuple[Settings | None, list[tuple[tuple[str | int, ...], str]]]:
    """``data`` (merged layers) as Settings, or None and each problem's path and message: what
    core/settings_schema.py's pydantic models answer. A layer of plain values (every key known,
    every value exactly of its field's type: ``_plain``) is built here without them, as they
    would build it; anything else (a coercion, a bound, an error) is theirs to decide and word.
    Why: importing pydantic and building its models took about 80 ms, and most settings files
    are plain (a render timeout, a few lists)."""
    plain = _plain(Settings, data)
    if plain is not None:
        return plain, []
    from gitops_ingress.core.settings_schema import settings_from

    return settings_from(dict(data))


_NOT_PLAIN = object()
_SEVERITIES3 = frozenset(get_args(Severity3))
_EXACT: dict[str, type[Any]] = {"str": str, "bool": bool, "int": int}
_FLOAT_EXACT = 2**53  # ints up to this are exactly floats: pydantic's float of them is float()


def _plain(cls: type[Any], data: Any) -> Any:
    """An instance of settings dataclass ``cls`` from ``data`` when it is plain (see
    ``settings_of``), else None. Only the field types written below are plain; an ``Annotated``
    bound or any other type steps aside to pydantic."""
    if type(data) is not dict:
        return None
    known = {item.name: item for item in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        item = known.get(key) if type(key) is str else None
        if item is None:
            return None
        section = item.default_factory
        if isinstance(section, type) and dataclasses.is_dataclass(section):
            made = _plain(section, value)
            if made is None:
                return None
        else:
            made = _plain_value(str(item.type), value)
            if made is _NOT_PLAIN:
                return None
        values[key] = made
    return cls(**values)


def _plain_value(kind: str, value: Any) -> Any:
    """``value`` as pydantic makes it for a field annotated ``kind`` when it is exactly of that
    type (a bool is not an int here, nor a numeric string a number), else ``_NOT_PLAIN``."""
    exact = _EXACT.get(kind)
    if exact is not None:
        return value if type(value) is exact else _NOT_PLAIN
    if kind == "float":
        if type(value) is float:
            return value
        if type(value) is int and -_FLOAT_EXACT <= value <= _FLOAT_EXACT:
            return float(value)
        return _NOT_PLAIN
    if kind == "Severity3":
        return value if type(value) is str and value in _SEVERITIES3 else _NOT_PLAIN
    if kind == "tuple[str, ...]":
        return _strings(value)
    if kind in ("dict[str, str]", "dict[str, tuple[str, ...]]"):
        if type(value) is not dict:
            return _NOT_PLAIN
        inner = kind[len("dict[str, ") : -1]
        made = {}
        for key, item in value.items():
            converted = _plain_value(inner, item)
            if type(key) is not str or converted is _NOT_PLAIN:
                return _NOT_PLAIN
            made[key] = converted
        return made
    return _NOT_PLAIN


def _strings(value: Any) -> Any:
    """A list or tuple of str as the tuple pydantic makes of it, else ``_NOT_PLAIN``."""
    if type(value) not in (list, tuple) or any(type(item) is not str for item in value):
        return _NOT_PLAIN
    return tuple(value)
