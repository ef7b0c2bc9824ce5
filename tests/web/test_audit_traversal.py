"""Audit of issue 6's "path traversal through branch names in URLs", over a raw socket.

httpx (and so the TestClient) removes ``../`` segments before sending, so a client-side test sees
``/etc/passwd`` rather than the traversal. Here the request line goes out byte for byte to a real
uvicorn serving the app with the real engine behind it (with real branches, including ones named
like the static folder), and no answer may carry a file from outside the static folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gitops_ingress.web.app import create_app
from tests.sync.conftest import WAIT, running, seed
from tests.web.test_stream import serving

pytestmark = pytest.mark.anyio

WEB = Path(__file__).resolve().parents[2] / "gitops_ingress" / "web"
# lines that only these files hold: any of them in an answer means a file outside static/ leaked
LEAKS = {"root:x:0:0", "[project]", "def create_app", "def dashboard_router", "from __future__"}

TARGETS = [
    "/static/../../../../../../etc/passwd",
    "/static/../app.py",
    "/static/..%2fapp.py",
    "/static/%2e%2e/app.py",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/static/..\\app.py",
    "/static/....//app.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/branches/../../../../etc/passwd",
    "/branches/..%2f..%2f..%2fetc%2fpasswd",
    "/branches/static%2f..%2f..%2fapp.py",
    "/branches/static/../app.py",
    "/branches/feature%2f..%2f..%2fstatic%2f..%2fapp.py",
    "/branches/%2e%2e%2fstatic%2f%2e%2e%2fapp.py",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def raw_get(url: str, target: str) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(-1), WAIT)
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, answer


async def test_traversal_in_raw_request_lines_reaches_no_file(tmp_path: Path) -> None:
    remote, work = seed(tmp_path)
    for name in ("static-files", "static/app.py", "feature/x"):
        work.push(name)
    assert "def create_app" in (WEB / "app.py").read_text()  # the marker would show a leak
    async with running(tmp_path, remote) as h:
        app = create_app(h.engine, h.engine)
        async with serving(app) as url:
            ok_static, css = await raw_get(url, "/static/style.css")
            ok_branch, page = await raw_get(url, "/branches/static%2Fapp.py")
            answers = {target: await raw_get(url, target) for target in TARGETS}
    assert ok_static == 200 and len(css) > 100  # the static folder itself is served
    assert ok_branch == 200 and b"static/app.py</h1>" in page  # a real branch of that name is a page
    for target, (status, body) in answers.items():
        assert status in (400, 404), (target, status, body[:200])
        text = body.decode(errors="replace")
        assert not [leak for leak in LEAKS if leak in text], target
