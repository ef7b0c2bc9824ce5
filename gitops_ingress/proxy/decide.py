"""Where a request goes: the proxy's own answer, or a Service and the names to send it under.

This is the routing step of every request, kept apart from the byte-moving in exchange.py: it
reads the current snapshot once (so a reload never changes a request half-way), asks the core
``RoutingState.resolve`` (the proxy has no matching of its own), and turns every outcome that
needs no upstream into a finished page: 405 for CONNECT, 400 for a bad absolute-form target,
308 to https for TLS hosts reached over plain HTTP, 404 of the built-in default backend (and for
``resource`` backends, which an L7 proxy cannot serve), 503 when a Service has no endpoint.

The path is matched and forwarded normalised (core/routing/paths.py: dot-segments removed, ``//``
merged, unsafe escapes refused with 400). The cache below is keyed by the path as sent, and its
entry holds what that path normalised to, so ``/public/../admin`` is its own key whose entry was
resolved as ``/admin``: it can never be answered from ``/public``'s entry, and a repeated request
pays for normalising only once. The same goes for a route's ``rewrite-target``: the entry holds
the rewritten path (proxy/annotated.py), so a repeated path skips the regex search and the
template; it is one (Host, path)'s under one snapshot's route, like the rest of the entry. The
entry also says which groups of the annotation steps can act for the route (``annotated.plan``),
so a route with only a rewrite-target calls none of the others.

What a (Host, path) pair resolves to is remembered per server: proxy/routecache.py.
"""

from __future__ import annotations

from time import time
from typing import TYPE_CHECKING, Any

from httptools import HttpParserInvalidURLError, parse_url

from gitops_ingress.core.routing import ServiceRef, normalize_host
from gitops_ingress.core.routing.paths import UnsafePath
from gitops_ingress.core.routing.redirect import TLS_REDIRECT_STATUS, https_applies, https_location
from gitops_ingress.proxy import annotated, pages
from gitops_ingress.proxy.forwarding import links, valid_host
from gitops_ingress.proxy.routecache import KEYS_OFF, KEYS_ON, KEYS_PREVIEW_HOST, Routed, endpoints_of
from gitops_ingress.proxy.routingkey import link_answer, set_cookie, split_link

if TYPE_CHECKING:
    from gitops_ingress.core.routing.overlay import BranchOverlay
    from gitops_ingress.proxy.exchange import Exchange
    from gitops_ingress.proxy.snapshot import Snapshot

LocalAnswer = tuple[bytes, bool]  # (whole response, close the connection after it)


def _link(ex: Exchange, target: bytes) -> LocalAnswer | None:
    """``?gitops-ingress-preview=<key>`` on a stable host: 302 without the parameter, setting the
    cookie for a key that stands for a branch, clearing it for an empty one; an ignored key is
    counted and sets nothing."""
    link = split_link(target)
    if link is None:
        return None
    ctx = ex.ctx
    policy = ctx.preview_keys
    value, location = link
    line = b""
    if value:
        verdict = policy.judge(value.decode("latin-1"), time())
        if verdict.refused:
            ctx.observer.preview_key_ignored(verdict.refused)
        else:
            line = set_cookie(value, max_age=policy.max_age, secure=ctx.listener.scheme == b"https")
    else:
        line = set_cookie(b"", max_age=0, secure=ctx.listener.scheme == b"https")
    close = not ex.reusable()
    return link_answer(location, line, close=close), close


def _key_overlay(ex: Exchange, snapshot: Snapshot, place: int) -> BranchOverlay | None:
    """The branch the request's routing key names, or None for routing as usual (no key, or one
    that is ignored, and counted: docs/previews.md)."""
    ctx = ex.ctx
    overlay, refused = ctx.state.routes.key(snapshot, ex.head, ctx.preview_keys)
    if place == KEYS_PREVIEW_HOST:
        if overlay is not None or refused:
            ctx.observer.preview_key_ignored("preview-host")
        return None
    if refused:
        ctx.observer.preview_key_ignored(refused)
    return overlay


def decide(ex: Exchange) -> LocalAnswer | None:
    """Fill in where ``ex`` goes (Service, endpoints, names, origin-form target), or return the
    proxy's own answer."""
    head = ex.head
    if head.method == b"CONNECT":
        return pages.error(405, "CONNECT is not supported by a reverse proxy"), True
    raw_host = head.host
    target = head.target
    if target == b"*":  # asterisk-form: only OPTIONS may use it (RFC 9112 3.2.4)
        if head.method != b"OPTIONS":
            return pages.error(400, "the '*' target is only valid with OPTIONS"), True
        close = not ex.reusable()
        return pages.response(200, b"", close=close), close  # the proxy's own answer (docs/proxy.md)
    if target[:1] != b"/":  # absolute-form: its authority replaces Host
        try:
            # Any: httptools' stub says port is an int, but it is None when the target has none,
            # and compiled code (setup.py) would enforce the stub's type
            url: Any = parse_url(target)
        except HttpParserInvalidURLError:
            return pages.error(400, "invalid request target"), True
        if url.host:
            raw_host = url.host + (b":%d" % url.port if url.port else b"")
            if not valid_host(raw_host):
                return pages.error(400, "invalid host in request target"), True
        path = url.path or b"/"
        target = path + (b"?" + url.query if url.query else b"")
        ex.target = target  # the head is shared (proxy/repeats.py): the origin-form is this request's
        linked = bool(url.query) and links(url.query)  # in the query, as RequestHead.linked
    else:
        path, linked = head.path, head.linked  # worked out once per head (forwarding.RequestHead)
    ctx = ex.ctx
    snapshot = ctx.holder.current
    routes = ctx.state.routes
    routed: Routed | None = None
    try:
        if head.keyed or linked:
            place = routes.key_place(snapshot, raw_host, ctx.preview_keys)
            if place != KEYS_OFF:
                if place == KEYS_ON and linked:
                    answer = _link(ex, target)
                    if answer is not None:
                        return answer
                overlay = _key_overlay(ex, snapshot, place)
                if overlay is not None:
                    routed = routes.route_keyed(snapshot, raw_host, path, overlay, ctx.observer)
                    ex.preview_lines = routes.preview_lines(overlay.branch, head.baggage)
        if routed is None:
            routed = routes.route(snapshot, raw_host, path, ctx.observer)
    except UnsafePath as exc:
        return pages.error(400, str(exc)), True
    kind, branch, host_group, counter, service, endpoints, upstream_host, resolution, effects, normal, plan = routed
    rewritten, steps = plan
    if kind == "preview" and not ex.preview_lines:
        ex.preview_lines = routes.preview_lines(branch, head.baggage)
    if normal is not None:  # forwarded as it was matched, with the query as it came
        cut = target.find(b"?")
        target = ex.target = normal if cut < 0 else normal + target[cut:]
    if steps & annotated.BEFORE and effects is not None:
        local = annotated.answer(ex, effects, raw_host, target, ctx.listener.scheme) or annotated.cors(ex, effects)
        if local is not None:
            return local
    # a plain route never opts out: no call into core for it (the request path of plain hosts)
    if ctx.tls_redirect_hosts is not None and (effects is None or https_applies(effects)):
        host = normalize_host(raw_host.decode("ascii"))
        if ctx.tls_redirect_hosts(host):
            close = not ex.reusable()
            return pages.redirect(https_location(host, target), close=close, status=TLS_REDIRECT_STATUS), close
    if steps & annotated.ACCESS and effects is not None:
        route = resolution.match.route
        ingress = route.ingress if route is not None else ""
        local = (
            annotated.limit_body(ex, effects)
            or annotated.limited(ex, effects, ingress)
            or annotated.refused(ex, effects)
            or annotated.authenticate(ex, effects, snapshot)
        )
        if local is not None:
            return local
        canary = effects.canary
        if canary is not None and annotated.to_canary(ex, canary, ctx.state.canary_draws):
            alternative = canary.backend
            service = alternative if isinstance(alternative, ServiceRef) else None
            # the main route's backend-protocol is the canary's too (ingress-nginx's one location)
            endpoints = endpoints_of(snapshot, service, resolution.match.protocol, effects)
    ex.kind = kind
    ex.branch = branch
    ex.host_group = host_group
    # the cached counter is the HTTP/1.1 one: an HTTP/2 request asks for its own (one dict lookup)
    ex.counter = counter if not ex.h2 else ctx.observer.request_counter(kind, branch, host_group, "h2")
    if service is None:
        backend = resolution.match.backend
        if backend is not None:
            ctx.warnings.warning(
                ("resource", backend), "resource backend %s cannot be proxied; answering 404 for %s", backend,
                raw_host.decode(),
            )  # fmt: skip
        close = not ex.reusable()
        page = pages.not_found(
            resolution.host,
            unknown_preview=resolution.unknown_preview,
            preview_domain=snapshot.state.preview_domain,
            want_html=head.want_html,
            close=close,
        )
        return page, close
    if not endpoints and effects is not None and effects.default_backend:
        # ingress-nginx's default-backend annotation: its Service answers instead of the 503
        service = ServiceRef(service.namespace, effects.default_backend, service.port)
        endpoints = snapshot.endpoints(service)
    if not endpoints:
        ctx.observer.upstream_error("no-endpoint")
        close = not ex.reusable()
        ctx.warnings.warning(
            ("no-endpoint", service), "no ready endpoint for service %s (host %s)", service, raw_host.decode("latin-1")
        )
        return pages.service_error(
            503, "no ready endpoint", service, debug=ctx.settings.debug_pages, close=close
        ), close
    ex.endpoints = endpoints
    ex.key = service
    ex.forwarded_host = raw_host
    ex.upstream_host = upstream_host
    ex.request_id = head.request_id or ctx.state.request_ids.next()
    if rewritten is not None:
        annotated.rewrite(ex, rewritten)
    if steps & annotated.AFTER and effects is not None:
        annotated.adjust(ex, effects)
        annotated.set_timeouts(ex, effects)
        route = resolution.match.route
        annotated.sticky(ex, effects, route.path if route is not None else "/")
        if effects.custom_errors:  # custom-http-errors: the exchange replaces those answers (customerrors.py)
            ex.error_pages = effects
            ex.ingress = route.ingress if route is not None else ""
    return None
