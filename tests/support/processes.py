"""A ``gitops-ingress`` command as a child process, for the tests that run the real thing.

``Child`` starts ``python -m gitops_ingress ARGS`` and reads its stderr (and, when asked, its
stdout) on threads into queues, so a test waits on the next line with a timeout instead of polling
a file or sleeping. ``expect`` consumes stderr lines in order until one matches, which lets a test
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
    ``stdout`` is a queue of stdout lines when ``keep_stdout`` is set (otherwise it is discarded)."""

    def __init__(self, args: list[str], ready: str | None = None, *, wait: float,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None, keep_stdout: bool = False) -> None:
        self.wait = wait
        self.lines: list[str] = []
        self.stdout: queue.Queue[str] = queue.Queue()
        self._stderr: queue.Queue[str | None] = queue.Queue()
        # unbuffered, so each line reaches the pipe when it is written, not when a buffer fills
        environ = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "gitops_ingress", *args], text=True, env=environ,
                                     cwd=cwd, stderr=subprocess.PIPE,
                                     stdout=subprocess.PIPE if keep_stdout else subprocess.DEVNULL)
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        if keep_stdout:
            threading.Thread(target=_pump, args=(self.proc.stdout, self.stdout), daemon=True).start()
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

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)
            self._stderr.put(line)
        self._stderr.put(None)

    def expect(self, pattern: str, wait: float | None = None) -> re.Match[str]:
        """The next stderr line (newline stripped) matching ``pattern``; earlier lines are consumed.
        Fails after ``wait`` seconds (default: the child's) or when the child's stderr ends."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        for _ in range(MAX_LINES):
            try:
                line = self._stderr.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                self._stderr.put(None)  # the end stays the end for the next wait too
                code = self.proc.wait(self.wait)
                raise AssertionError(f"exited with {code} before a line matching {pattern!r}:\n{self.log()}")
            found = compiled.search(line.rstrip("\n"))
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r} in time:\n{self.log()}")

    def log(self, last: int | None = None) -> str:
        """The stderr read so far (only its ``last`` lines, if given), for failure messages."""
        return "".join(self.lines if last is None else self.lines[-last:])

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


def _pump(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def poll(condition: Callable[[], bool], what: str, wait: float, *, every: float = 0.05,
         logs: Callable[[], str] = lambda: "") -> None:
    """Return once ``condition()`` holds; fail after ``wait`` seconds, naming ``what`` and ``logs()``."""
    pause = threading.Event()
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{logs()}".rstrip("\n"))
        pause.wait(every)
