"""Starting and stopping the stand-in, in-process (``run_stand_in``) or as a process.

Tests use the context manager: it binds 127.0.0.1 on a free port (port 0), serves on a daemon
thread, writes a kubeconfig into a temporary folder and, on exit, ends open watches, closes every
accepted connection (idle keep-alive connections would otherwise hold their threads) and removes
the folder. The methods on :class:`StandIn` are the Python face of the ``/_stand_in/`` control API.

An API server restart is ``halt()`` then ``resume()`` (or ``restart()``): the HTTP server goes away
as a crashed kube-apiserver does -- listening socket closed (connections are refused), every open
connection and watch cut -- while the store, like etcd, keeps every object, the resourceVersion
counter and the watch history; ``resume`` listens again on the same address over the same state.
``restart(compact=True)`` also forgets the history, as a restart whose watch cache starts after
the clients' last resourceVersion does: their watches then get 410 Expired and must relist.
"""

from __future__ import annotations

import pathlib
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

from .control import Controls
from .handlers import Handler
from .registry import Registry, Write
from .resources import NAMESPACES
from .store import Store

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class StandInHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], bookmark_interval: float, verbose: bool, registry: Registry, controls: Controls
    ) -> None:
        super().__init__(address, Handler)
        self.store = registry.store
        self.registry = registry
        self.controls = controls
        self.stopping = threading.Event()
        self.bookmark_interval = bookmark_interval
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        host, port = self.socket.getsockname()[:2]
        self.address = f"{host}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            open_now = list(self._connections)
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class StandIn:
    """A running stand-in API server; see :func:`run_stand_in`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = 5.0,
        namespaces: tuple[str, ...] = DEFAULT_NAMESPACES,
        token: str | None = None,
        verbose: bool = False,
    ) -> None:
        self._options = (bookmark_interval, verbose)
        self.registry = Registry(Store())
        self.controls = Controls()
        self.httpd = StandInHTTPServer((host, port), bookmark_interval, verbose, self.registry, self.controls)
        bound = self.httpd.socket.getsockname()
        self.address: tuple[str, int] = (bound[0], bound[1])  # the port chosen, kept across restarts
        self.url = f"http://{self.httpd.address}"
        self.token = token
        if token:
            self.controls.configure_auth({"tokens": {token: "system:admin"}})
        for name in namespaces:
            self.registry.create(Write(NAMESPACES, "", "stand-in"), {"metadata": {"name": name}})
        self._tmp = tempfile.TemporaryDirectory(prefix="kube-stand-in-")
        self.kubeconfig_path = pathlib.Path(self._tmp.name) / "kubeconfig"
        self.kubeconfig_path.write_text(self.kubeconfig())
        self._thread = self._serving_thread()

    def _serving_thread(self) -> threading.Thread:
        return threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"kube-stand-in {self.url}",
            daemon=True,
        )

    def kubeconfig(self, user_token: str | None = None) -> str:
        token = user_token or self.token
        user = f"{{token: {token}}}" if token else "{}"
        return (
            f"apiVersion: v1\nkind: Config\n"
            f'clusters:\n- name: stand-in\n  cluster: {{server: "{self.url}"}}\n'
            f"users:\n- name: stand-in\n  user: {user}\n"
            f"contexts:\n- name: stand-in\n  context: {{cluster: stand-in, user: stand-in, "
            f"namespace: default}}\n"
            f"current-context: stand-in\n"
        )

    def start(self) -> StandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.registry.store.close()
        self.halt()
        self._tmp.cleanup()

    @property
    def serving(self) -> bool:
        return self._thread.is_alive()

    def halt(self) -> None:
        """Go down as a crashed API server does; the state stays for :meth:`resume`."""
        httpd = self.httpd
        httpd.stopping.set()
        if self._thread.is_alive():
            httpd.shutdown()  # no accept after this returns
        httpd.server_close()  # from here on, connecting is refused
        httpd.close_connections()
        self.registry.store.drop_watches()  # watch threads blocked on the store end now
        self._thread.join(timeout=5)

    def resume(self) -> None:
        """Listen again on the same address, over the same objects and resourceVersions."""
        if self.serving:
            raise RuntimeError(f"the stand-in at {self.url} is serving; halt() it first")
        self.httpd = StandInHTTPServer(self.address, *self._options, self.registry, self.controls)
        self._thread = self._serving_thread()
        self._thread.start()

    def restart(self, compact: bool = False) -> None:
        """``halt()``, optionally forget the watch history (old resourceVersions answer 410),
        ``resume()``."""
        self.halt()
        if compact:
            self.compact()
        self.resume()

    # -- the Python face of /_stand_in/ --------------------------------------------------------

    def faults(
        self,
        fail_next: int = 0,
        status: int = 500,
        verb: str = "",
        resource: str = "",
        delay_seconds: float | None = None,
        drop_watches: bool = False,
        reset: bool = False,
    ) -> None:
        spec: dict[str, Any] = {"reset": reset}
        if fail_next:
            spec.update(fail_next=fail_next, status=status, verb=verb, resource=resource)
        if delay_seconds is not None:
            spec["delay_seconds"] = delay_seconds
        self.controls.configure_faults(spec)
        if drop_watches:
            self.registry.store.drop_watches()

    def compact(self) -> int:
        """Forget the watch history; returns the resourceVersion older ones now expire below."""
        return self.registry.store.compact()

    def request_counts(self) -> dict[str, Any]:
        return self.controls.request_counts()

    def reset_counts(self) -> None:
        self.controls.reset_counts()

    def auth(self, tokens: dict[str, str] | None = None, deny: list[dict[str, str]] | None = None) -> None:
        spec: dict[str, Any] = {}
        if tokens is not None:
            spec["tokens"] = tokens
        if deny is not None:
            spec["deny"] = deny
        self.controls.configure_auth(spec)

    @property
    def resource_version(self) -> int:
        return self.registry.store.resource_version


@contextmanager
def run_stand_in(**options: Any) -> Iterator[StandIn]:
    """``with run_stand_in() as server:`` -> ``server.url``, ``server.kubeconfig_path``, ...;
    options are those of :class:`StandIn`."""
    server = StandIn(**options).start()
    try:
        yield server
    finally:
        server.stop()
