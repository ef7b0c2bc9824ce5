"""Run the stand-in Kubernetes API server as a process.

    python tests/support/kube_apiserver.py --listen 127.0.0.1:PORT [--kubeconfig FILE]

It prints ``listening on http://HOST:PORT`` once it accepts connections (port 0 picks a free one),
writes a kubeconfig pointing at itself when asked, and stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import pathlib
import signal
import sys
import threading

if __package__ in (None, ""):
    # Run as a script: make the ``kubeapi`` package beside this file importable.
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from kubeapi import StandIn
else:
    from .kubeapi import StandIn


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A stand-in Kubernetes API server for tests.")
    parser.add_argument(
        "--listen",
        type=_listen,
        default=("127.0.0.1", 0),
        help="HOST:PORT to listen on (default 127.0.0.1:0, a free port)",
    )
    parser.add_argument(
        "--kubeconfig", type=pathlib.Path, help="write a kubeconfig pointing at the server to this file"
    )
    parser.add_argument("--token", help="require this bearer token (else no authentication)")
    parser.add_argument(
        "--bookmark-interval", type=float, default=5.0, help="seconds between watch bookmarks (default 5)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    try:
        server = StandIn(args.listen[0], args.listen[1], args.bookmark_interval, token=args.token, verbose=args.verbose)
    except OSError as exc:
        print(f"kube_apiserver: cannot listen on {args.listen[0]}:{args.listen[1]}: {exc}", file=sys.stderr)
        return 2
    if args.kubeconfig:
        args.kubeconfig.write_text(server.kubeconfig())
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"listening on {server.url}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
