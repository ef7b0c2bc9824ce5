"""Webhook intake of a real ``gitops-ingress serve``: deliveries per second and serve's CPU each.

    python bench/deliveries.py [--deliveries 2000] [--connections 32] [--fresh] [--peer DIR] [--rounds 3]

A serve over a small bare repository (two branches) receives DELIVERIES generic push webhooks, for
its two branches in turn (so the engine's fetches find nothing new and the figure is the intake's),
CONNECTIONS at a time. Printed per run: the wall time, deliveries per second, and serve's CPU time
per delivery, the steadier figure on a shared machine. With ``--peer DIR`` (another checkout, e.g.
``git archive main | tar -x -C DIR``) the peer's serve is measured in the same run, the order
alternating per round, and the medians and their ratio are printed last.

``send`` is the sender bench/scale.py uses too. It writes prepared HTTP/1.1 requests on raw
asyncio streams and reads each answer's head and body, about 0.15 ms of CPU per delivery. The
httpx client of 32 threads it replaced spent 1.8 to 2.8 ms per delivery in the measuring process,
on the same cores as serve: the burst measured the sender, not serve's intake (for 500 deliveries
the last was sent 3.45 s after the first, with serve idle part of the time). A forge's sending
costs serve nothing, so the bench should not charge it either. Each connection is kept alive
across its deliveries unless ``fresh`` (a new connection per delivery, as some forges do).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sync import make_scale_repo
from tests.e2e.test_serve import SECRET, ServeProcess

WARM_UP = 200  # deliveries before measuring: imports, first connections
ANSWER_WAIT = 60.0  # seconds a delivery may wait for its answer


def cpu_seconds(pid: int) -> float:
    """The process's own CPU time (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request(host: str, branch: str, token: str, close: bool = False) -> bytes:
    body = b'{"ref": "refs/heads/%s"}' % branch.encode()
    head = (
        f"POST /webhooks/generic HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {token}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        + ("connection: close\r\n" if close else "")
        + "\r\n"
    )
    return head.encode() + body


def send(api: str, names: Sequence[str], connections: int, *, token: str = SECRET, fresh: bool = False) -> None:
    """One generic push webhook per name to ``api`` (``http://host:port``), ``connections`` at a
    time; returns once every one was answered 202 (SystemExit naming the first that was not)."""
    asyncio.run(_send(api.removeprefix("http://"), iter(names), connections, token, fresh))


async def _send(address: str, names: Iterator[str], connections: int, token: str, fresh: bool) -> None:
    host, _, port = address.rpartition(":")

    async def sender() -> None:
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for name in names:  # one iterator shared by every sender: each name is sent once
            if streams is None:
                streams = await asyncio.open_connection(host, int(port))
            reader, writer = streams
            writer.write(request(address, name, token, close=fresh))
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), ANSWER_WAIT)
            status = head.split(b"\r\n", 1)[0]
            if not status.startswith(b"HTTP/1.1 202 "):
                raise SystemExit(f"the delivery for {name} was answered {status!r}")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            if fresh:
                writer.close()
                streams = None
        if streams is not None:
            streams[1].close()

    await asyncio.gather(*(sender() for _ in range(connections)))


def measure(checkout: Path, args: argparse.Namespace) -> tuple[float, float]:
    """(seconds for DELIVERIES, serve's CPU seconds meanwhile) against ``checkout``'s serve."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-deliveries-"))
    (tmp / "repo").mkdir()
    repo = make_scale_repo(tmp / "repo", 2, 5)
    serve = ServeProcess(tmp, str(repo), {}, cwd=checkout)
    try:
        names = [f"feature/b{n % 2:04d}" for n in range(args.deliveries)]
        send(serve.api, names[:WARM_UP], args.connections, fresh=args.fresh)
        cpu = cpu_seconds(serve.proc.pid)
        began = time.perf_counter()
        send(serve.api, names, args.connections, fresh=args.fresh)
        return time.perf_counter() - began, cpu_seconds(serve.proc.pid) - cpu
    finally:
        serve.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--fresh", action="store_true", help="a new connection per delivery")
    parser.add_argument("--peer", type=Path, help="another checkout, measured in the same run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sides = [("this", ROOT)] + ([("peer", args.peer.resolve())] if args.peer else [])
    results: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in sides}
    for round_ in range(args.rounds):
        for label, checkout in sides if round_ % 2 == 0 else sides[::-1]:
            wall, cpu = measure(checkout, args)
            results[label].append((wall, cpu))
            print(
                f"  [{label}] {args.deliveries} deliveries in {wall:.2f} s ({args.deliveries / wall:.0f}/s), "
                f"serve CPU {cpu * 1000 / args.deliveries:.3f} ms per delivery",
                flush=True,
            )
    medians = {
        label: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for label, runs in results.items()
    }
    for label, (wall, cpu) in medians.items():
        print(
            f"{label:>5}, medians of {args.rounds}: {args.deliveries / wall:.0f} deliveries/s, "
            f"serve CPU {cpu * 1000 / args.deliveries:.3f} ms per delivery"
        )
    if args.peer:
        print(
            f"this / peer: {medians['peer'][0] / medians['this'][0]:.2f}x the deliveries per second, "
            f"{medians['this'][1] / medians['peer'][1]:.2f}x the CPU per delivery"
        )
    mode = "a new connection per delivery" if args.fresh else "kept-alive connections"
    print(f"  {args.connections} connections, {mode}; load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
