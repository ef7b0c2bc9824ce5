"""Every other ingress-nginx annotation we know of, with why it has no effect here.

Each is ``ignored``: the Ingress is served, the annotation does nothing, and validation warns at
its line so nobody believes it works. The reasons are one line each; the migration page groups
them (docs/migrating-from-ingress-nginx.md). A key that moves to honoured leaves this list for its
family's module.
"""

from __future__ import annotations

from gitops_ingress.core.annotations.model import AnnotationSpec, Status

FAMILY = "not-yet"

_PLANNED = "not honoured yet (planned: issue 16)"
_NGINX_ONLY = "tunes nginx itself; this proxy has no such knob"
_OBSERVABILITY = "observability of nginx modules; the proxy has its own metrics and access log"

_REASONS: dict[str, str] = {
    # limits and timeouts
    "proxy-next-upstream": _PLANNED,
    "proxy-next-upstream-timeout": _PLANNED,
    "proxy-next-upstream-tries": _PLANNED,
    "proxy-request-buffering": "the proxy always streams request bodies",
    "limit-rate": "response bandwidth limits are not supported",
    "limit-rate-after": "response bandwidth limits are not supported",
    "global-rate-limit": "needs a shared memcached; not supported",
    "global-rate-limit-window": "needs a shared memcached; not supported",
    "global-rate-limit-key": "needs a shared memcached; not supported",
    "global-rate-limit-ignored-cidrs": "needs a shared memcached; not supported",
    # access
    "auth-proxy-set-headers": "a ConfigMap reference; not supported",
    "auth-always-set-cookie": "the auth service's Set-Cookie is not passed to the client, on success or failure",
    "auth-cache-key": "auth caching is not supported",
    "auth-cache-duration": "auth caching is not supported",
    "auth-keepalive": _NGINX_ONLY,
    "auth-keepalive-share-vars": _NGINX_ONLY,
    "auth-keepalive-requests": _NGINX_ONLY,
    "auth-keepalive-timeout": _NGINX_ONLY,
    "enable-global-auth": "there is no global auth",
    "satisfy": "only one access check per route exists",
    # headers
    "custom-headers": "a ConfigMap reference; not supported",
    "connection-proxy-header": _NGINX_ONLY,
    # backends
    "upstream-hash-by": "consistent hashing is not supported",
    "upstream-hash-by-subset": "consistent hashing is not supported",
    "upstream-hash-by-subset-size": "consistent hashing is not supported",
    "affinity-canary-behavior": "the canary rules decide per request first; the cookie then picks among that "
    "Service's endpoints",
    "session-cookie-conditional-samesite-none": "SameSite=None is sent to every client",
    "session-cookie-change-on-failure": "the cookie is kept when its endpoint fails (ingress-nginx's default)",
    "proxy-http-version": "the endpoint's scheme decides (http, https: HTTP/1.1; h2c, grpc, grpcs: HTTP/2); "
    "HTTP/1.0 is never spoken",
    "fastcgi-index": "FastCGI backends are not supported (backend-protocol FCGI keeps the endpoint's scheme)",
    "fastcgi-params-configmap": "FastCGI backends are not supported (backend-protocol FCGI keeps the endpoint's scheme)",
    "proxy-ssl-secret": "TLS client certificates to upstreams are not supported",
    "proxy-ssl-verify": "upstream TLS verification follows the proxy's settings",
    "proxy-ssl-verify-depth": "upstream TLS verification follows the proxy's settings",
    "proxy-ssl-ciphers": _NGINX_ONLY,
    "proxy-ssl-name": "upstream TLS uses the endpoint's name",
    "proxy-ssl-protocols": _NGINX_ONLY,
    "proxy-ssl-server-name": "upstream TLS always sends SNI",
    "proxy-redirect-from": "Location rewriting is not supported",
    "proxy-redirect-to": "Location rewriting is not supported",
    "proxy-cookie-domain": "Set-Cookie rewriting is not supported",
    "proxy-cookie-path": "Set-Cookie rewriting is not supported",
    "proxy-buffers-number": _NGINX_ONLY,
    "proxy-buffer-size": _NGINX_ONLY,
    "proxy-busy-buffers-size": _NGINX_ONLY,
    "proxy-max-temp-file-size": _NGINX_ONLY,
    "client-body-buffer-size": _NGINX_ONLY,
    "mirror-target": "request mirroring is not supported",
    "mirror-request-body": "request mirroring is not supported",
    "mirror-host": "request mirroring is not supported",
    "ssl-passthrough": "TLS passthrough is not supported; the proxy terminates TLS",
    "ssl-ciphers": _NGINX_ONLY,
    "ssl-prefer-server-ciphers": _NGINX_ONLY,
    "http2-push-preload": "HTTP/2 push is obsolete",
    # redirects the proxy writes itself (ssl-redirect, app-root, from-to-www-redirect)
    "relative-redirects": "the proxy's redirects are always absolute URLs",
    "use-port-in-redirects": "app-root redirects keep the Host header as sent; ssl-redirect and "
    "from-to-www-redirect drop the port",
    # logging, tracing, WAF
    "enable-access-log": _OBSERVABILITY,
    "enable-rewrite-log": _OBSERVABILITY,
    "enable-opentracing": _OBSERVABILITY,
    "opentracing-trust-incoming-span": _OBSERVABILITY,
    "enable-opentelemetry": _OBSERVABILITY,
    "opentelemetry-trust-incoming-span": _OBSERVABILITY,
    "opentelemetry-operation-name": _OBSERVABILITY,
    "enable-influxdb": _OBSERVABILITY,
    "influxdb-measurement": _OBSERVABILITY,
    "influxdb-port": _OBSERVABILITY,
    "influxdb-host": _OBSERVABILITY,
    "influxdb-server-name": _OBSERVABILITY,
    "enable-modsecurity": "no web application firewall",
    "enable-owasp-core-rules": "no web application firewall",
    "modsecurity-transaction-id": "no web application firewall",
}

SPECS = tuple(AnnotationSpec(name, Status.IGNORED, reason, family=FAMILY) for name, reason in _REASONS.items())
