"""The backend map: where each Service lives when there is no cluster to ask.

``--backend [NS/]SERVICE:PORT=URL`` (repeatable; also the ``backends`` setting) says that requests
for a Service port go to URL. A key without a namespace serves that Service in every namespace; a
key with one wins over it. Several URLs for one key are several endpoints, spread round-robin by
the proxy. PORT is written as in the Ingress: a number or a port name.

How the proxy talks to an endpoint is its URL scheme: ``http://``, ``https://``, ``h2c://``,
``grpc://``, ``grpcs://`` (core/protocols.py says what each means and where else it comes from).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.core.protocols import DEFAULT_PORTS, H2_SCHEMES, SCHEMES, TLS_SCHEMES
from gitops_ingress.core.routing.model import ServiceRef


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address that serves a Service port.

    ``key`` is the fields as a plain tuple, made once: the proxy's connection pool is keyed by it
    on every proxied request, and a tuple hashes and compares in C, where the dataclass's generated
    ``__hash__`` and ``__eq__`` run as Python code."""

    host: str
    port: int
    scheme: str = "http"
    key: tuple[str, int, str] = field(init=False, repr=False, compare=False)
    h2: bool = field(init=False, repr=False, compare=False)  # HTTP/2 (proxy/h2upstream.py)
    tls: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.host, self.port, self.scheme))
        object.__setattr__(self, "h2", self.scheme in H2_SCHEMES)
        object.__setattr__(self, "tls", self.scheme in TLS_SCHEMES)

    def speaking(self, scheme: str | None) -> Endpoint:
        """This address with ``scheme`` (an annotation's choice), or itself when None or the same."""
        if scheme is None or scheme == self.scheme:
            return self
        return Endpoint(self.host, self.port, scheme)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_endpoint(url: str) -> Endpoint:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ConfigError(f"backend URL {url!r}: expected SCHEME://HOST:PORT, SCHEME one of {', '.join(SCHEMES)}")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:
        raise ConfigError(f"backend URL {url!r}: {exc}") from exc
    return Endpoint(parts.hostname, port, parts.scheme)


def parse_backend_option(text: str) -> tuple[str, str]:
    """``[NS/]SERVICE:PORT=URL`` -> (key, url)."""
    key, sep, url = text.partition("=")
    key = key.strip()
    if not sep or not url.strip() or ":" not in key:
        raise ConfigError(f"--backend {text!r}: expected [NAMESPACE/]SERVICE:PORT=URL")
    service, _, port = key.rpartition(":")
    namespace, slash, name = service.rpartition("/")
    if not name or not port or (slash and not namespace) or "/" in namespace:
        raise ConfigError(f"--backend {text!r}: expected [NAMESPACE/]SERVICE:PORT=URL")
    return key, url.strip()


class BackendMap:
    """Service port -> endpoints, built once from the option strings or the setting."""

    __slots__ = ("_by_name", "_by_ref", "_entries")

    def __init__(self, entries: Mapping[str, Iterable[str]] | None = None) -> None:
        self._entries: dict[str, tuple[Endpoint, ...]] = {
            key: tuple(parse_endpoint(url) for url in urls) for key, urls in (entries or {}).items()
        }
        # Indexed for the request path: no key string is built per lookup.
        self._by_ref: dict[ServiceRef, tuple[Endpoint, ...]] = {}
        self._by_name: dict[tuple[str, str], tuple[Endpoint, ...]] = {}
        for key, endpoints in self._entries.items():
            service, _, port = key.rpartition(":")
            namespace, slash, name = service.rpartition("/")
            if slash:
                self._by_ref[ServiceRef(namespace, name, port)] = endpoints
            else:
                self._by_name[(name, port)] = endpoints

    @classmethod
    def from_options(cls, options: Iterable[str], setting: Mapping[str, str] | None = None) -> BackendMap:
        merged: dict[str, list[str]] = {key: [url] for key, url in (setting or {}).items()}
        for option in options:
            key, url = parse_backend_option(option)
            merged.setdefault(key, [])
            if url not in merged[key]:
                merged[key].append(url)
        return cls(merged)

    def endpoints(self, ref: ServiceRef) -> tuple[Endpoint, ...]:
        found = self._by_ref.get(ref)
        if found is None:
            found = self._by_name.get((ref.name, ref.port), ())
        return found

    def serves(self, ref: ServiceRef) -> bool:
        """Whether the map has an endpoint for ``ref`` (``core.status.EndpointCheck``)."""
        return bool(self.endpoints(ref))

    def to_dict(self) -> dict[str, list[str]]:
        return {key: [str(e) for e in endpoints] for key, endpoints in self._entries.items()}

    def __bool__(self) -> bool:
        return bool(self._entries)
