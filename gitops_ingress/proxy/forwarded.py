"""Forwarded headers: whom the proxy believes, and what it tells the upstream about the client.

An upstream that reads ``X-Forwarded-For``, ``X-Real-IP`` or ``Forwarded`` to learn who the client
is trusts whoever wrote them. So by default the proxy trusts nobody: whatever a client sent in
``X-Forwarded-For``, ``X-Forwarded-Proto``/``-Host``/``-Port``, ``X-Real-IP`` and ``Forwarded``
(RFC 7239) is replaced with what the proxy itself saw (the peer address, the listener's scheme and
port, the Host). Only a peer inside ``trusted_proxies`` (CIDRs; nginx's ``set_real_ip_from``,
Traefik's ``forwardedHeaders.trustedIPs``), a load balancer or another proxy in front of this one,
has its chain kept and extended: its ``X-Forwarded-For`` and ``Forwarded`` get the peer appended,
its ``X-Forwarded-Proto``/``-Host``/``-Port`` and ``X-Real-IP`` are kept (ours where it sent none),
and a missing ``X-Real-IP`` is the right-most address of the chain that is not itself trusted
(nginx's ``real_ip_recursive on``). docs/proxy.md has the table.

``ListenerForwarding`` is built once per listener (proxy/server.py) and writes these lines for
each request (forwarding.upstream_request). For a peer that is not trusted, the common case, the
lines differ from request to request only in the Host, so the rest (the peer in three forms, the
listener's scheme and port) is built once per peer and remembered: per request that is one dict
lookup and one join of five pieces, where the trust decision, the RFC 7239 node and a join of
thirteen took a few microseconds of a request that costs thirty (bench/proxy.py). With trusted
proxies, one more dict lookup decides trust (addresses are parsed once and remembered). Both
tables are bounded like proxy/repeats.py's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from gitops_ingress.core.errors import ConfigError

if TYPE_CHECKING:
    from gitops_ingress.proxy.forwarding import RequestHead

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REMEMBERED: Final = 4096  # peer addresses whose trust is remembered (emptied when full)


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (or single addresses) as networks; a ConfigError names the first that is none."""
    networks: list[Network] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(f"trusted proxy {cidr!r}: not an IP address or CIDR ({exc})") from exc
    return tuple(networks)


class TrustedProxies:
    """Peers whose forwarded headers are believed: ``trusts(b"10.0.0.7")``."""

    __slots__ = ("_known", "networks")

    def __init__(self, cidrs: Iterable[str] = ()) -> None:
        self.networks = parse_networks(cidrs)
        self._known: dict[bytes, bool] = {}  # a cache of ``_inside``: peers come back

    def trusts(self, address: bytes) -> bool:
        if not self.networks:
            return False
        known = self._known.get(address)
        if known is None:
            known = self._inside(address)
            if len(self._known) >= MAX_REMEMBERED:
                self._known.clear()
            self._known[address] = known
        return known

    def _inside(self, address: bytes) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip().decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return False  # not an address (a port, a name, garbage in a chain): never trusted
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
        return any(ip in network for network in self.networks)

    def client_of(self, chain: bytes) -> bytes:
        """The client a chain of X-Forwarded-For addresses names: the right-most address that is
        not a trusted proxy (the left-most one when all are)."""
        hops = chain.split(b",")
        for hop in reversed(hops):
            if not self.trusts(hop.strip()):
                return hop.strip()
        return hops[0].strip()


def forwarded_node(address: bytes) -> bytes:
    """An address as an RFC 7239 node: IPv6 in quoted brackets, IPv4 as it is."""
    return b'"[' + address + b']"' if b":" in address else address


class ListenerForwarding:
    """The forwarded lines for requests on one listener (scheme and port fixed)."""

    __slots__ = ("_listener", "_proto", "_strangers", "port", "scheme", "trusted", "via10", "via11")

    def __init__(self, scheme: bytes, port: bytes, trusted: TrustedProxies, via: bytes = b"") -> None:
        """``via``: the pseudonym of our Via line (ProxySettings.via; empty: none)."""
        self.scheme = scheme
        self.port = port
        self.trusted = trusted
        self._listener = b"\r\nX-Forwarded-Proto: %b\r\nX-Forwarded-Port: %b" % (scheme, port)
        self._proto = b'";proto=' + scheme
        # untrusted peer -> its lines before the first Host and between the two (see the docstring)
        self._strangers: dict[bytes, tuple[bytes, bytes]] = {}
        # our Via line (RFC 9110 7.6.3), with the protocol the request came in with: written
        # after the client's headers (forwarding.upstream_request), so that with a client's own
        # Via line the list reads in the order the hops forwarded it
        self.via11 = b"Via: 1.1 " + via + b"\r\n" if via else b""
        self.via10 = b"Via: 1.0 " + via + b"\r\n" if via else b""

    def lines(self, head: RequestHead, host: bytes, peer: bytes) -> bytes:
        """The X-Forwarded-*, X-Real-IP and Forwarded lines for one request from ``peer`` whose
        Host is ``host``, each starting with CRLF (forwarding.upstream_request)."""
        stranger = self._strangers.get(peer)
        if stranger is None and not self.trusted.trusts(peer):
            stranger = self._stranger(peer)
        if stranger is not None:
            return b"".join((stranger[0], host, stranger[1], host, self._proto))
        chain = head.forwarded_for + b", " + peer if head.forwarded_for else peer
        element = b"for=" + forwarded_node(peer) + b';host="' + host + self._proto
        return b"".join(
            (
                b"\r\nX-Forwarded-For: ", chain,
                b"\r\nX-Forwarded-Proto: ", head.forwarded_proto or self.scheme,
                b"\r\nX-Forwarded-Port: ", head.forwarded_port or self.port,
                b"\r\nX-Forwarded-Host: ", head.forwarded_host or host,
                b"\r\nX-Real-IP: ", head.real_ip or self.trusted.client_of(chain),
                b"\r\nForwarded: ", head.forwarded + b", " + element if head.forwarded else element,
            )
        )  # fmt: skip

    def _stranger(self, peer: bytes) -> tuple[bytes, bytes]:
        """What an untrusted ``peer``'s lines hold besides its Host, remembered."""
        before_host = b"\r\nX-Forwarded-For: " + peer + self._listener + b"\r\nX-Forwarded-Host: "
        between_hosts = b"\r\nX-Real-IP: " + peer + b"\r\nForwarded: for=" + forwarded_node(peer) + b';host="'
        if len(self._strangers) >= MAX_REMEMBERED:
            self._strangers.clear()
        self._strangers[peer] = (before_host, between_hosts)
        return before_host, between_hosts
