"""An HTTP/2 (h2c) test upstream that sends large bodies strictly within the proxy's windows.

``GET /big?size=N`` is answered with N bytes, sent as the stream and connection windows the
proxy grants allow, so what it got to send (``sent``) is what the proxy let it send. When it
runs out of window with bytes left, it asks whether the proxy has really stopped: it sends a
PING and, once that is acknowledged, a second one. The proxy answers frames in the order they
came, and acknowledges DATA (WINDOW_UPDATE) while handling the read that carried it, so by the
second acknowledgement every WINDOW_UPDATE for the DATA sent before the first PING has arrived.
If the window is still 0 then, the proxy is holding back on purpose: ``stalled`` is set. A
proxy that acknowledges DATA whatever its client does never stalls it; the body is then sent
whole and ``finished`` is set instead.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

from h2.events import PingAckReceived, RequestReceived, StreamEnded
from h2.exceptions import H2Error

from tests.support.h2upstreams import H2TestUpstream, _H2Protocol

_CHUNK = bytes(range(256)) * 64  # 16 KiB, the default largest frame


class _SenderProtocol(_H2Protocol):
    server: H2BodySender

    def __init__(self, server: H2BodySender) -> None:
        super().__init__(server)
        self.sizes: dict[int, int] = {}  # stream id: the size asked for, until the request ends
        self.left: dict[int, int] = {}  # stream id: bytes still to send
        self.pings = 0

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except H2Error:
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, RequestReceived):
                headers = dict(event.headers or ())
                query = parse_qs(urlsplit(headers.get(b":path", b"/").decode()).query)
                self.sizes[event.stream_id or 0] = int(query.get("size", ["0"])[0])
            elif isinstance(event, StreamEnded):
                sid = event.stream_id or 0
                self.left[sid] = size = self.sizes.pop(sid, 0)
                self.h2.send_headers(
                    sid, [(b":status", b"200"), (b"content-length", b"%d" % size)], end_stream=not size
                )
            elif isinstance(event, PingAckReceived):
                self._ping_acknowledged()
        self._send()

    def _send(self) -> None:
        """As much of each body as the windows allow; a PING when they allow nothing more."""
        try:
            for sid, left in list(self.left.items()):
                while left:
                    window = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
                    if window <= 0:
                        break
                    piece = _CHUNK[: min(window, left)]
                    left -= len(piece)
                    self.h2.send_data(sid, piece, end_stream=not left)
                    self.server.sent += len(piece)
                self.left[sid] = left
                if not left:
                    del self.left[sid]
                    self.server.finished.set()
        except H2Error:
            self.left.clear()
        if self.left and not self.pings:
            self._ping()
        self._flush()

    def _ping(self) -> None:
        self.pings += 1
        self.h2.ping(b"%08d" % self.pings)

    def _ping_acknowledged(self) -> None:
        if self.pings == 1:  # everything the proxy did about our DATA is on its way: ask once more
            self._ping()
            return
        self.pings = 0
        stuck = [sid for sid in self.left if self.h2.local_flow_control_window(sid) <= 0]
        if stuck:
            self.server.stalled.set()
        # otherwise the window opened meanwhile: _send goes on, and pings again when it runs out


class H2BodySender(H2TestUpstream):
    """One such upstream on the loop of a LoopThread."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0  # DATA bytes sent, over all streams
        self.stalled = asyncio.Event()
        self.finished = asyncio.Event()

    def protocol(self) -> asyncio.Protocol:
        return _SenderProtocol(self)

    async def wait_stalled(self, timeout: float) -> bool:
        """True once the proxy holds the window at 0; False when the body went out whole instead."""
        async with asyncio.timeout(timeout):
            done = {asyncio.ensure_future(self.stalled.wait()), asyncio.ensure_future(self.finished.wait())}
            _, pending = await asyncio.wait(done, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        return self.stalled.is_set()
