"""An HTTP/2 (h2c, prior knowledge) test upstream on the h2 library, for the proxy's h2 backends.

It answers each stream when the request has ended, with JSON of the request (method, path,
authority, headers, body, trailers, the stream id, the connection's number, the names of the
fields that came never indexed) and the trailers ``x-trailer: done`` and ``grpc-status: 0``. Behaviours, for the ways an upstream can misbehave:

* ``echo``: as above. ``max_streams`` sets its SETTINGS_MAX_CONCURRENT_STREAMS; ``/hold`` waits
  for ``release`` before answering (so streams pile up).
* ``rst-after``: a whole response (END_STREAM), then RST_STREAM on the same stream.
* ``rst-mid``: a head and half a body, then RST_STREAM INTERNAL_ERROR.
* ``goaway``: on the first connection, GOAWAY with last-stream-id 1 once a third stream has begun,
  answering stream 1 only; later connections behave as ``echo``.
* ``zero-window``: receive windows of 0 that are never opened (it stops reading).
* ``hold``: every stream waits for ``release``, as ``/hold`` does; unlike grpcio, which ends a
  call at its own ``grpc-timeout``, it never gives up, so only the proxy's deadline can.

Every RST_STREAM it receives is recorded (``resets``, ``reset_seen``).

Counts connections and streams it saw, so tests can say what reached it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from typing import Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import DataReceived, RequestReceived, StreamEnded, StreamReset, TrailersReceived
from h2.exceptions import H2Error
from h2.settings import SettingCodes, Settings
from hyperframe.frame import GoAwayFrame

from tests.support.upstreams import LOOPBACK


class _H2Protocol(asyncio.Protocol):
    def __init__(self, server: H2TestUpstream) -> None:
        self.server = server
        self.number = server.connections = server.connections + 1
        self.h2 = H2Connection(H2Configuration(client_side=False, header_encoding=None))
        self.transport: asyncio.Transport | None = None
        self.requests: dict[int, dict[str, Any]] = {}
        self.went_away = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.open.append(self)
        settings: dict[int, int] = {}
        if self.server.max_streams is not None:
            settings[SettingCodes.MAX_CONCURRENT_STREAMS] = self.server.max_streams
        if self.server.behavior == "zero-window":
            settings[SettingCodes.INITIAL_WINDOW_SIZE] = 0
        self.h2.local_settings = Settings(client=False, initial_values=settings)  # sent by initiate_connection
        self.h2.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except H2Error:
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, RequestReceived):
                self.server.stream_began()
                headers = {k.decode(): v.decode() for k, v in event.headers or ()}
                never = sorted({bytes(f[0]).decode() for f in event.headers or () if not getattr(f, "indexable", True)})
                self.requests[event.stream_id or 0] = {"headers": headers, "body": b"", "never_indexed": never}
                self._maybe_goaway()
            elif isinstance(event, DataReceived):
                request = self.requests.get(event.stream_id or 0)
                if request is not None:
                    request["body"] += event.data or b""
                if self.server.behavior != "zero-window" and event.flow_controlled_length:
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id or 0)
            elif isinstance(event, TrailersReceived):
                request = self.requests.get(event.stream_id or 0)
                if request is not None:
                    request["trailers"] = [[bytes(k).decode(), bytes(v).decode()] for k, v in event.headers or ()]
            elif isinstance(event, StreamEnded):
                asyncio.get_running_loop().create_task(self._answer(event.stream_id or 0))
            elif isinstance(event, StreamReset):
                self.server.resets.append(event.stream_id or 0)
                self.server.reset_seen.set()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.server.open.remove(self)

    def _maybe_goaway(self) -> None:
        if self.server.behavior == "goaway" and self.number == 1 and len(self.requests) >= 3 and not self.went_away:
            self.went_away = True
            # written past h2's state machine, which would refuse to answer stream 1 after it
            self._flush()
            if self.transport is not None:
                self.transport.write(GoAwayFrame(0, last_stream_id=1, error_code=ErrorCodes.NO_ERROR).serialize())

    async def _answer(self, stream_id: int) -> None:
        request = self.requests[stream_id]
        headers = request["headers"]
        if headers.get(":path") == "/hold" or self.server.behavior == "hold":
            await self.server.release.wait()
        if self.went_away and stream_id > 1:
            return  # never processed: the client must send it again elsewhere
        body = json.dumps(
            {
                "method": headers.get(":method"),
                "path": headers.get(":path"),
                "authority": headers.get(":authority"),
                "headers": {k: v for k, v in headers.items() if not k.startswith(":")},
                "body": request["body"].decode("latin-1"),
                "stream": stream_id,
                "connection": self.number,
                "never_indexed": request["never_indexed"],
                "trailers": request.get("trailers", []),  # fields sent as never indexed (RFC 7541 6.2.3)
            }
        ).encode()
        behavior = self.server.behavior
        try:
            self.h2.send_headers(stream_id, [(b":status", b"200"), (b"content-type", b"application/json")])
            if behavior == "rst-mid":
                self.h2.send_data(stream_id, body[: len(body) // 2])
                self.h2.reset_stream(stream_id, ErrorCodes.INTERNAL_ERROR)
            else:
                self.h2.send_data(stream_id, body)
                self.h2.send_headers(stream_id, [(b"x-trailer", b"done"), (b"grpc-status", b"0")], end_stream=True)
                if behavior == "rst-after":
                    self.h2.reset_stream(stream_id, ErrorCodes.NO_ERROR)
        except H2Error:
            pass
        self._flush()
        if self.went_away and all(sid > 1 or sid == stream_id for sid in self.requests) and self.transport:
            self.transport.close()

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None:
            self.transport.write(data)


class H2TestUpstream:
    """One h2c upstream on the loop of a LoopThread."""

    __test__ = False

    def __init__(
        self, behavior: str = "echo", max_streams: int | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.behavior = behavior
        self.tls = tls  # a server context (with ALPN h2) for an HTTP/2 upstream over TLS
        self.max_streams = max_streams
        self.connections = 0
        self.open: list[_H2Protocol] = []  # connections not yet lost
        self.streams = 0
        self.port = 0
        self.release = asyncio.Event()
        self.resets: list[int] = []  # the stream ids of every RST_STREAM received
        self.reset_seen = threading.Event()  # set at the first: waited on from a test's thread
        self._more = asyncio.Event()  # set at each new stream
        self._server: asyncio.AbstractServer | None = None

    def stream_began(self) -> None:
        self.streams += 1
        self._more.set()

    async def wait_streams(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` streams have begun here."""
        async with asyncio.timeout(timeout):
            while self.streams < count:
                self._more.clear()
                await self._more.wait()

    def url(self, scheme: str = "h2c") -> str:
        return f"{scheme}://{LOOPBACK}:{self.port}"

    def protocol(self) -> asyncio.Protocol:
        """One connection's protocol (tests/support/h2senders.py answers otherwise)."""
        return _H2Protocol(self)

    async def start(self) -> H2TestUpstream:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self.protocol, LOOPBACK, 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def drop_connections(self) -> None:
        """Close every open connection, as a backend going away does (no GOAWAY)."""
        for conn in list(self.open):
            if conn.transport is not None:
                conn.transport.close()

    async def stop(self) -> None:
        self.release.set()  # held answers end (on connections that may be gone) rather than pend forever
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
