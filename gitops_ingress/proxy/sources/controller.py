"""The control-plane route source: a client of ``GET {URL}/api/v1/proxy/stream``.

The control plane pushes a whole routing state, then deltas, as newline-delimited JSON, with a
``ping`` every 15 seconds; the format, its decoder and the delta applier are ``core/stream.py``,
shared with the encoder in ``web/stream.py``. Why this client is built this way:

* A whole state per connection, then deltas: one branch's change costs that branch's bytes, and a
  proxy that reconnects needs no history on either side. Every delta names the revision it
  applies to; one that does not follow the state held (a lost line) is a gap, and the answer to a
  gap is a new connection, which starts with a whole state. The proxy keeps serving its last
  snapshot meanwhile, so a gap can delay a change but never apply half of one.
* The cost of a whole state (a large JSON line) is paid off the request path: parsing, applying
  and building the snapshot run in a worker thread, and routes are built while the JSON is
  decoded so that a big state never exists twice in memory.
* Pings are the liveness signal: a connection silent for ``silence_timeout`` (three pings) is
  treated as dead and replaced, which catches half-open TCP connections that never error.
* While disconnected nothing is published, so the proxy keeps serving its last state; reconnects
  back off exponentially with jitter (so a restarted control plane is not hit by every proxy at
  once) and the backoff resets once a state has arrived.
* The HTTP side is a few lines over ``asyncio.open_connection`` and httptools' response parser
  (chunked or not): one long-lived GET needs no client library.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import httptools

from gitops_ingress.core.errors import ConfigError, SourceError, StreamGapError
from gitops_ingress.core.stream import MEDIA_TYPE, PING, STREAM_PATH, DecodeMemo, Followed, apply, decode_line
from gitops_ingress.proxy import secrets
from gitops_ingress.proxy.snapshot import Snapshot
from gitops_ingress.proxy.sources import Publish

log = logging.getLogger("gitops_ingress.proxy.sources.controller")


class _Stream:
    """Feeds httptools and splits the body into lines; bounded by ``max_line``."""

    def __init__(self, max_line: int) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.lines: list[bytes | bytearray] = []
        self.headers_done = False
        self.ended = False
        self.followed: Followed | None = None  # what this connection has delivered so far
        self._partial = bytearray()
        self._max_line = max_line

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        start = len(self._partial)
        self._partial += body
        if b"\n" not in body:  # a long line arrives in many chunks: do not rescan what we hold
            if len(self._partial) > self._max_line:
                raise SourceError(f"control plane sent a line longer than {self._max_line} bytes")
            return
        cut = self._partial.find(b"\n", start)
        while cut >= 0:
            if cut == len(self._partial) - 1:
                # the usual end of a big state: hand over the buffer itself instead of a copy,
                # which would double the peak memory of a 100,000-route table
                line, self._partial = self._partial, bytearray()
                del line[cut:]
                self.lines.append(line)
                return
            self.lines.append(bytes(self._partial[:cut]))
            del self._partial[: cut + 1]
            cut = self._partial.find(b"\n")

    def on_message_complete(self) -> None:
        self.ended = True


class ControllerSource:
    name = "controller"

    def __init__(
        self,
        url: str,
        *,
        silence_timeout: float = 45.0,
        connect_timeout: float = 5.0,
        backoff_min: float = 0.1,
        backoff_max: float = 10.0,
        max_line: int = 512 * 1024 * 1024,
        secret_dir: Path | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--controller {url!r}: expected http://HOST:PORT or https://HOST:PORT")
        self.url = url
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = parts.scheme == "https"
        self._path = parts.path.rstrip("/") + STREAM_PATH
        self._silence = silence_timeout
        self._connect_timeout = connect_timeout
        self._backoff = (backoff_min, backoff_max)
        self._max_line = max_line
        self._secret_dir = secret_dir  # htpasswd Secrets of basic-auth routes (proxy/secrets.py)
        self._wanted = secrets.WantedByTable()  # per table: a delta changes a few
        self._memo = DecodeMemo()  # routes and host groups met on the stream, decoded once (core/stream.py)
        self.connected = False
        self.last_error = ""
        self._reset_backoff = False

    async def run(self, publish: Publish) -> None:
        delay = self._backoff[0]
        while True:
            try:
                await self._follow(publish)
                self.last_error = "stream ended"
            except (TimeoutError, OSError, SourceError, httptools.HttpParserError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                self.connected = False
            if self._reset_backoff:
                delay = self._backoff[0]
            log.warning("controller %s: %s; reconnecting in %.1fs", self.url, self.last_error, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self._backoff[1])

    async def _follow(self, publish: Publish) -> None:
        self._reset_backoff = False
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                self._host, self._port, ssl=ssl.create_default_context() if self._tls else None, limit=1 << 20
            ),
            self._connect_timeout,
        )
        try:
            writer.write(
                f"GET {self._path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
                f"Accept: {MEDIA_TYPE}\r\nUser-Agent: gitops-ingress-proxy\r\n\r\n".encode()
            )
            await writer.drain()
            stream = _Stream(self._max_line)
            while not stream.ended:
                data = await asyncio.wait_for(reader.read(1 << 20), self._silence)
                if not data:
                    return
                stream.parser.feed_data(data)
                if stream.headers_done and not self.connected:
                    status = stream.parser.get_status_code()
                    if status != 200:
                        raise SourceError(f"GET {self._path} answered {status}")
                    self.connected = True
                    log.info("controller %s: connected", self.url)
                await self._consume(stream, publish)
        finally:
            writer.close()

    async def _consume(self, stream: _Stream, publish: Publish) -> None:
        lines, stream.lines = stream.lines, []
        for line in lines:
            if not line.strip():
                continue
            try:
                followed = await asyncio.to_thread(self._parse, line, stream.followed)
            except StreamGapError:
                raise  # the connection is out of step: a new one starts with a whole state
            except SourceError as exc:  # one bad message: skip it, keep the stream and the last state
                self.last_error = str(exc)
                log.warning("controller %s: %s", self.url, exc)
                continue
            if followed is not None and followed is not stream.followed:
                stream.followed = followed
                publish(await asyncio.to_thread(self._snapshot, followed))
                self._reset_backoff = True
                log.info("controller %s: route table version %d loaded", self.url, followed.state.version)

    def _snapshot(self, followed: Followed) -> Snapshot:
        """The followed state with the credentials its basic-auth routes name (blocking: files)."""
        credentials, findings = secrets.from_folder(self._secret_dir, followed.state, self._wanted)
        for finding in findings:
            log.warning("controller %s: %s", self.url, finding.one_line(hint=False))
        return Snapshot.from_backend_map(followed.state, followed.backends, "controller", credentials)

    def _parse(self, line: bytes | bytearray, current: Followed | None) -> Followed | None:
        message = decode_line(line, self._memo)
        if message.kind == PING:
            return current
        followed = apply(current, message)
        if followed is current:
            log.warning("controller %s: ignoring message of type %r", self.url, message.kind)
        return followed
