"""``gitops-ingress demo`` as a user runs it: start it, wait for its URLs, run every printed curl
command exactly as printed, then Ctrl-C it and expect a clean exit 0. Needs ``curl`` on PATH."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Child
from tests.support.upstreams import refused_port as free_port

WAIT = 90.0  # for the demo to start (it builds a repository and starts three servers), or to stop


@pytest.mark.slow
def test_demo_works_as_printed_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is needed (the CI installs it)"
    api_port, proxy_port = free_port(), free_port()
    args = ["demo", "--listen", f"127.0.0.1:{api_port}", "--proxy-listen", f"127.0.0.1:{proxy_port}"]
    with Child(args, wait=WAIT, env={**os.environ, "TMPDIR": str(tmp_path)}, keep_stdout=True) as demo:
        demo.expect("Press Ctrl-C", stdout=True)
        output = [line.rstrip("\n") for line in demo.output]
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
        assert demo.stop(signal.SIGINT) == 0, demo.log()
    assert not list(tmp_path.glob("gitops-ingress-demo-*")), "the temporary repository is removed"
