"""What a route's honoured ingress-nginx annotations do to one request (core/annotations).

decide.py calls in here only for a route whose ``effects`` is not None, so a host without
annotations never pays for them. Two steps, in ingress-nginx's order:

* ``answer``: the proxy's own redirects, before any upstream is chosen: the www/non-www twin
  (308 to the annotated host), ``app-root`` (302 for ``/``), ``temporal-redirect`` /
  ``permanent-redirect`` (their codes), then HTTPS enforcement (308; ``force-ssl-redirect`` even
  for a host without TLS, ``ssl-redirect: "false"`` opts out of the default, decide.py), decided
  by ``RouteEffects.redirect`` in core, which ``routes --host --path`` and the route diff's
  answers (core/routing/answer.py) use too;
* ``cors``: ``enable-cors``: an OPTIONS request from an allowed origin is a preflight the proxy
  answers itself (204 with the CORS lines, as ingress-nginx's ``return 204``, before any access
  check); any other request from an allowed origin gets the lines added to the upstream's head
  (``Exchange.response_lines``);
* ``authenticate``: ``auth-type: basic``: 401 with ``WWW-Authenticate: Basic realm="..."`` unless
  the Authorization header holds a user and password of the route's Secret (core/htpasswd.py:
  constant-time checks), 503 when the snapshot has no credentials for it (a missing Secret, as
  ingress-nginx denies the location); the Authorization header then goes upstream as it came;
* ``limit_body``: ``proxy-body-size``: 413 when the Content-Length passes it, else the
  allowance the Exchange counts a chunked (or any) body down against, 413 when it runs out;
* ``limited``: ``limit-rps`` / ``limit-rpm`` / ``limit-connections``: 503 over a limit, per
  (Ingress, client address) and per worker (proxy/ratelimit.py), before the access check as
  nginx's preaccess phase comes before its access phase;
* ``refused``: 403 for a client address the route's allow/deny ranges exclude (the address is
  ``client_address``'s, with trusted_proxies, for the limits too);
* ``set_timeouts``: ``proxy-connect-timeout`` / ``proxy-read-timeout`` / ``proxy-send-timeout``:
  the (connect, read, send) seconds the Exchange hands the pool and the upstream for this request
  (None: the proxy's own, no cost); and ``proxy-buffering: on``: the bytes of the response the
  Exchange holds before writing (``Exchange.hold``);
* ``sticky``: ``affinity: cookie``: the endpoint the cookie names (``Exchange.preferred``), or
  one picked now and a Set-Cookie line for the answer;
* ``to_canary``: whether a route's canary takes this request: header, then cookie, then weight,
  drawn from the server's own ``random.Random`` (seeded by ``ProxySettings.canary_seed``);
* ``rewrite`` and ``adjust``: what the upstream is sent: the ``rewrite-target`` path
  (``rewritten``, worked out once per path in decide.py's route cache; the query kept, as nginx
  appends the arguments), the ``upstream-vhost`` Host, the ``x-forwarded-prefix`` header; and
  ``auth-url``'s check, which the Exchange runs before it dispatches (proxy/forwardauth.py).
"""

from __future__ import annotations

import binascii
import random
from base64 import b64decode
from functools import partial
from time import gmtime, strftime, time
from typing import TYPE_CHECKING, Final

from gitops_ingress.core.annotations.affinity import Affinity
from gitops_ingress.core.annotations.rates import LIMITED_STATUS
from gitops_ingress.proxy import pages

if TYPE_CHECKING:
    from gitops_ingress.core.annotations import RouteEffects
    from gitops_ingress.core.annotations.model import Canary
    from gitops_ingress.proxy.exchange import Exchange
    from gitops_ingress.proxy.snapshot import Snapshot

LocalAnswer = tuple[bytes, bool]

# The groups of the steps below that decide.py calls for a route (``steps``): a route's cache
# entry holds its bits (``plan``), so a request pays only for the groups its annotations use.
BEFORE: Final = 1  # answer, cors
ACCESS: Final = 2  # limit_body, limited, refused, authenticate, to_canary
AFTER: Final = 4  # adjust, set_timeouts, sticky, custom-http-errors (decide.py)


# A path's rewrite-target: the upstream target without a query, and the one a query follows
Rewritten = tuple[bytes, bytes]
# What decide.py's route cache keeps of a route's effects for one path: its rewrite-target (None:
# the route has none) and the groups of steps that can act (BEFORE | ACCESS | AFTER).
Plan = tuple[Rewritten | None, int]
NO_PLAN: Final[Plan] = (None, 0)  # a route without annotations


def plan(effects: RouteEffects, path: bytes) -> Plan:
    """``path``: as matched, without the query."""
    return rewritten(effects, path), steps(effects)


def steps(effects: RouteEffects) -> int:
    """The groups that can act for ``effects``: each test is the early return of a step of it,
    so a group left out could only have returned at once (the rewrite path is ``rewritten``)."""
    before = effects.redirects or effects.cors is not None
    access = effects.body_limit is not None or effects.rate_limit is not None or effects.limits_clients
    access = access or effects.basic_auth is not None or effects.canary is not None
    after = bool(effects.upstream_vhost or effects.x_forwarded_prefix or effects.custom_errors or effects.buffering)
    after = after or bool(effects.connect_timeout or effects.read_timeout or effects.send_timeout)
    after = after or effects.forward_auth is not None or effects.affinity is not None
    return (BEFORE if before else 0) | (ACCESS if access else 0) | (AFTER if after else 0)


def answer(ex: Exchange, effects: RouteEffects, host: bytes, target: bytes, scheme: bytes) -> LocalAnswer | None:
    """A redirect the route's annotations ask for (``RouteEffects.redirect``), or None to go on
    to the upstream. Decoded as latin-1, so every byte comes back as it was sent."""
    if not effects.redirects:
        return None
    found = effects.redirect(host.decode("latin-1"), target.decode("latin-1"), scheme.decode("latin-1"))
    if found is None:
        return None
    status, location = found
    close = not ex.reusable()
    return pages.redirect(location.encode("latin-1"), close=close, status=status), close


def _cookie(header: bytes, name: bytes) -> bytes | None:
    """The value of cookie ``name`` (lowercase) in a Cookie header."""
    for pair in header.split(b";"):
        key, _, value = pair.strip().partition(b"=")
        if key.lower() == name:  # nginx compares cookie names case-insensitively
            return value
    return None


def cors(ex: Exchange, effects: RouteEffects) -> LocalAnswer | None:
    """The preflight answer, or None with the CORS lines kept for the upstream's answer."""
    policy = effects.cors
    if policy is None:
        return None
    lines = policy.lines_for(ex.head.header(b"origin"))
    if not lines:
        return None
    if ex.head.method == b"OPTIONS":
        close = not ex.reusable()
        return pages.response(204, b"", close=close, extra=lines), close
    ex.response_lines = lines
    return None


def client_address(ex: Exchange) -> bytes:
    """The client's address: the peer's, or with ``trusted_proxies`` the one X-Forwarded-For names."""
    conn = ex.conn
    peer = conn.client_ip
    trusted = conn.ctx.listener.trusted
    if trusted.trusts(peer):
        return trusted.client_of(ex.head.forwarded_for + b", " + peer if ex.head.forwarded_for else peer)
    return peer


def refused(ex: Exchange, effects: RouteEffects) -> LocalAnswer | None:
    """403 for a client outside the route's allowed ranges or inside its denied ones."""
    if not effects.limits_clients:
        return None
    if effects.admits(client_address(ex).decode("latin-1")):
        return None
    close = not ex.reusable()
    return pages.error(403, "the client address is not allowed here", close), close


def _basic_credentials(value: bytes | None) -> tuple[bytes, bytes] | None:
    """(user, password) of a ``Basic`` Authorization value; None when it is absent or malformed."""
    if value is None or value[:6].lower() != b"basic ":
        return None
    try:
        decoded = b64decode(value[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


def authenticate(ex: Exchange, effects: RouteEffects, snapshot: Snapshot) -> LocalAnswer | None:
    """401 unless the request carries a user and password of the route's Secret; 503 without one."""
    auth = effects.basic_auth
    if auth is None:
        return None
    known = snapshot.credentials.get(auth.secret_key)
    close = not ex.reusable()
    if known is None:
        return pages.error(503, "the authentication of this route is not available", close), close
    given = _basic_credentials(ex.head.header(b"authorization"))
    if given is not None and known.check(*given):
        return None
    body = b"401 Unauthorized: authorization required\n"
    return pages.response(401, body, close=close, extra=auth.challenge), close


def limit_body(ex: Exchange, effects: RouteEffects) -> LocalAnswer | None:
    """413 for a declared body larger than the route takes; otherwise the Exchange counts."""
    limit = effects.body_limit
    if limit is None or not ex.head.has_body:
        return None
    declared = ex.head.content_length
    allowance = limit - sum(map(len, ex.pending))  # what came before the route was known
    if (declared is not None and declared > limit) or allowance < 0:
        return pages.error(413, f"request body larger than {limit} bytes"), True
    ex.body_allowance = allowance
    return None


def limited(ex: Exchange, effects: RouteEffects, ingress: str) -> LocalAnswer | None:
    """503 for a request over the Ingress's ``limit-rps``/``-rpm`` or ``limit-connections`` from
    this client (core/annotations/rates.py); a request let through under ``limit-connections`` is
    counted until it ends (``Exchange.on_end``)."""
    limit = effects.rate_limit
    if limit is None:
        return None
    client = client_address(ex).decode("latin-1")
    if limit.exempts(client):
        return None
    limiter = ex.ctx.state.limiter
    key = (ingress, client)
    if limiter.take(key, limit, ex.started_at):
        if not limit.connections:
            return None
        if limiter.enter(key, limit):
            ex.on_end = partial(limiter.leave, key)
            return None
    close = not ex.reusable()
    return pages.error(LIMITED_STATUS, "too many requests from this client", close), close


def set_timeouts(ex: Exchange, effects: RouteEffects) -> None:
    if effects.connect_timeout or effects.read_timeout or effects.send_timeout:
        settings = ex.ctx.settings
        ex.timeouts = (
            float(effects.connect_timeout) or settings.connect_timeout,
            float(effects.read_timeout) or settings.read_timeout,
            float(effects.send_timeout) or settings.send_timeout,
        )
    if effects.buffering:
        ex.hold = ex.ctx.settings.buffered_response


def sticky(ex: Exchange, effects: RouteEffects, route_path: str) -> None:
    """``affinity: cookie``: the endpoint the request's cookie names, or one chosen now whose
    cookie the answer sets (core/annotations/affinity.py)."""
    affinity = effects.affinity
    if affinity is None or ex.key is None:
        return
    endpoints = ex.endpoints
    header = ex.head.header(b"cookie")
    wanted = _cookie(header, affinity.name.lower().encode()) if header is not None else None
    if wanted is not None:
        for endpoint in endpoints:
            if Affinity.value_of(endpoint.host, endpoint.port).encode() == wanted:
                ex.preferred = endpoint
                return
    chosen = ex.ctx.pool.pick(ex.key, endpoints)
    ex.preferred = chosen
    # nginx's cookie_time, as ingress-nginx's cookies carry it: "Thu, 18-Nov-10 11:27:35 GMT"
    expires = strftime("%a, %d-%b-%y %H:%M:%S GMT", gmtime(time() + affinity.expires)) if affinity.expires else ""
    https = ex.ctx.listener.scheme == b"https"
    value = Affinity.value_of(chosen.host, chosen.port)
    line = f"Set-Cookie: {affinity.name}={value}; {affinity.attributes(route_path, https, expires)}\r\n"
    ex.response_lines += line.encode("latin-1")


def to_canary(ex: Exchange, canary: Canary, draws: random.Random) -> bool:
    """ingress-nginx's precedence: the header decides if it says so, then the cookie, then the weight."""
    head = ex.head
    if canary.header:
        value = head.header(canary.header.encode())  # lowercased when the annotation was read
        if value is not None:
            decided = canary.by_header(value.decode("latin-1"))
            if decided is not None:
                return decided
    if canary.cookie:
        header = head.header(b"cookie")
        value = _cookie(header, canary.cookie.encode()) if header is not None else None
        if value is not None:
            decided = canary.by_cookie(value.decode("latin-1"))
            if decided is not None:
                return decided
    return canary.weight > 0 and draws.randrange(canary.weight_total) < canary.weight


def rewritten(effects: RouteEffects, path: bytes) -> Rewritten | None:
    """The ``rewrite-target`` of ``path`` (as matched, without the query), or None when the route
    has none: the upstream target without a query, and the one a query follows (``/new?a=1&``:
    nginx appends the arguments after the target's own), both from ``RouteEffects.rewrite_request``.
    decide.py keeps them in its route cache entry for (Host, path), so the regex search, the
    template and the decoding are paid once per path and snapshot, not per request."""
    if not effects.rewrite_target:
        return None
    text = path.decode("latin-1")
    return effects.rewrite_request(text).encode("latin-1"), effects.rewrite_request(text + "?").encode("latin-1")


def rewrite(ex: Exchange, rewritten: Rewritten) -> None:
    """The upstream target: the route's rewrite-target for this path (``rewritten``, from
    decide.py's cache), with the request's query."""
    target = ex.target
    cut = target.find(b"?")
    ex.target = rewritten[0] if cut < 0 else rewritten[1] + target[cut + 1 :]


def adjust(ex: Exchange, effects: RouteEffects) -> None:
    """Change what goes upstream beside the path: the Host, the X-Forwarded-Prefix line."""
    if effects.upstream_vhost:
        ex.upstream_host = effects.upstream_vhost.encode()
    if effects.forward_auth is not None:  # asked once the request is ready to go (proxy/forwardauth.py)
        ex.forward_auth = effects.forward_auth
    if effects.x_forwarded_prefix:
        # The Host value is followed by the forwarded lines, each starting with CRLF
        # (forwarding.upstream_request): one more line rides after it.
        ex.upstream_host += b"\r\nX-Forwarded-Prefix: " + effects.x_forwarded_prefix.encode()
