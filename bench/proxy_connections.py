"""Benchmark: instructions per new connection of our proxy and of nginx, counted by callgrind.

bench/proxy_https.py's ``openssl s_time`` rates say how many handshakes a second each front takes,
but they move with the neighbours' load by more than the differences a change makes. This counts
what a connection costs the front in user space, the same figure for the same code whatever else
the machine does (bench/proxy_instructions.py says why), so that the work per connection can be
taken apart and taken down (issue 14: new TLS connections per second at least 0.9x nginx's).

Set-up: bench/proxy_h2.py's TLS fronts (an upstream nginx, a front nginx with ``ssl_session_cache``
and session tickets, our proxy with ``--tls-dir``, the same ECDSA P-256 certificate), the fronts
under ``valgrind --tool=callgrind`` (nginx without a master process). A client in this process
opens ``--connections`` connections one after another, each with one request
(``Connection: close``) read to the end, and the count is taken over them after a warm-up:

* ``tls1.3 full`` / ``tls1.2 full``: a full handshake per connection;
* ``tls1.3 resumed`` / ``tls1.2 resumed``: each connection resumes the previous one's session (a
  session ticket; the client checks that it was resumed);
* ``tls1.3 keep-alive``: not a connection but a request: ``--connections`` requests one after
  another on one TLS 1.3 keep-alive connection (bench/proxy_https.py's keep-alive figure, per
  request: the record layer, tlsconn.py, around the request path that bench/proxy_instructions.py
  counts over plain HTTP).

``--kinds`` picks some of them (a full handshake under callgrind takes a while).

Each figure is counted ``--rounds`` times, the fronts in turn, and reported as the median with its
range. The handshake's cryptography is OpenSSL's for both fronts (the same library and curve); what
differs is the rest of the connection's life.

    python bench/proxy_connections.py [--connections 200] [--rounds 3] [--baseline DIR] [--kinds K,...]
"""

from __future__ import annotations

import argparse
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.proxy import HOST, LOOPBACK, stop_children
from bench.proxy_h2 import missing_tools, start_tls_fronts
from bench.proxy_https import FRONT_HTTPS_BODY
from bench.proxy_instructions import CALLGRIND, instructions_of
from tests.proxy.rawclient import read_responses

WARM_UP = 20  # connections before counting: the session cache, pools and lazy imports filled
KINDS = ("tls1.3 full", "tls1.3 resumed", "tls1.2 full", "tls1.2 resumed", "tls1.3 keep-alive")
KEEP_ALIVE = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: bench\r\n\r\n".encode()
REQUEST = KEEP_ALIVE[:-2] + b"Connection: close\r\n\r\n"


def client_context(version: ssl.TLSVersion) -> ssl.SSLContext:
    """A client that takes the bench's self-signed certificate and speaks only ``version``."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = version
    return context


def one_connection(port: int, context: ssl.SSLContext, session: ssl.SSLSession | None) -> ssl.SSLSession | None:
    """One connection, one request, the answer read to the close; returns the TLS session to
    resume. Raises when the answer is not a 200 or a resumption did not resume."""
    with socket.create_connection((LOOPBACK, port), timeout=600) as raw:
        sock = context.wrap_socket(raw, server_hostname=HOST, session=session)
        sock.sendall(REQUEST)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"port {port}: {answer[:80]!r}")
        if session is not None and not sock.session_reused:
            raise SystemExit(f"port {port}: the session was not resumed")
        return sock.session  # read after the answer: a TLS 1.3 ticket comes after the handshake


def keep_alive(port: int, count: int) -> None:
    """``count`` requests one after another on one TLS 1.3 connection, each answer read whole."""
    with socket.create_connection((LOOPBACK, port), timeout=600) as raw:
        sock = client_context(ssl.TLSVersion.TLSv1_3).wrap_socket(raw, server_hostname=HOST)
        for _ in range(count):
            sock.sendall(KEEP_ALIVE)
            answers = read_responses(sock)
            if not answers or answers[0].status != 200:
                raise SystemExit(f"port {port}: {answers[0].status if answers else 'no answer'}")


def connections(port: int, kind: str, count: int) -> None:
    """``count`` connections of ``kind`` to ``port``, one after another (requests, for keep-alive)."""
    if kind.endswith("keep-alive"):
        keep_alive(port, count)
        return
    version = ssl.TLSVersion.TLSv1_3 if kind.startswith("tls1.3") else ssl.TLSVersion.TLSv1_2
    context = client_context(version)
    session = one_connection(port, context, None)
    for _ in range(count):
        fresh = one_connection(port, context, session if kind.endswith("resumed") else None)
        session = fresh if kind.endswith("resumed") else session


def when_up(port: int) -> None:
    """Wait for a front under callgrind to answer (its start takes seconds to minutes)."""
    for _ in range(6000):
        try:
            one_connection(port, client_context(ssl.TLSVersion.TLSv1_3), None)
            return
        except (ConnectionRefusedError, ConnectionResetError, ssl.SSLError):
            time.sleep(0.1)  # starting under callgrind
    raise SystemExit(f"nothing answers on {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=200, help="connections counted per figure (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="counts per figure, the median reported (default 3)")
    parser.add_argument("--baseline", type=Path, help="a checkout compiled in place: its proxy counted beside ours")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"which figures, comma-separated (default {','.join(KINDS)})")  # fmt: skip
    parser.add_argument("--pin", action="store_true", help=argparse.SUPPRESS)  # start_tls_fronts reads it
    opts = parser.parse_args()
    kinds = opts.kinds.split(",")
    if opts.connections < 1 or opts.rounds < 1 or not set(kinds) <= set(KINDS):
        parser.error(f"--connections and --rounds at least 1, --kinds among {', '.join(KINDS)}")
    if missing_tools("proxy_connections", {"nginx": "nginx-light", "valgrind": "valgrind"}):
        return 2
    folder = Path(tempfile.mkdtemp(prefix="bench-connections-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        fronts = start_tls_fronts(opts, folder, FRONT_HTTPS_BODY, children, opts.baseline,
                                  under=lambda name: [*CALLGRIND, f"--callgrind-out-file={folder / name}.out"])  # fmt: skip
        for _, port in fronts.values():
            when_up(port)
        figures: dict[str, dict[str, list[float]]] = {name: {} for name in fronts}
        for kind in kinds:
            for _ in range(opts.rounds):
                for name, (pid, port) in fronts.items():
                    connections(port, kind, WARM_UP)
                    work = partial(connections, port, kind, opts.connections)
                    count = instructions_of(pid, folder / f"{name}.out", work) / opts.connections
                    figures[name].setdefault(kind, []).append(count)
    finally:
        stop_children(children, folder)
    report(figures, opts.connections)
    return 0


def report(counts: dict[str, dict[str, list[float]]], count: int) -> None:
    rounds = len(next(iter(counts["ours"].values())))
    print(f"\ninstructions per connection (callgrind, user space, {count} connections per count after {WARM_UP}, "
          f"one request each; keep-alive: per request, {count} on one connection; median of {rounds})")  # fmt: skip
    for name, row in counts.items():
        print(f"{name:>9}: " + ", ".join(f"{kind} {median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})" for kind, values in row.items()))  # fmt: skip
    figures = {name: {kind: median(values) for kind, values in row.items()} for name, row in counts.items()}
    for peer in ("baseline", "nginx"):
        if peer in figures:
            print(f"ours / {peer}: " + ", ".join(f"{kind} {figures['ours'][kind] / figures[peer][kind]:.2f}" for kind in figures[peer]))  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
