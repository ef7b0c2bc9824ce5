"""A real grpcio server for the proxy's gRPC tests and benchmark, with no protoc: generic handlers
over raw bytes (no serializers), on 127.0.0.1.

Service ``test.Echo``:

* ``Unary``: the request back, with the invocation metadata ``x-tag`` (and ``x-tag-bin``) echoed
  as trailing metadata.
* ``ServerStream``: the request back ``n`` times, ``n`` its first byte.
* ``ClientStream``: every request joined.
* ``Bidi``: each request back as it comes.
* ``Fail``: NOT_FOUND with the message ``no such thing`` and binary trailing metadata
  ``detail-bin: ff00``.
* ``Slow``: waits until ``cancelled`` is set by gRPC (the caller gave up) or 10 s, answers nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

SERVICE = "test.Echo"


def _echoed(context: grpc.ServicerContext) -> list[tuple[str, Any]]:
    return [(key, value) for key, value in context.invocation_metadata() if key.startswith("x-tag")]


class EchoServer:
    def __init__(self, credentials: grpc.ServerCredentials | None = None, workers: int = 8) -> None:
        self.cancelled = threading.Event()
        self.server = grpc.server(ThreadPoolExecutor(workers))
        handlers = {
            "Unary": grpc.unary_unary_rpc_method_handler(self._unary),
            "ServerStream": grpc.unary_stream_rpc_method_handler(self._server_stream),
            "ClientStream": grpc.stream_unary_rpc_method_handler(self._client_stream),
            "Bidi": grpc.stream_stream_rpc_method_handler(self._bidi),
            "Fail": grpc.unary_unary_rpc_method_handler(self._fail),
            "Slow": grpc.unary_unary_rpc_method_handler(self._slow),
        }
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        address = "127.0.0.1:0"
        if credentials is None:
            self.port = self.server.add_insecure_port(address)
        else:
            self.port = self.server.add_secure_port(address, credentials)
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0).wait(10)

    def _unary(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        context.set_trailing_metadata(_echoed(context))
        return request

    def _server_stream(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        for _ in range(request[0] if request else 0):
            yield request

    def _client_stream(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        return b"".join(requests)

    def _bidi(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        yield from requests

    def _fail(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        context.set_trailing_metadata((("detail-bin", b"\xff\x00"),))
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
        raise AssertionError("abort returns only by raising")

    def _slow(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        done = threading.Event()
        context.add_callback(done.set)  # runs when the call ends, a cancellation included
        if done.wait(10):
            self.cancelled.set()
        return b""
