"""Trying a request from the dashboard: one real GET through the proxy, answered on the page.

The search page says where a request *should* go from the route tables; a stable host such as
``shop.example.com`` usually does not resolve to this machine, so a browser cannot simply open
it. With ``WebOptions.proxy_url`` set (serve sets it to its embedded proxy), the page can send
that request itself: a GET to the proxy with the host in ``Host``, exactly as a client would, and
show the status, the time, a few headers and the start of the body (escaped like every value).

Bounds, because the page is reachable by anyone who may read the dashboard: only GET, only to
the configured proxy (never to the host named in the form), no redirects followed, a host that
must be a DNS name, a path without control characters, a timeout, and at most ``MAX_BODY``
bytes read. The proxy's own rules (normalisation, limits, access annotations) apply as to any
client, since it is an ordinary request to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from time import perf_counter

import httpx

from gitops_ingress.core.validation.names import is_dns1123_subdomain

MAX_BODY = 2048  # bytes of the answer shown
TIMEOUT = 5.0  # seconds for the whole exchange
SHOWN_HEADERS = ("content-type", "content-length", "location", "server", "x-request-id")
_PATH = re.compile(r"/[\x21-\x7e]*")  # visible ASCII only: no spaces, controls or CR/LF


@dataclass(frozen=True, slots=True)
class TriedRequest:
    """What the proxy answered to one request sent from the dashboard, or why none came."""

    url: str  # the request as a client would write it (for people, never fetched)
    status: int = 0
    reason: str = ""
    elapsed_ms: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    truncated: bool = False
    error: str = ""


def acceptable(host: str, path: str) -> str:
    """Why ``host`` and ``path`` cannot be tried ("" when they can)."""
    if is_dns1123_subdomain(host):  # the Ingress host rule's own check: errors, or none
        return "the host must be a DNS name (letters, digits, dots and dashes)"
    if not _PATH.fullmatch(path):
        return "the path must start with / and hold visible ASCII characters only"
    return ""


async def try_request(proxy_url: str, host: str, path: str) -> TriedRequest:
    """GET ``path`` for ``host`` through the proxy at ``proxy_url``; ``host`` and ``path`` are
    checked with ``acceptable`` first (a refusal comes back as ``error``)."""
    url = f"http://{host}{path}"
    problem = acceptable(host, path)
    if problem:
        return TriedRequest(url, error=problem)
    started = perf_counter()
    try:
        async with (
            httpx.AsyncClient(base_url=proxy_url, timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client,
            client.stream("GET", path, headers={"host": host, "user-agent": "gitops-ingress-dashboard"}) as response,
        ):
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    break
            elapsed = (perf_counter() - started) * 1000
    except httpx.HTTPError as exc:
        return TriedRequest(url, error=f"the proxy at {proxy_url} did not answer: {type(exc).__name__}: {exc}")
    return TriedRequest(
        url,
        status=response.status_code,
        reason=response.reason_phrase,
        elapsed_ms=elapsed,
        headers=tuple((name, response.headers[name]) for name in SHOWN_HEADERS if name in response.headers),
        body=body[:MAX_BODY].decode("utf-8", "replace"),
        truncated=len(body) > MAX_BODY,
    )
