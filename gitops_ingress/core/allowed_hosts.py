"""Which ``Host`` names a server of ours answers to: the defence against DNS rebinding.

A web page the user visits can make its own name resolve to 127.0.0.1 and then read whatever a
loopback server answers, because the browser believes it talks to the page's own origin. The one
thing such a request cannot hide is its ``Host`` header: it carries the attacker's name. So the
API, the dashboard, the proxy stream and the metrics answer only to names that an attacker cannot
point at the user's machine:

* any IP literal (``127.0.0.1:8000``, ``[::1]``, a pod IP): a page can only be same-origin with
  an IP literal by being served from it, which is no rebinding;
* ``localhost`` and ``*.localhost``, which resolvers keep on loopback (RFC 6761 section 6.3);
* the names the operator configured (exact names, ``*.example.com`` for subdomains) and the host
  of the public URL; ``*`` alone turns the check off, for a server that sits behind a proxy that
  checks names itself.

A request without a ``Host`` header (HTTP/1.0) is refused: there is nothing to judge it by.
Pure functions over strings; the web layer and the proxy's admin port apply them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from gitops_ingress.core.errors import ConfigError

LOOPBACK_NAMES = frozenset({"localhost"})
LOOPBACK_SUFFIX = ".localhost"


@dataclass(frozen=True, slots=True)
class AllowedHosts:
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".example.com" for "*.example.com"
    everyone: bool = False

    @classmethod
    def parse(cls, patterns: Iterable[str], *, public_url: str = "") -> AllowedHosts:
        """``patterns``: host names, ``*.domain`` or ``*``; ``public_url``'s host is added."""
        names: set[str] = set()
        suffixes: list[str] = []
        everyone = False
        given = [p.strip().lower().rstrip(".") for p in patterns if p.strip()]
        if public_url:
            host = urlsplit(public_url).hostname
            if host:
                given.append(host.lower())
        for pattern in given:
            if pattern == "*":
                everyone = True
            elif pattern.startswith("*."):
                suffixes.append(pattern[1:])
            elif _is_ip(pattern) or _is_name(pattern):
                names.add(pattern.strip("[]"))
            else:
                raise ConfigError(f"allowed host {pattern!r}: expected a host name, *.domain or *")
        return cls(frozenset(names), tuple(sorted(set(suffixes))), everyone)

    def allows(self, host_header: str | None) -> bool:
        """Whether a request with this ``Host`` header (port included, or not) is answered."""
        if self.everyone:
            return True
        if not host_header:
            return False
        host = host_name(host_header)
        if not host:
            return False
        if _is_ip(host) or host in LOOPBACK_NAMES or host.endswith(LOOPBACK_SUFFIX):
            return True
        return host in self.names or any(host.endswith(suffix) for suffix in self.suffixes)

    def describe(self) -> str:
        """For error messages and logs: what is accepted besides IP literals and localhost."""
        if self.everyone:
            return "any host"
        shown = sorted(self.names) + [f"*{suffix}" for suffix in self.suffixes]
        return ", ".join(shown) if shown else "no configured names"


def host_name(host_header: str) -> str:
    """The lowercased name of a ``Host`` header, without its port or a trailing dot."""
    text = host_header.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 else ""
    name, _, port = text.partition(":")
    if port and not port.isdigit():
        return ""
    return name.rstrip(".")


def _is_name(text: str) -> bool:
    return bool(text) and all(part and part.replace("-", "").isalnum() for part in text.split("."))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True
