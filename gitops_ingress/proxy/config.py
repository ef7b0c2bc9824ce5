"""ProxySettings: every knob of the request path in one frozen object, passed in, never global.

A plain frozen dataclass with slots rather than a pydantic model: the request path reads these
fields on every request, and attribute access on a slotted dataclass is as cheap as it gets. The
command line (and the settings file) build one once; tests build their own with short timeouts.
``validated()`` turns nonsense (negative timeouts, a body limit of zero) into our ConfigError
instead of surprising behaviour at request time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Final

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.proxy.forwarded import parse_networks

# RFC 9110 5.6.2 tchar: what a Via pseudonym may hold (translate() deletes them, leaving the rest)
_TOKEN_CHARS = dict.fromkeys(map(ord, "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))

# the numeric settings for which 0 means something: no retry, no lingering close
_MAY_BE_ZERO: Final = frozenset({"retries", "lingering_time", "lingering_timeout"})


@dataclass(frozen=True, slots=True)
class ProxySettings:
    # --- timeouts, seconds ---
    connect_timeout: float = 5.0  # upstream TCP connect
    read_timeout: float = 60.0  # upstream silence while a response is awaited or streamed
    header_timeout: float = 10.0  # a client must send a whole request head within this (slowloris)
    body_timeout: float = 60.0  # client silence while it uploads a body
    idle_timeout: float = 75.0  # a client keep-alive connection with no request
    write_timeout: float = 60.0  # a client that stops reading while we have bytes for it
    upstream_idle_timeout: float = 50.0  # pooled idle upstream connections are closed after this
    # an upstream that takes none of the request's bytes for this long (its socket full) ends it in 504,
    # nginx's proxy_send_timeout (60 s in ingress-nginx); a route's proxy-send-timeout replaces it
    send_timeout: float = 60.0
    # a connection closed while the client may still be sending (a refusal, a body not read) is
    # half-closed and read for at most lingering_time in all, lingering_timeout without a byte
    # (nginx's lingering_close on, its defaults; proxy/linger.py); either 0: closed at once
    lingering_time: float = 30.0
    lingering_timeout: float = 5.0
    # --- limits ---
    max_request_line: int = 8 * 1024  # bytes of the request target (414 above)
    max_header_bytes: int = 32 * 1024  # bytes of all header lines together (431 above)
    max_headers: int = 100  # header lines (431 above)
    max_body: int | None = None  # bytes of a request body (413 above); None: no limit
    max_connections: int = 10_000  # open client connections; more get 503 and are closed
    max_pipelined: int = 16  # requests parsed ahead of the one being answered
    # idle keep-alive connections kept per upstream endpoint, at least: more after a wider burst (pool.py)
    pool_max_idle: int = 64
    retries: int = 1  # extra attempts on another endpoint (idempotent requests, nothing sent yet)
    limit_clients: int = 65536  # client addresses with a limit-rps/-rpm bucket per worker (proxy/ratelimit.py)
    buffered_response: int = 1024 * 1024  # bytes a proxy-buffering route holds of a response (annotated.py)
    # --- flow control: transport buffer marks, bytes ---
    high_water: int = 256 * 1024
    low_water: int = 64 * 1024
    # --- behaviour ---
    access_log: bool = False
    access_log_buffer: int = 64  # records formatted and written at once (proxy/accesslog.py)
    access_log_flush: float = 0.2  # seconds a record may wait for its batch
    preview_domain: str = "preview.localhost"
    # peers (CIDRs) whose X-Forwarded-*, X-Real-IP and Forwarded are kept and extended; everyone
    # else's are replaced with what the proxy saw (proxy/forwarded.py)
    trusted_proxies: tuple[str, ...] = ()
    # the pseudonym of the Via line added to requests and responses (RFC 9110 7.6.3), as in
    # "Via: 1.1 gitops-ingress"; "" adds none
    via: str = "gitops-ingress"
    # listeners ("plain", "tls") whose connections start with a PROXY protocol v1/v2 header that
    # names the client (proxy/proxyheader.py); a connection there without one is closed
    proxy_protocol: tuple[str, ...] = ()
    # a warning about a Service or route rather than a request ("no ready endpoint") is logged once
    # per this many seconds, with a count of its repeats (proxy/quietlog.py)
    warning_interval: float = 10.0
    debug_pages: bool = False  # error pages name the Service behind them (proxy/pages.py); logs always do
    workers: int = 1
    drain_timeout: float = 30.0  # SIGTERM: how long in-flight requests may take to finish
    # seed of the canary-weight draws (proxy/annotated.py); None: from the system, a fixed one for tests
    canary_seed: int | None = None
    # --- HTTP/2 from clients (proxy/h2conn.py; TLS listeners always offer h2 by ALPN) ---
    h2c: bool = False  # plain listeners also speak HTTP/2 with prior knowledge (the preface)
    h2_max_streams: int = 100  # SETTINGS_MAX_CONCURRENT_STREAMS; more are refused (REFUSED_STREAM)
    h2_stream_window: int = 256 * 1024  # bytes a client may send on a stream before we acknowledge
    h2_max_resets: int = 200  # client RST_STREAMs per h2_flood_window before GOAWAY (rapid reset)
    h2_max_control_frames: int = 100  # SETTINGS and PING frames per h2_flood_window before GOAWAY
    h2_flood_window: float = 10.0  # seconds over which the two counts above are taken

    def validated(self) -> ProxySettings:
        """Self, or a ConfigError naming the first field that cannot work."""
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if value < 0 or (value == 0 and item.name not in _MAY_BE_ZERO):
                raise ConfigError(f"proxy setting {item.name}={value!r}: must be positive")
        if self.max_body is not None and self.max_body <= 0:
            raise ConfigError(f"proxy setting max_body={self.max_body!r}: must be positive or unset")
        parse_networks(self.trusted_proxies)
        if not isinstance(self.via, str) or self.via.translate(_TOKEN_CHARS):
            raise ConfigError(f"proxy setting via={self.via!r}: must be a token (letters, digits, -._~ and the like)")
        unknown = sorted(set(self.proxy_protocol) - {"plain", "tls"})
        if unknown:
            raise ConfigError(
                f"proxy setting proxy_protocol: {', '.join(unknown)}: the listeners are 'plain' and 'tls'"
            )
        if self.h2_stream_window > 2**31 - 1:
            raise ConfigError("proxy setting h2_stream_window: at most 2147483647 (RFC 9113 6.9.2)")
        if self.low_water > self.high_water:
            raise ConfigError("proxy settings: low_water must not exceed high_water")
        return self

    def with_changes(self, **changes: Any) -> ProxySettings:
        """A copy with some fields changed (unknown names are a ConfigError, not a TypeError)."""
        known = {item.name for item in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown proxy setting(s): {', '.join(unknown)}")
        return replace(self, **changes).validated()
