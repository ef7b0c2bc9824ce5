"""The stand-in as a process: ``python tests/support/kube_apiserver.py --listen 127.0.0.1:PORT``."""

from __future__ import annotations

import pathlib
import selectors
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.slow

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "support" / "kube_apiserver.py"


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=timeout):
            return ""
    return proc.stdout.readline().decode().strip()


def test_runs_alone_and_stops_on_sigterm(tmp_path: pathlib.Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--listen", "127.0.0.1:0", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = _first_line(proc, timeout=10)
        startup = time.monotonic() - started
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        print(f"stand-in ready after {startup:.2f} s (interpreter start included)")
        assert httpx.get(f"{url}/version").json()["major"] == "1"
        assert f'server: "{url}"' in kubeconfig.read_text()
        created = httpx.post(f"{url}/api/v1/namespaces", json={"metadata": {"name": "x"}})
        assert created.status_code == 201
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err.decode()


def test_bad_listen_address_is_a_clear_error() -> None:
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), "--listen", "nonsense"], capture_output=True, text=True, timeout=30, check=False
    )
    assert bad.returncode == 2 and "expected HOST:PORT, got 'nonsense'" in bad.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [sys.executable, str(SCRIPT), "--listen", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert busy.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in busy.stderr and "Traceback" not in busy.stderr
