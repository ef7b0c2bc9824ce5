"""Opening a connection to an upstream endpoint, with our timeout and our errors.

Both pools (proxy/pool.py for HTTP/1.1, proxy/h2pool.py for HTTP/2) open connections the same
way: TCP (and TLS when the endpoint asks for it) within ``connect_timeout``, with OSError, TLS
errors and the timeout mapped to UpstreamConnectError and UpstreamTimeout at this boundary.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import TypeVar

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.proxy.errors import UpstreamConnectError, UpstreamTimeout

P = TypeVar("P", bound=asyncio.BaseProtocol)


async def dial(
    factory: Callable[[], P], endpoint: Endpoint, timeout: float, tls: ssl.SSLContext | None
) -> tuple[asyncio.BaseTransport, P]:
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(
            loop.create_connection(
                factory, endpoint.host, endpoint.port, ssl=tls, server_hostname=endpoint.host if tls else None
            ),
            timeout,
        )
    except TimeoutError as exc:
        raise UpstreamTimeout(f"connect to {endpoint} timed out after {timeout:g}s") from exc
    except (OSError, ssl.SSLError) as exc:
        raise UpstreamConnectError(f"connect to {endpoint}: {exc.strerror or exc}") from exc
