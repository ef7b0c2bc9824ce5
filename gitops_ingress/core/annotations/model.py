"""What the annotation registry is made of: a status per key, one spec per key, and the compiled
effect an Ingress's annotations have on its routes (docs/migrating-from-ingress-nginx.md).

A spec knows one ``nginx.ingress.kubernetes.io/*`` key: how we treat it (``Status``), the one line
that says how we differ from ingress-nginx when we do, and a parser that turns the annotation's
string into a value or raises ``AnnotationValueError`` with a message that becomes a finding
(validation names the file, line and rule; a bad value is never a traceback).

``RouteEffects`` is what routing keeps of the honoured annotations of one Ingress, compiled once
when the table is built: a route without annotations carries ``None`` and the proxy's request path
never looks further (docs/dev/architecture.md, the request path pays per route at compile time).
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitops_ingress.core.annotations.authn import BasicAuth, ForwardAuth
from gitops_ingress.core.errors import GitopsIngressError

if TYPE_CHECKING:  # routing's model imports this one; a Canary only holds its backend
    from gitops_ingress.core.annotations.affinity import Affinity
    from gitops_ingress.core.annotations.rates import RequestLimits
    from gitops_ingress.core.routing.model import Backend

PREFIX = "nginx.ingress.kubernetes.io/"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A client address as ranges judge it (an IPv4-mapped IPv6 address as its IPv4 one); None
    for text that is no address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class Status(str, enum.Enum):
    HONOURED = "honoured"
    DIFFERENT = "honoured-with-difference"
    IGNORED = "ignored"
    REFUSED = "refused"


class AnnotationValueError(GitopsIngressError):
    """An annotation's value that ingress-nginx would not accept either."""


Parser = Callable[[str], Any]


def _as_text(value: str) -> str:
    return value


@dataclass(frozen=True, slots=True)
class AnnotationSpec:
    """One key (without the prefix), its status, the difference or reason in one line, its parser."""

    name: str
    status: Status
    note: str = ""
    parse: Parser = _as_text
    family: str = ""

    @property
    def key(self) -> str:
        return PREFIX + self.name


_CAPTURE = re.compile(r"\$(\d+)")

# A rewrite target in pieces: literal text, or the number of a capture group.
TemplatePart = str | int


def rewrite_parts(target: str) -> tuple[TemplatePart, ...]:
    """``/v2/$1x$2`` -> ``("/v2/", 1, "x", 2)``: nginx's ``$n`` captures, all else literal."""
    parts: list[TemplatePart] = []
    for index, piece in enumerate(_CAPTURE.split(target)):
        if index % 2:
            parts.append(int(piece))
        elif piece:
            parts.append(piece)
    return tuple(parts)


def _capture(found: re.Match[str], number: int) -> str:
    """``$number`` of a match; a group that took no part, or that the regex lacks, is empty (nginx)."""
    if number == 0:
        return found.group(0)
    groups = found.groups()
    return (groups[number - 1] or "") if number <= len(groups) else ""


@dataclass(frozen=True, slots=True)
class Canary:
    """A canary Ingress folded into the main route of the same host and path (ingress-nginx's
    alternative backend): which requests it takes, in ingress-nginx's order of precedence:
    header (``always``/``never``, or the exact value, or the pattern), then cookie
    (``always``/``never``), then weight out of ``weight_total``."""

    backend: Backend
    ingress: str
    header: str = ""  # lowercase header name
    header_value: str = ""
    header_pattern: str = ""
    cookie: str = ""
    weight: int = 0
    weight_total: int = 100
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.header_pattern and not self.header_value:  # a value makes ingress-nginx ignore the pattern
            try:
                object.__setattr__(self, "_pattern", re.compile(self.header_pattern))
            except re.error:  # validation refuses it; a bad pattern matches nothing, as in ingress-nginx
                pass

    def by_header(self, value: str) -> bool | None:
        """True/False when the header decides, None to go on to the cookie and the weight."""
        if self.header_value:
            return True if value == self.header_value else None
        if self._pattern is not None:
            return True if self._pattern.search(value) else None
        return {"always": True, "never": False}.get(value)

    def by_cookie(self, value: str) -> bool | None:
        return {"always": True, "never": False}.get(value)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"backend": self.backend.to_dict(), "ingress": self.ingress}
        for name in ("header", "header_value", "header_pattern", "cookie", "weight", "weight_total"):
            data[name] = getattr(self, name)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], backend: Backend) -> Canary:
        names = ("header", "header_value", "header_pattern", "cookie", "weight", "weight_total")
        return cls(backend, str(data.get("ingress") or ""), **{name: data[name] for name in names if name in data})


CORS_METHODS = "GET, PUT, POST, DELETE, PATCH, OPTIONS"  # ingress-nginx's defaults
CORS_HEADERS = (
    "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"
)
CORS_MAX_AGE = 1728000


def _origin_regex(origin: str) -> str:
    """ingress-nginx's buildOriginRegex: the origin quoted, its one ``*`` a DNS label."""
    return re.escape(origin).replace(r"\*", r"[A-Za-z0-9\-]+", 1)


@dataclass(frozen=True, slots=True)
class Cors:
    """``enable-cors`` and its ``cors-*`` settings: which origins get the headers, and the lines.

    ``origins == ("*",)`` (the default) allows every request and answers ``*``; otherwise the
    request's Origin must match one entry, case-insensitively, ``*.`` standing for one label."""

    origins: tuple[str, ...] = ("*",)
    methods: str = CORS_METHODS
    headers: str = CORS_HEADERS
    credentials: bool = True
    expose: str = ""
    max_age: int = CORS_MAX_AGE
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False, hash=False)
    _lines: bytes = field(default=b"", init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.origins != ("*",):
            alternatives = "|".join(f"(?:{_origin_regex(origin)})" for origin in self.origins)
            object.__setattr__(self, "_pattern", re.compile(alternatives, re.IGNORECASE))
        lines = b"Access-Control-Allow-Credentials: true\r\n" if self.credentials else b""
        lines += b"Access-Control-Allow-Methods: %b\r\n" % self.methods.encode()
        lines += b"Access-Control-Allow-Headers: %b\r\n" % self.headers.encode()
        if self.expose:
            lines += b"Access-Control-Expose-Headers: %b\r\n" % self.expose.encode()
        object.__setattr__(self, "_lines", lines + b"Access-Control-Max-Age: %d\r\n" % self.max_age)

    def lines_for(self, origin: bytes | None) -> bytes:
        """The CORS header lines for a request with this Origin; empty when it is not allowed."""
        pattern = self._pattern
        if pattern is None:
            return b"Access-Control-Allow-Origin: *\r\n" + self._lines
        if origin is None or pattern.fullmatch(origin.decode("latin-1")) is None:
            return b""
        return b"Access-Control-Allow-Origin: " + origin + b"\r\n" + self._lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "origins": list(self.origins),
            "methods": self.methods,
            "headers": self.headers,
            "credentials": self.credentials,
            "expose": self.expose,
            "max_age": self.max_age,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cors:
        values = {
            name: data[name] for name in ("methods", "headers", "credentials", "expose", "max_age") if name in data
        }
        return cls(tuple(data.get("origins") or ("*",)), **values)


@dataclass(frozen=True, slots=True)
class RouteEffects:
    """The honoured annotations of one Ingress, as its routes apply them.

    ``regex``: the Ingress's paths are regular expressions (``use-regex`` or ``rewrite-target``);
    the route table then matches every non-Exact path of the host case-insensitively, anchored at
    the start only, longest path first (ingress-nginx's ``location ~*``).
    """

    rewrite_target: str = ""
    regex: bool = False
    app_root: str = ""
    x_forwarded_prefix: str = ""
    upstream_vhost: str = ""
    redirect_url: str = ""
    redirect_code: int = 0
    ssl_redirect: bool | None = None  # None: the default (redirect when the host has TLS)
    force_ssl_redirect: bool = False
    server_aliases: tuple[str, ...] = ()
    from_to_www: bool = False
    www_redirect: str = ""  # on the generated www/non-www twin of a host: 308 to this host
    canary: Canary | None = None  # set on the main route only (routing/compile.py)
    allow_ranges: tuple[str, ...] = ()  # whitelist/allowlist-source-range: only these clients
    deny_ranges: tuple[str, ...] = ()  # denylist-source-range: never these clients
    body_limit: int | None = None  # proxy-body-size in bytes; None: no route limit
    connect_timeout: int = 0  # proxy-connect-timeout, seconds; 0: the proxy's
    read_timeout: int = 0  # proxy-read-timeout, seconds; 0: the proxy's
    cors: Cors | None = None  # enable-cors: preflights answered, headers added (proxy/annotated.py)
    send_timeout: int = 0  # proxy-send-timeout, seconds; 0: the proxy's
    buffering: bool = False  # proxy-buffering: on, the response is held (proxy/annotated.py)
    service_upstream: bool = False  # service-upstream: the Service's cluster IP (annotations/backends.py)
    rate_limit: RequestLimits | None = None  # limit-rps, -rpm, -connections (annotations/rates.py)
    affinity: Affinity | None = None  # affinity: cookie (annotations/affinity.py)
    basic_auth: BasicAuth | None = None  # auth-type: basic (proxy/annotated.py, core/htpasswd.py)
    forward_auth: ForwardAuth | None = None  # auth-url: a subrequest decides (proxy/forwardauth.py)
    default_backend: str = ""  # a Service of the Ingress's namespace for a route without endpoints (decide.py)
    custom_errors: tuple[int, ...] = ()  # custom-http-errors: these statuses get an error page (proxy/customerrors.py)
    _networks: tuple[tuple[Network, ...], tuple[Network, ...]] = field(
        default=((), ()), init=False, repr=False, compare=False, hash=False
    )
    _template: tuple[TemplatePart, ...] = field(default=(), init=False, repr=False, compare=False, hash=False)
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False, hash=False)
    # whether ``redirect`` can answer at all: the proxy asks it only then (its request path works
    # on bytes, and decoding them for every annotated route would cost the routes without one)
    redirects: bool = field(default=False, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        redirects = bool(self.www_redirect or self.app_root or self.redirect_url or self.force_ssl_redirect)
        object.__setattr__(self, "redirects", redirects)
        if self.rewrite_target:
            object.__setattr__(self, "_template", rewrite_parts(self.rewrite_target))
        if self.allow_ranges or self.deny_ranges:
            allow = tuple(ipaddress.ip_network(cidr) for cidr in self.allow_ranges)
            object.__setattr__(self, "_networks", (allow, tuple(ipaddress.ip_network(c) for c in self.deny_ranges)))

    @property
    def limits_clients(self) -> bool:
        return bool(self.allow_ranges or self.deny_ranges)

    def admits(self, address: str) -> bool:
        """nginx's order: the deny list first, then the allow list (and deny all others)."""
        ip = client_ip(address)
        if ip is None:
            return False
        allow, deny = self._networks
        if any(ip in network for network in deny):
            return False
        return not allow or any(ip in network for network in allow)

    def with_rewrite_path(self, path: str) -> RouteEffects:
        """The same effects with the rewrite regex of the route path compiled (one per route)."""
        if not self.rewrite_target:
            return self
        effects = RouteEffects(**{name: getattr(self, name) for name in (*_FIELDS, *_OBJECTS)})
        object.__setattr__(effects, "_pattern", re.compile(path, re.IGNORECASE))
        return effects

    def rewrite(self, path: str) -> str:
        """The upstream path for ``path`` (no query): nginx's ``rewrite "(?i)<path>" <target>``
        replaces the whole URI with the target when the route's regex is found in it."""
        pattern = self._pattern
        if pattern is None:
            return path
        found = pattern.search(path)
        if found is None:
            return path
        return "".join(part if isinstance(part, str) else _capture(found, part) for part in self._template)

    def rewrite_request(self, target: str) -> str:
        """The upstream request target for ``target`` (path and query): the path rewritten, and
        the query after the rewrite target's own arguments as nginx appends it (``&``)."""
        path, mark, query = target.partition("?")
        rewritten = self.rewrite(path)
        if not mark:
            return rewritten
        return rewritten + ("&" if "?" in rewritten else "?") + query

    def redirect(self, host: str, target: str, scheme: str) -> tuple[int, str] | None:
        """The redirect the annotations answer a request with, as (status, Location), or None to
        go on: the www twin's 308 first, then ``app-root`` (302, for ``/`` only), then a permanent
        or temporal redirect, then ``force-ssl-redirect`` (308, over http only, the port dropped).
        ``host`` is the Host header as sent, ``target`` the path (as matched) and query, ``scheme``
        the listener's (``http`` or ``https``). The proxy (proxy/annotated.py) and ``routes``
        both answer with it."""
        if self.www_redirect:
            return 308, f"{scheme}://{self.www_redirect}{target}"
        if self.app_root and target.partition("?")[0] == "/":
            return 302, f"{scheme}://{host}{self.app_root}"
        if self.redirect_url:
            return self.redirect_code, self.redirect_url
        if self.force_ssl_redirect and scheme == "http":
            return 308, f"https://{_without_port(host)}{target}"
        return None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in _OBJECTS:
            value = getattr(self, name)
            if value is not None:
                data[name] = value.to_dict()
        for name in _FIELDS:
            value = getattr(self, name)
            if value not in ("", False, None, 0, ()):
                data[name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], canary_backend: Backend | None = None) -> RouteEffects:
        """The wire form back; ``canary_backend``: the canary's backend, read by the caller from
        ``data["canary"]["backend"]`` (routing's model knows backends)."""
        values: dict[str, Any] = {name: data[name] for name in _FIELDS if name in data}
        for name in ("server_aliases", "allow_ranges", "deny_ranges", "custom_errors"):
            if name in values:
                values[name] = tuple(values[name])
        if canary_backend is not None and isinstance(data.get("canary"), dict):
            values["canary"] = Canary.from_dict(data["canary"], canary_backend)
        from gitops_ingress.core.annotations.affinity import Affinity  # they import this module
        from gitops_ingress.core.annotations.rates import RequestLimits

        readers = {
            "cors": Cors.from_dict,
            "rate_limit": RequestLimits.from_dict,
            "affinity": Affinity.from_dict,
            "basic_auth": BasicAuth.from_dict,
            "forward_auth": ForwardAuth.from_dict,
        }
        for name, read in readers.items():
            if isinstance(data.get(name), dict):
                values[name] = read(data[name])
        return cls(**values)


def _without_port(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    colon = host.rfind(":")
    return host if colon < 0 else host[:colon]


_FIELDS = (
    "rewrite_target",
    "regex",
    "app_root",
    "x_forwarded_prefix",
    "upstream_vhost",
    "redirect_url",
    "redirect_code",
    "ssl_redirect",
    "force_ssl_redirect",
    "server_aliases",
    "from_to_www",
    "www_redirect",
    "allow_ranges",
    "deny_ranges",
    "body_limit",
    "connect_timeout",
    "read_timeout",
    "send_timeout",
    "buffering",
    "service_upstream",
    "default_backend",
    "custom_errors",
)
_OBJECTS = (
    "canary",
    "cors",
    "rate_limit",
    "affinity",
    "basic_auth",
    "forward_auth",
)  # the effects that are objects of their own
