"""The proxy's own answers: the built-in default backend (404), error pages and redirects.

They are whole responses as bytes, written with one ``transport.write``. Error pages are plain
text and small (a client of a proxy is as often curl as a browser, and an error page must not be
worth attacking); only the 404 of the default backend has an HTML form, because a person who
opens a preview URL that does not exist should read why. Every value put into a page is escaped.

A page never names what lies behind the proxy (``namespace/service:port``, endpoint addresses) to
whoever is on the other end: ``service_error`` says what failed in public words, and names the
Service only with the ``debug_pages`` setting on (``--debug-pages``, for a laptop or a staging
proxy). The log line beside every such answer always names it.
"""

from __future__ import annotations

import html
from functools import lru_cache

REASONS: dict[int, bytes] = {
    200: b"OK",
    301: b"Moved Permanently",
    302: b"Found",
    303: b"See Other",
    307: b"Temporary Redirect",
    308: b"Permanent Redirect",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    417: b"Expectation Failed",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
}

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

_HTML_404 = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>404 Not Found</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;color:#222}}
code{{background:#f3f3f3;padding:.1em .3em}}</style></head>
<body><h1>404 Not Found</h1><p>{message}</p><hr><p><small>{server}</small></p></body></html>
"""


def response(
    status: int,
    body: bytes,
    *,
    content_type: bytes = b"text/plain; charset=utf-8",
    close: bool = False,
    server: bytes = b"gitops-ingress",
    extra: bytes = b"",
) -> bytes:
    """A whole HTTP/1.1 response; ``extra`` is preformatted header lines (each ending CRLF)."""
    reason = REASONS.get(status, b"Error")
    connection = b"Connection: close\r\n" if close else b""
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\n" % (status, reason),
            b"Server: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (server, content_type, len(body)),
            connection,
            extra,
            b"\r\n",
            body,
        )
    )


def dated(page: bytes, date: bytes) -> list[bytes]:
    """``page`` with the ``date`` line (proxy/httpdate.py) after its status line: pages are built
    once and cached, the date is the one of the second they are sent in."""
    cut = page.find(b"\r\n") + 2
    return [page[:cut], date, page[cut:]]


@lru_cache(maxsize=64)
def error(status: int, message: str, close: bool = True) -> bytes:
    """A plain-text error page; the few distinct ones are built once."""
    text = f"{status} {REASONS.get(status, b'Error').decode()}: {message}\n"
    return response(status, text.encode(), close=close)


def service_error(status: int, public: str, service: object, *, debug: bool, close: bool = True) -> bytes:
    """An error page about one Service (``service``: its ``namespace/name:port``), which it names
    only when ``debug`` (ProxySettings.debug_pages)."""
    return error(status, f"{public} (service {service})" if debug else public, close)


def not_found(host: str, *, unknown_preview: bool, preview_domain: str, want_html: bool, close: bool) -> bytes:
    """The built-in default backend: no rule matched, or no such preview exists."""
    shown = host or "(no host)"
    if unknown_preview:
        text = (
            f"No preview exists for {shown}: no branch under {preview_domain} has a rule for this "
            "name (the branch may be unknown, deleted, or not yet deployed)."
        )
    else:
        text = f"No Ingress rule matched host {shown} and this path, and there is no default backend."
    if not want_html:
        return response(404, f"404 Not Found: {text}\n".encode(), close=close)
    page = _HTML_404.format(message=html.escape(text), server="gitops-ingress")
    return response(404, page.encode(), content_type=b"text/html; charset=utf-8", close=close)


def redirect(location: bytes, *, close: bool, status: int = 308) -> bytes:
    """308 keeps the method and body, unlike 301 (plain HTTP to HTTPS for TLS hosts); the
    redirect annotations choose their own code (proxy/annotated.py)."""
    body = b"Redirecting to " + location + b"\n"
    return response(status, body, close=close, extra=b"Location: " + location + b"\r\n")
