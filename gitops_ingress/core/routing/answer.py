"""What the proxy does with one request, as a value: the answer the route diff compares.

A request's backend is not all a route decides: its annotations may answer it with a redirect,
send it upstream under another path or Host, or split it with a canary. ``answer(table, host,
path)`` is the proxy's answer to ``GET http://host/path`` with no cookie and no canary header,
taken the way the proxy takes it (proxy/decide.py): the route the table matches, then the
annotations' redirects (``RouteEffects.redirect``, which the proxy calls), then the HTTPS redirect
of a TLS host (core/routing/redirect.py, as the proxy decides it), then the backend with what ``adjust`` changes (the
``rewrite-target`` path, the ``upstream-vhost`` Host, the ``x-forwarded-prefix`` line) and how the backend's requests are shared
(the canary's share of the weight and the header and cookie that decide before it; a sticky
cookie, the Service's cluster IP, the ``default-backend`` for a Service without endpoints and
the ``custom-http-errors`` pages it serves).

Which hosts have TLS is a deployment fact (the proxy's certificates, ``--https-redirect``); the
diff passes ``table_tls(table)``: the hosts the table's ``spec.tls`` names, redirected as
ingress-nginx redirects them. What an answer leaves out on purpose: the checks a request may fail
before it is proxied (body size, rate limits, address ranges, authentication, CORS preflights),
which decide whether a request is let through, not where it goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitops_ingress.core.annotations.model import Canary, RouteEffects
from gitops_ingress.core.routing.model import Backend, ServiceRef
from gitops_ingress.core.routing.redirect import https_applies, https_location
from gitops_ingress.core.routing.table import RouteTable

TLSHosts = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class Answer:
    """The proxy's answer to one request: a redirect (``location``), a 404 (no backend), or a
    backend with the path, Host and X-Forwarded-Prefix it is sent (``""``: as the request had
    them, none), the share a
    canary takes (``canary``: its backend, ``share`` its percentage of the weight, ``rules`` the
    header and cookie that decide before the weight) and ``split``, how the backend's own
    endpoints are chosen (``""``: as usual)."""

    status: int
    backend: str | None = None
    location: str = ""
    path: str = ""
    host: str = ""
    prefix: str = ""  # the X-Forwarded-Prefix line it is sent with (x-forwarded-prefix)
    canary: str = ""
    share: float = 0.0
    rules: str = ""
    split: str = ""

    @property
    def canary_words(self) -> str:
        """``10 % to shop/web-canary:80 (header x-canary: always or never decides first)``."""
        if not self.canary:
            return ""
        return f"{self.share:g} % to {self.canary}" + (f" ({self.rules})" if self.rules else "")

    def __str__(self) -> str:
        if self.location:
            return f"redirects {self.status} to {self.location}"
        if self.backend is None or self.status == 404:
            return "404" if self.backend is None else f"404 ({self.backend} cannot be proxied)"
        text = self.backend
        if self.path:
            text += f" as {self.path}"
        if self.host:
            text += f" with Host {self.host}"
        if self.prefix:
            text += f" with X-Forwarded-Prefix {self.prefix}"
        shared = "; ".join(words for words in (self.canary_words, self.split) if words)
        return f"{text} ({shared})" if shared else text

    @property
    def phrase(self) -> str:
        """The answer after "now": "redirects 308 to ...", "goes to shop/web:80 as /v2"."""
        return str(self) if self.location or self.backend is None else f"goes to {self}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "backend": self.backend,
            "location": self.location,
            "path": self.path,
            "host": self.host,
            "prefix": self.prefix,
            "canary": {"backend": self.canary, "percent": self.share, "rules": self.rules} if self.canary else None,
            "split": self.split,
            "text": str(self),
        }


def table_tls(table: RouteTable) -> TLSHosts:
    """The hosts ``table``'s ``spec.tls`` names, a ``*.parent`` name standing for one label."""
    names = frozenset(table.tls_hosts())

    def covers(host: str) -> bool:
        dot = host.find(".")
        return host in names or (dot > 0 and f"*.{host[dot + 1 :]}" in names)

    return covers


def answer(table: RouteTable, host: str, path: str, tls: TLSHosts | None = None, scheme: str = "http") -> Answer:
    """The answer to ``GET scheme://host/path``: ``host`` normalised, ``path`` a normalised
    origin-form target (with its query, if any)."""
    match = table.match(host, path)
    route = match.route
    effects = route.effects if route is not None else None
    found = effects.redirect(host, path, scheme) if effects is not None and effects.redirects else None
    if found is not None:
        return Answer(found[0], location=found[1])
    if scheme == "http" and tls is not None and https_applies(effects) and tls(host):
        location = https_location(host, path.encode("utf-8", "surrogateescape"))
        return Answer(308, location=location.decode("utf-8", "surrogateescape"))
    backend = match.backend
    if backend is None:
        return Answer(404)
    if match.status == 404:  # a resource backend: the proxy answers 404
        return Answer(404, str(backend))
    if effects is None:
        return Answer(200, str(backend))
    cut = path.find("?")
    rewritten = effects.rewrite(path if cut < 0 else path[:cut]) if effects.rewrite_target else ""
    canary = effects.canary
    return Answer(
        200,
        str(backend),
        path=rewritten,
        host=effects.upstream_vhost,
        prefix=effects.x_forwarded_prefix,
        canary="" if canary is None else str(canary.backend),
        share=0.0 if canary is None else 100 * canary.weight / canary.weight_total,
        rules="" if canary is None else canary_rules(canary),
        split=split(backend, effects),
    )


def split(backend: Backend, effects: RouteEffects) -> str:
    """How a route's backend's endpoints are chosen when an annotation decides: a sticky cookie
    (core/annotations/affinity.py), the Service's cluster IP (service-upstream), and the
    default-backend annotation's Service for a backend without endpoints; "" as usual."""
    words = []
    if effects.affinity is not None:
        words.append(f"each client kept on one endpoint by cookie {effects.affinity.name}")
    if effects.service_upstream:
        words.append("through the Service's cluster IP")
    if effects.default_backend and isinstance(backend, ServiceRef):
        fallback = ServiceRef(backend.namespace, effects.default_backend, backend.port)
        pages = ", ".join(map(str, effects.custom_errors))
        words.append(f"{fallback} when it has no ready endpoint{f', and for the pages of {pages}' if pages else ''}")
    return "; ".join(words)


def canary_rules(canary: Canary) -> str:
    """What decides before a canary's weight, in ingress-nginx's order: the header, then the cookie."""
    words = []
    if canary.header:
        if canary.header_value:
            words.append(f"header {canary.header}: {canary.header_value} sends to the canary")
        elif canary.header_pattern:
            words.append(f"header {canary.header} matching {canary.header_pattern} sends to the canary")
        else:
            words.append(f"header {canary.header}: always or never decides")
    if canary.cookie:
        words.append(f"cookie {canary.cookie}: always or never decides")
    return ", then ".join(words) + " first" if words else ""
