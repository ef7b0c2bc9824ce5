"""A ``gitops-ingress`` command as a child process, for the end-to-end tests.

``Child`` starts ``python -m gitops_ingress ARGS``, drains its stderr in a thread into ``lines`` and
waits for the first line matching ``ready``; that match's groups give the addresses it serves.
``poll`` waits on a condition with a deadline (never a bare sleep).
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping


class Child:
    """A gitops-ingress process; ``groups`` holds the groups of the first stderr line matching
    ``ready`` (``address`` is the first of them)."""

    def __init__(self, args: list[str], ready: str, *, wait: float, env: Mapping[str, str] | None = None) -> None:
        self.wait = wait
        self.lines: list[str] = []
        self._ready: queue.Queue[tuple[str, ...]] = queue.Queue()
        self._pattern = re.compile(ready)
        self.proc = subprocess.Popen([sys.executable, "-m", "gitops_ingress", *args], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=env)
        threading.Thread(target=self._drain, daemon=True).start()
        try:
            self.groups = self._ready.get(timeout=wait)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f"{args[0]} did not start:\n" + "".join(self.lines)) from None
        self.address = self.groups[0]

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            found = self._pattern.search(line)
            if found:
                self._ready.put(found.groups())

    def stop(self) -> int:
        """SIGTERM (if still running) and the exit code; killed if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(self.wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def poll(condition: Callable[[], bool], what: str, wait: float, *, every: float = 0.05,
         logs: Callable[[], str] = lambda: "") -> None:
    """Return once ``condition()`` holds; fail after ``wait`` seconds, naming ``what`` and ``logs()``."""
    pause = threading.Event()
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{logs()}".rstrip("\n"))
        pause.wait(every)
