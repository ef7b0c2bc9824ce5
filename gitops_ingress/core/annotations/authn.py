"""What a route keeps of its authentication annotations (core/annotations/auth.py parses them).

``BasicAuth`` names the Secret whose htpasswd the proxy checks (core/htpasswd.py); ``ForwardAuth``
is ingress-nginx's external authentication: the auth URL taken apart once (the proxy dials it per
request, proxy/forwardauth.py), the response headers to copy, and the sign-in redirect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

# the nginx variables auth-signin may hold, as ingress-nginx's users write them
SIGNIN_VARIABLES = ("$escaped_request_uri", "$request_uri", "$http_host", "$host", "$scheme")


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """``auth-type: basic``: the Secret with the credentials (``auth-secret``, in ``namespace``
    unless it names its own), how it holds them (``auth-secret-type``), the ``auth-realm``.
    An empty ``name`` is an auth-type without a usable secret: the route answers 503, as
    ingress-nginx denies such a location (never served open)."""

    namespace: str
    name: str
    secret_type: str = "auth-file"
    realm: str = ""
    challenge: bytes = field(default=b"", init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        line = b'WWW-Authenticate: Basic realm="%b"\r\n' % self.realm.encode("utf-8")
        object.__setattr__(self, "challenge", line)

    @property
    def secret_key(self) -> tuple[str, str, str]:
        """What the proxy's snapshot keeps the parsed credentials by (proxy/snapshot.py)."""
        return (self.namespace, self.name, self.secret_type)

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "secret_type": self.secret_type, "realm": self.realm}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BasicAuth:
        return cls(str(data["namespace"]), str(data["name"]), str(data["secret_type"]), str(data["realm"]))


@dataclass(frozen=True, slots=True)
class ForwardAuth:
    """``auth-url`` (an absolute http(s) URL, validated), ``auth-method``, ``auth-response-headers``,
    ``auth-signin`` with ``auth-signin-redirect-param``, ``auth-request-redirect``."""

    url: str
    method: str = "GET"
    response_headers: tuple[str, ...] = ()
    signin: str = ""
    redirect_param: str = "rd"
    request_redirect: str = ""  # X-Auth-Request-Redirect; empty: the request URI, as ingress-nginx
    tls: bool = field(default=False, init=False, repr=False, compare=False, hash=False)
    host: str = field(default="", init=False, repr=False, compare=False, hash=False)
    port: int = field(default=0, init=False, repr=False, compare=False, hash=False)
    target: bytes = field(default=b"/", init=False, repr=False, compare=False, hash=False)
    host_header: bytes = field(default=b"", init=False, repr=False, compare=False, hash=False)
    copied: frozenset[bytes] = field(default=frozenset(), init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        host = parts.hostname or ""
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for name, value in (("tls", tls), ("host", host), ("port", port), ("target", target.encode())):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "host_header", parts.netloc.rpartition("@")[2].encode())
        object.__setattr__(self, "copied", frozenset(name.lower().encode() for name in self.response_headers))

    def signin_location(self, scheme: bytes, host: bytes, request_uri: bytes) -> bytes:
        """ingress-nginx's buildAuthSignURL: the sign-in URL with its variables filled in and,
        unless it already has the parameter, ``rd=<scheme>://<host><escaped request URI>``."""
        escaped = quote(request_uri, safe="")
        values = {
            "$escaped_request_uri": escaped,
            "$request_uri": request_uri.decode("latin-1"),
            "$http_host": host.decode("latin-1"),
            "$host": host.decode("latin-1").rsplit(":", 1)[0] if not host.startswith(b"[") else host.decode(),
            "$scheme": scheme.decode(),
        }
        location = self.signin
        for name in SIGNIN_VARIABLES:  # longest first: $escaped_request_uri before $request_uri
            location = location.replace(name, values[name])
        query = urlsplit(location).query
        if any(pair.partition("=")[0] == self.redirect_param for pair in query.split("&") if pair):
            return location.encode("latin-1")
        joint = "&" if query else "?"
        back = f"{scheme.decode()}://{host.decode('latin-1')}{escaped}"
        return f"{location}{joint}{self.redirect_param}={back}".encode("latin-1")

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "response_headers": list(self.response_headers),
            "signin": self.signin,
            "redirect_param": self.redirect_param,
            "request_redirect": self.request_redirect,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForwardAuth:
        return cls(
            str(data["url"]),
            str(data.get("method") or "GET"),
            tuple(data.get("response_headers") or ()),
            str(data.get("signin") or ""),
            str(data.get("redirect_param") or "rd"),
            str(data.get("request_redirect") or ""),
        )
