"""The proxy's own exceptions: what went wrong with a client or an upstream, as an HTTP status.

Socket and parser errors (OSError, asyncio.TimeoutError, httptools' HttpParserError) are mapped
onto these where they happen, so the request path decides what to answer by looking at one
family: ``status`` is what the client is told, ``reason`` is the observer's label.
"""

from __future__ import annotations

from gitops_ingress.core.errors import GitopsIngressError


class ProxyError(GitopsIngressError):
    status: int = 502
    reason: str = "protocol"


class ClientRequestError(ProxyError):
    """The client sent something we refuse (answered with ``status`` and a closed connection)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = "client"


class UpstreamError(ProxyError):
    """An upstream could not give a whole response. ``str()`` is for logs (it names the
    endpoint); ``public`` is what a client may read (no internal addresses). Subclasses state
    their status, observer reason and public text as class keywords."""

    public = "the upstream failed"

    def __init_subclass__(cls, *, status: int, reason: str, public: str) -> None:
        super().__init_subclass__()
        cls.status, cls.reason, cls.public = status, reason, public


class UpstreamConnectError(UpstreamError, status=502, reason="connect", public="could not connect to the upstream"):
    pass


class UpstreamTimeout(UpstreamError, status=504, reason="timeout", public="the upstream timed out"):
    pass


class UpstreamReset(UpstreamError, status=502, reason="reset", public="the upstream closed the connection"):
    pass


class UpstreamProtocolError(
    UpstreamError, status=502, reason="protocol", public="the upstream sent an invalid response"
):
    pass
