"""``gitops-ingress demo`` as a user runs it: start it, wait for its URLs, run every printed curl
command exactly as printed, then Ctrl-C it and expect a clean exit 0. Needs ``curl`` on PATH."""

from __future__ import annotations

import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.upstreams import refused_port as free_port

START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
MAX_LINES = 200


def _pump(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)
    lines.put(None)


def read_until(lines: queue.Queue[str | None], marker: str, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while len(seen) < MAX_LINES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line.rstrip("\n"))
        if marker in line:
            return seen
    raise AssertionError(f"no {marker!r} in the demo's output within {timeout:.0f} s: {seen}")


@pytest.mark.slow
def test_demo_works_as_printed_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is needed (the CI installs it)"
    api_port, proxy_port = free_port(), free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "gitops_ingress", "demo",
               "--listen", f"127.0.0.1:{api_port}", "--proxy-listen", f"127.0.0.1:{proxy_port}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    try:
        try:
            output = read_until(lines, "Press Ctrl-C", START_TIMEOUT)
        except AssertionError as exc:
            process.kill()
            _, errors = process.communicate(timeout=STOP_TIMEOUT)
            raise AssertionError(f"{exc}\nexit code {process.returncode}, stderr:\n{errors}") from None
        assert f"Dashboard: http://127.0.0.1:{api_port}/" in output
        commands = [line.strip() for line in output if line.strip().startswith("curl ")]
        assert len(commands) >= 4
        answers = {}
        for text in commands:
            done = subprocess.run(shlex.split(text), capture_output=True, text=True, timeout=30, check=False)
            assert done.returncode == 0, f"{text}: {done.stderr}"
            answers[text] = done.stdout
        stable_api, preview_api, preview_new, stable_new = commands[:4]
        assert "Host: shop.example.com" in stable_api and ".preview.localhost:" in preview_api
        assert answers[stable_api].startswith("shop/catalog-api:8080 answered GET /api")
        assert answers[preview_api].startswith("shop/catalog-api-v2:8080 answered GET /api")
        assert answers[preview_new].startswith("shop/catalog-api-v2:8080 answered GET /api/v2/recommendations")
        assert answers[stable_new].startswith("shop/catalog-api:8080 ")  # main still has no such route
        assert re.search(r"\(Host: shop\.example\.com\)", answers[preview_api]), "previews send the stable Host"
        page = httpx.get(f"http://127.0.0.1:{api_port}/", timeout=10)
        assert page.status_code == 200 and "feature-api-v2" in page.text
        process.send_signal(signal.SIGINT)
        assert process.wait(STOP_TIMEOUT) == 0, process.stderr.read() if process.stderr else ""
        assert not list(tmp_path.glob("gitops-ingress-demo-*")), "the temporary repository is removed"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(STOP_TIMEOUT)
