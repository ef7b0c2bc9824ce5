"""``custom-http-errors``: the upstream's error answer replaced by the error backend's page.

Modelled on ingress-nginx's ``error_page <code> = @custom_<upstream>_<code>`` locations, its docs
(user-guide/custom-errors.md) and its e2e test (test/e2e/annotations/customhttperrors.go):

* when the route's upstream answers one of the listed statuses, its body is read and dropped, never
  sent (its connection is pooled as usual); the same holds for the proxy's own 502 and 504 pages
  about that upstream, as nginx's ``error_page`` covers its own errors too;
* the page comes from the Ingress's ``default-backend`` Service (on the route's port, as for
  ``default-backend`` itself): ``GET /`` with ingress-nginx's headers X-Code, X-Format (the
  client's Accept), X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port,
  X-Request-ID, and Host the client's;
* the client gets that page's body and Content-Type with the ORIGINAL status (ingress-nginx passes
  the error backend's own status on, so a backend answering 200 turns an error into a success:
  here a status is never changed by a page; docs/migrating-from-ingress-nginx.md);
* without ``default-backend`` (ingress-nginx then asks its controller-wide default backend, which
  this proxy does not have), and whenever the error backend fails (no endpoint, refused, slower
  than the bound, garbage, a page over ``MAX_PAGE``), the proxy's own page for the status.

The request is HTTP/1.0 with ``Connection: close``, so the answer is never chunked: its
Content-Length, or the end of the connection, delimits it; error pages are small and rare. Only exchanges of routes with the annotation come here
(``Exchange.error_pages``, set in decide.py): other routes pay one None check on the response head and
one zero check at its end (``Exchange.intercepted``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from gitops_ingress.core.routing import ServiceRef
from gitops_ingress.proxy import pages
from gitops_ingress.proxy.forwardauth import ask_aside, read_head

if TYPE_CHECKING:
    from gitops_ingress.core.annotations import RouteEffects
    from gitops_ingress.core.backends import Endpoint
    from gitops_ingress.proxy.exchange import Exchange

log = logging.getLogger("gitops_ingress.proxy.customerrors")

MAX_SECONDS = 10.0  # the bound of one page fetch (at most the route's read timeout)
MAX_PAGE = 1024 * 1024  # an error page larger than this is a failure: the proxy's own page


def own_page(status: int, close: bool) -> bytes:
    """The proxy's page for ``status`` when no error backend gives one."""
    return pages.error(status, "the service answered with this status", close)


def request(ex: Exchange, status: int, ingress: str) -> bytes:
    """The head sent to the error backend for ``ex``, which its upstream answered ``status``."""
    head = ex.head
    service = ex.key
    namespace, name, port = (service.namespace, service.name, service.port) if service is not None else ("", "", "")
    accept = b", ".join(head.values(b"accept"))
    return b"".join(
        (
            b"GET / HTTP/1.0\r\n",
            b"Host: %b\r\n" % ex.forwarded_host,
            b"X-Code: %d\r\n" % status,
            b"X-Format: %b\r\n" % accept if accept else b"",  # nginx sends no line for an empty value
            b"X-Original-URI: %b\r\n" % ex.target,
            b"X-Namespace: %b\r\n" % namespace.encode(),
            b"X-Ingress-Name: %b\r\n" % ingress.rpartition("/")[2].encode(),
            b"X-Service-Name: %b\r\n" % name.encode(),
            b"X-Service-Port: %b\r\n" % str(port).encode(),
            b"X-Request-ID: %b\r\n" % ex.request_id,
            b"Connection: close\r\n\r\n",
        )
    )


def _endpoint(ex: Exchange, effects: RouteEffects) -> tuple[ServiceRef, Endpoint] | None:
    service = ex.key
    if service is None or not effects.default_backend:
        return None
    pages_service = ServiceRef(service.namespace, effects.default_backend, service.port)
    endpoints = ex.ctx.holder.current.endpoints(pages_service)
    if not endpoints:
        return None
    return pages_service, ex.ctx.pool.pick(pages_service, endpoints)


async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    """(status, Content-Type, body) of one answer: its Content-Length, or up to the end."""
    code, fields = await read_head(reader)
    found = dict(fields)
    if b"transfer-encoding" in found:
        raise ValueError("a framed answer to an HTTP/1.0 request")
    length = found.get(b"content-length")
    if length is None:
        body = await reader.read(MAX_PAGE + 1)
        while body and len(body) <= MAX_PAGE:
            more = await reader.read(MAX_PAGE + 1 - len(body))
            if not more:
                break
            body += more
    elif not length.isdigit() or int(length) > MAX_PAGE:
        raise ValueError(f"a Content-Length that is not a number of at most {MAX_PAGE}")
    else:
        body = await reader.readexactly(int(length))
    if len(body) > MAX_PAGE:
        raise ValueError(f"an error page over {MAX_PAGE} bytes")
    return code, found.get(b"content-type", b"text/html"), body


async def page_for(ex: Exchange, effects: RouteEffects, status: int, ingress: str) -> tuple[bytes, bool]:
    """The whole answer for ``ex`` whose upstream answered ``status``, and whether to close after it."""
    close = not ex.reusable()
    found = _endpoint(ex, effects)
    if found is None:
        return own_page(status, close), close
    service, endpoint = found
    try:
        where = (endpoint.host, endpoint.port, endpoint.tls)
        code, content_type, body = await ask_aside(
            ex, where, request(ex, status, ingress), _read, MAX_SECONDS, MAX_PAGE
        )
    except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        log.warning("custom-http-errors: error backend %s failed: %s: %s", service, type(exc).__name__, exc)
        ex.ctx.observer.upstream_error("error-page-failed")
        return own_page(status, close), close
    log.debug("custom-http-errors: %s answered %d for status %d", service, code, status)
    page = pages.response(status, body, content_type=content_type, close=close, extra=ex.response_lines)
    return page, close


def start(ex: Exchange, effects: RouteEffects, status: int, ingress: str) -> None:
    """Fetch the page; the Exchange answers with it when it comes (``Exchange.error_page_done``)."""
    task = asyncio.get_running_loop().create_task(page_for(ex, effects, status, ingress))
    _RUNNING.add(task)  # the loop keeps only a weak reference to a task
    task.add_done_callback(lambda done: _done(ex, done))


_RUNNING: set[asyncio.Task[tuple[bytes, bool]]] = set()


def _done(ex: Exchange, task: asyncio.Task[tuple[bytes, bool]]) -> None:
    _RUNNING.discard(task)
    if not task.cancelled():
        ex.error_page_done(*task.result())
