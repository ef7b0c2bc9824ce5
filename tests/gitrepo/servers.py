"""Misbehaving git "servers" on 127.0.0.1: one that never answers, one that always wants a password."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def silent_server(held: list[socket.socket] | None = None) -> Iterator[tuple[int, threading.Event]]:
    """Accepts connections and never sends a byte; the event is set once a client connected;
    ``held`` collects the accepted connections (see ``peer_open``)."""
    listener = socket.create_server(("127.0.0.1", 0))
    connected = threading.Event()
    held = held if held is not None else []

    def accept() -> None:
        for _ in range(64):  # a test makes a handful of connections; the listener's close ends it
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            connected.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], connected
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        listener.close()
        for conn in held:
            conn.close()
        thread.join(timeout=5)


class _AuthRequired(BaseHTTPRequestHandler):
    seen: list[str]  # the Authorization header of each request ("" for none), set per server

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def auth_server(seen: list[str] | None = None) -> Iterator[int]:
    """Answers every request 401; ``seen`` collects the Authorization header each one carried."""
    handler = type("AuthRequired", (_AuthRequired,), {"seen": seen if seen is not None else []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def peer_open(conn: socket.socket) -> bool:
    """Whether the client of a held connection still has it open (what it sent is discarded)."""
    while True:
        try:
            data = conn.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True  # nothing more to read and no end: the client still waits
        except OSError:
            return False
        if not data:
            return False
