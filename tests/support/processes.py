"""A ``gitops-ingress`` command as a child process, for the tests that run the real thing.

``Child`` starts ``python -m gitops_ingress ARGS`` and reads its stderr (and, when asked, its
stdout) on threads into queues, so a test waits on the next line with a timeout instead of polling
a file or sleeping. ``expect`` consumes the lines of one stream in order until one matches, which lets a test
wait for the same message twice (one per worker) without finding the first one again. Every wait
has one deadline; the end of the stream is a line of its own, so a child that dies fails the wait
at once with its exit code and its log rather than at the timeout. ``stop`` is SIGTERM with a
bounded wait, and a child that does not exit (or a test that fails: ``with``) is killed, so no
process outlives its test. ``poll`` is for conditions no line announces (an HTTP answer, kubectl).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Self

MAX_LINES = 100_000  # a wait reads at most this many lines, whatever the deadline says


class Child:
    """``python -m gitops_ingress ARGS``. With ``ready``, the constructor waits for the first stderr
    line matching it (killing the child if none comes): ``groups`` holds that match's groups and
    ``address`` the first of them. ``lines`` is the stderr read so far (each line ends in a newline);
    ``output`` the same for stdout when ``keep_stdout`` is set (otherwise stdout is discarded)."""

    def __init__(
        self,
        args: list[str],
        ready: str | None = None,
        *,
        wait: float,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        keep_stdout: bool = False,
    ) -> None:
        self.wait = wait
        self.lines: list[str] = []
        self.output: list[str] = []
        self._stderr: queue.Queue[str | None] = queue.Queue()
        self._stdout: queue.Queue[str | None] = queue.Queue()
        # unbuffered, so each line reaches the pipe when it is written, not when a buffer fills
        environ = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gitops_ingress", *args],
            text=True,
            env=environ,
            cwd=cwd,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE if keep_stdout else subprocess.DEVNULL,
        )
        threading.Thread(target=_drain, args=(self.proc.stderr, self.lines, self._stderr), daemon=True).start()
        if keep_stdout:
            threading.Thread(target=_drain, args=(self.proc.stdout, self.output, self._stdout), daemon=True).start()
        self.groups: tuple[str, ...] = ()
        if ready is not None:
            try:
                self.groups = self.expect(ready).groups()
            except AssertionError as exc:
                self.kill()
                raise AssertionError(f"{args[0]} did not start: {exc}") from None

    @property
    def address(self) -> str:
        return self.groups[0]

    def expect(self, pattern: str, wait: float | None = None, *, stdout: bool = False) -> re.Match[str]:
        """The next stderr line (stdout line, with ``stdout``; newline stripped) matching
        ``pattern``; earlier lines are consumed. Fails after ``wait`` seconds (default: the
        child's) or when that stream ends."""
        compiled = re.compile(pattern)
        lines = self._stdout if stdout else self._stderr
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        for _ in range(MAX_LINES):
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                lines.put(None)  # the end stays the end for the next wait too
                code = self.proc.wait(self.wait)
                raise AssertionError(f"exited with {code} before a line matching {pattern!r}:\n{self.log()}")
            found = compiled.search(line.rstrip("\n"))
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r} in time:\n{self.log()}")

    def log(self, last: int | None = None) -> str:
        """The stderr read so far (only its ``last`` lines, if given), for failure messages; the
        stdout read so far comes first, when it is kept."""
        lines = self.lines if last is None else self.lines[-last:]
        return "".join(["stdout:\n", *self.output, "stderr:\n", *lines] if self.output else lines)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` (if still running) and return the exit code; killed if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(self.wait)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL (if still running) and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(self.wait)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def _drain(stream: IO[str], kept: list[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        kept.append(line)
        lines.put(line)
    lines.put(None)


def poll(
    condition: Callable[[], bool], what: str, wait: float, *, every: float = 0.05, logs: Callable[[], str] = lambda: ""
) -> None:
    """Return once ``condition()`` holds; fail after ``wait`` seconds, naming ``what`` and ``logs()``."""
    pause = threading.Event()
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{logs()}".rstrip("\n"))
        pause.wait(every)


def run_once(args: list[str], *, cwd: Path | None = None, wait: float) -> subprocess.CompletedProcess[str]:
    """``python -m gitops_ingress ARGS`` run to its end. The child imports this checkout whatever
    ``cwd`` is (an installed copy elsewhere must not answer for it), without the caller's
    ``GITOPS_INGRESS_*`` settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_INGRESS_")}
    environ["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return subprocess.run(
        [sys.executable, "-m", "gitops_ingress", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=wait,
        check=False,
    )


def serve_args(tmp_path: Path, repo: str, *extra: str) -> list[str]:
    """``serve`` on loopback with free ports, its state under ``tmp_path``, polling out of the way
    (tests push and send webhooks themselves)."""
    return [
        "serve", "--repo", repo, "--listen", "127.0.0.1:0", "--proxy-listen", "127.0.0.1:0",
        "--state-dir", str(tmp_path / "state"), "--poll-interval", "3600", *extra,
    ]  # fmt: skip
