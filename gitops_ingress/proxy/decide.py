"""Where a request goes: the proxy's own answer, or a Service and the names to send it under.

This is the routing step of every request, kept apart from the byte-moving in exchange.py: it
reads the current snapshot once (so a reload never changes a request half-way), asks the core
``RoutingState.resolve`` (the proxy has no matching of its own), and turns every outcome that
needs no upstream into a finished page: 405 for CONNECT, 400 for a bad absolute-form target,
308 to https for TLS hosts reached over plain HTTP, 404 of the built-in default backend (and for
``resource`` backends, which an L7 proxy cannot serve), 503 when a Service has no endpoint.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from httptools import HttpParserInvalidURLError, parse_url

from gitops_ingress.core.routing import ServiceRef, normalize_host
from gitops_ingress.proxy import pages
from gitops_ingress.proxy.forwarding import valid_host

if TYPE_CHECKING:
    from gitops_ingress.proxy.exchange import Exchange

log = logging.getLogger("gitops_ingress.proxy")

LocalAnswer = tuple[bytes, bool]  # (whole response, close the connection after it)


def decide(ex: Exchange) -> LocalAnswer | None:
    """Fill in ``ex``'s target (Service, endpoints, names), or return the proxy's own answer."""
    head = ex.head
    if head.method == b"CONNECT":
        return pages.error(405, "CONNECT is not supported by a reverse proxy"), True
    raw_host = head.host or b""
    target = head.target
    if target[:1] != b"/" and target != b"*":  # absolute-form: its authority replaces Host
        try:
            url = parse_url(target)
        except HttpParserInvalidURLError:
            return pages.error(400, "invalid request target"), True
        if url.host:
            raw_host = url.host + (b":%d" % url.port if url.port else b"")
            if not valid_host(raw_host):
                return pages.error(400, "invalid host in request target"), True
        target = (url.path or b"/") + (b"?" + url.query if url.query else b"")
        head.target = target
    host_text = raw_host.decode("ascii")  # valid_host admitted ASCII only
    ctx = ex.conn.ctx
    if ctx.tls_redirect_hosts is not None and ctx.tls_redirect_hosts(normalize_host(host_text)):
        location = b"https://" + normalize_host(host_text).encode() + target
        close = not ex.reusable()
        return pages.redirect(location, close=close), close
    snapshot = ctx.holder.current
    resolution = snapshot.state.resolve(host_text, target.decode("utf-8", "surrogateescape"))
    match = resolution.match
    if resolution.branch is not None:
        ex.kind, ex.branch = "preview", resolution.branch
    ex.host_group = match.host_group or ""
    backend = match.backend
    if not isinstance(backend, ServiceRef):
        if backend is not None:
            log.warning("resource backend %s cannot be proxied; answering 404 for %s", backend, host_text)
        close = not ex.reusable()
        page = pages.not_found(
            resolution.host,
            unknown_preview=resolution.unknown_preview,
            preview_domain=snapshot.state.preview_domain,
            want_html=head.want_html,
            close=close,
        )
        return page, close
    ex.endpoints = snapshot.endpoints(backend)
    if not ex.endpoints:
        ctx.observer.upstream_error("no-endpoint")
        close = not ex.reusable()
        return pages.error(503, f"no ready endpoint for service {backend}", close), close
    ex.key = backend
    ex.forwarded_host = raw_host
    ex.upstream_host = resolution.upstream_host.encode() if resolution.branch is not None else raw_host
    ex.request_id = head.request_id or ctx.state.request_ids.next()
    return None
