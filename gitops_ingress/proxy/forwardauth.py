"""``auth-url``: ingress-nginx's external authentication, one subrequest per request.

Modelled on ingress-nginx's generated ``location = /_external-auth-*`` (nginx's ``auth_request``)
and its e2e test (test/e2e/annotations/auth.go):

* the subrequest goes to the auth URL (its path and query), with ``auth-method`` (GET by
  default), no body, and the client's own header lines, as ``proxy_pass_request_headers`` sends
  them, except the ones the proxy writes itself: Host (the auth URL's), X-Original-URL
  (``scheme://host/request-uri``), X-Original-URI, X-Original-Method, X-Auth-Request-Redirect (the
  request URI, or ``auth-request-redirect``), X-Sent-From, X-Real-IP, X-Forwarded-For (the proxy's
  own view of the client, ``proxy/forwarded.py``), X-Forwarded-Proto, X-Scheme, X-Request-ID. A
  client's line of any of those names is dropped, never passed along, so a client cannot tell
  the auth service a URL or an address of its choosing; so are the framing and hop-by-hop lines;
* a 2xx answer lets the request through, with the ``auth-response-headers`` lines of that answer
  set on the upstream request: a client's own lines of those names are removed whether or not the
  auth service sent them (nginx's ``proxy_set_header`` replaces them), so a client cannot pose as
  a user the auth service named;
* 401 goes to the client (with the auth service's WWW-Authenticate), or with ``auth-signin`` is a
  302 to the sign-in URL with ``rd=``; 403 goes to the client as 403;
* anything else, an auth service that is down, slow past the bound, or answers garbage, is 500:
  never an open door. The bound is the route's ``proxy-read-timeout`` or the proxy's read timeout,
  at most ``MAX_SECONDS``; connecting has the connect timeout.

The subrequest is its own connection (``Connection: close``): auth answers are small and the
check is per request, as ingress-nginx's without ``auth-keepalive``; only routes with the
annotation pay for it (decide.py sets ``Exchange.forward_auth``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from gitops_ingress.proxy import annotated, pages

if TYPE_CHECKING:
    from gitops_ingress.core.annotations.authn import ForwardAuth
    from gitops_ingress.proxy.exchange import Exchange

log = logging.getLogger("gitops_ingress.proxy.forwardauth")
T = TypeVar("T")

MAX_SECONDS = 30.0
MAX_HEAD = 64 * 1024  # an auth answer's head; a longer one is an error (500)
# the lines the proxy writes into the subrequest itself: a client's own are dropped
_WRITTEN = frozenset(
    (
        b"host",
        b"x-original-url",
        b"x-original-uri",
        b"x-original-method",
        b"x-auth-request-redirect",
        b"x-sent-from",
        b"x-real-ip",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-scheme",
        b"x-request-id",
        b"forwarded",
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"keep-alive",
        b"upgrade",
        b"te",
        b"trailer",
        b"expect",
        b"proxy-connection",
    )
)
# (a page for the client, or None to go on; close after the page; the lines for the upstream)
Verdict = tuple[bytes | None, bool, bytes]


def _name(line: bytes) -> bytes:
    return line.split(b":", 1)[0].strip().lower()


def subrequest(ex: Exchange, auth: ForwardAuth) -> bytes:
    """The head sent to the auth service for ``ex``."""
    head = ex.head
    scheme = ex.ctx.listener.scheme
    uri = ex.target
    client = annotated.client_address(ex)
    lines = [
        b"%b %b HTTP/1.1\r\n" % (auth.method.encode(), auth.target),
        b"Host: %b\r\n" % auth.host_header,
        b"X-Original-URL: %b://%b%b\r\n" % (scheme, ex.forwarded_host, uri),
        b"X-Original-URI: %b\r\n" % uri,
        b"X-Original-Method: %b\r\n" % head.method,
        b"X-Auth-Request-Redirect: %b\r\n" % (auth.request_redirect.encode() or uri),
        b"X-Sent-From: nginx-ingress-controller\r\n",
        b"X-Real-IP: %b\r\n" % client,
        b"X-Forwarded-For: %b\r\n" % client,
        b"X-Forwarded-Proto: %b\r\nX-Scheme: %b\r\n" % (scheme, scheme),
        b"X-Request-ID: %b\r\n" % ex.request_id,
        b"Connection: close\r\n",
    ]
    lines += [line for line in head.lines() if _name(line) not in _WRITTEN]
    lines.append(b"\r\n")
    return b"".join(lines)


def _parse(data: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    """The status and header fields of an HTTP/1.x answer head; ValueError when it is not one."""
    status_line, *fields = data.split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ValueError("not an HTTP/1.x status line")
    headers: list[tuple[bytes, bytes]] = []
    for line in fields:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b"\n" in value or b"\r" in value:
            raise ValueError("a malformed header line")
        headers.append((name.lower(), value.strip()))
    return int(code), headers


async def ask_aside(
    ex: Exchange,
    where: tuple[str, int, bool],
    data: bytes,
    read: Callable[[asyncio.StreamReader], Awaitable[T]],
    max_seconds: float,
    limit: int,
) -> T:
    """Send ``data`` to ``where`` (host, port, TLS) on a connection of its own and ``read`` the
    answer, within the route's connect timeout and its read timeout (at most ``max_seconds``):
    the subrequests of auth-url and of custom-http-errors (proxy/customerrors.py)."""
    settings = ex.ctx.settings
    timeouts = ex.timeouts
    connect = timeouts[0] if timeouts else settings.connect_timeout
    total = min(timeouts[1] if timeouts else settings.read_timeout, max_seconds)
    host, port, tls = where
    context = ex.ctx.pool.client_tls() if tls else None
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context, limit=limit), connect)
    try:
        writer.write(data)
        return await asyncio.wait_for(read(reader), total)
    finally:
        writer.close()


async def read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]]]:
    return _parse((await reader.readuntil(b"\r\n\r\n"))[:-4])


async def _ask(ex: Exchange, auth: ForwardAuth) -> tuple[int, list[tuple[bytes, bytes]]]:
    where = (auth.host, auth.port, auth.tls)
    return await ask_aside(ex, where, subrequest(ex, auth), read_head, MAX_SECONDS, MAX_HEAD)


def verdict(ex: Exchange, auth: ForwardAuth, status: int, headers: list[tuple[bytes, bytes]]) -> Verdict:
    """What the auth service's answer means for the request (the module docstring's rules)."""
    close = not ex.reusable()
    if 200 <= status < 300:
        copied = auth.copied
        lines = b"".join(b"\r\n%b: %b" % (name, value) for name, value in headers if name in copied and value)
        return None, False, lines
    if status == 401:
        if auth.signin:
            location = auth.signin_location(ex.ctx.listener.scheme, ex.forwarded_host, ex.target)
            return pages.redirect(location, close=close, status=302), close, b""
        challenge = b"".join(
            b"WWW-Authenticate: %b\r\n" % value for name, value in headers if name == b"www-authenticate"
        )
        page = pages.response(401, b"401 Unauthorized: authorization required\n", close=close, extra=challenge)
        return page, close, b""
    if status == 403:
        return pages.error(403, "the authentication service refused this request", close), close, b""
    log.warning("auth-url %s answered %d for %s; answering 500", auth.url, status, ex.forwarded_host.decode("latin-1"))
    return pages.error(500, "the authentication service gave no usable answer", close), close, b""


async def check(ex: Exchange, auth: ForwardAuth) -> Verdict:
    """Ask the auth service about ``ex``; any failure to get an answer is a 500 page."""
    try:
        status, headers = await _ask(ex, auth)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        log.warning("auth-url %s: %s: %s; answering 500", auth.url, type(exc).__name__, exc)
        ex.ctx.observer.upstream_error("auth-failed")
        close = not ex.reusable()
        return pages.error(500, "the authentication service is not available", close), close, b""
    return verdict(ex, auth, status, headers)


def start(ex: Exchange, auth: ForwardAuth) -> None:
    """Run the check; the Exchange goes on (or answers) when it ends (``Exchange.auth_done``)."""
    task = asyncio.get_running_loop().create_task(check(ex, auth))
    _RUNNING.add(task)  # the loop keeps only a weak reference to a task
    task.add_done_callback(lambda done: _done(ex, done))


_RUNNING: set[asyncio.Task[Verdict]] = set()


def _done(ex: Exchange, task: asyncio.Task[Verdict]) -> None:
    _RUNNING.discard(task)
    if not task.cancelled():
        ex.auth_done(*task.result())
