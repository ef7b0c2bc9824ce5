"""Running kustomize: the I/O half of ``core.kustomize`` (a leaf over core, at the level of ``fs``).

``render`` is a ``core.kustomize.Renderer``: the inputs the pure half gathered from a tree source
(a folder or a git commit) are written into a fresh temporary folder, and ``kustomize build`` (the
standalone binary when present, else ``kubectl kustomize``) renders the kustomization there. The
repository is untrusted (serve renders every branch anyone pushes), so:

* only the gathered files are written, each by a relative path with no ``..``, no absolute path and
  no link (``O_NOFOLLOW``, ``O_EXCL``): kustomize sees nothing of the host but them;
* ``--load-restrictor LoadRestrictionsRootOnly`` keeps each kustomization to its own folder, and no
  plugins or Helm are enabled;
* remote bases were refused before (``core.kustomize``); as a second wall, git is not on the
  child's ``PATH`` and its HTTP proxy is a closed loopback port, so a fetch fails instead of
  reaching out;
* the child has a timeout and a limit on the size of its output (``policy.limits``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from gitops_ingress.core.errors import RenderError
from gitops_ingress.core.kustomize_resources import over_output_limit
from gitops_ingress.core.settings import LimitSettings

_KLOG = re.compile(r'^[EWI]\d{4} [\d:.]+\s+\d+ \S+\] .*?err="(.*)"\s*$')
_CLOSED_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, a connection is refused


def kustomize_command(directory: str) -> list[str]:
    standalone = shutil.which("kustomize")
    if standalone is not None:
        return [standalone, "build", directory, "--load-restrictor", "LoadRestrictionsRootOnly"]
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RenderError("neither kustomize nor kubectl is installed")
    return [kubectl, "kustomize", directory, "--load-restrictor", "LoadRestrictionsRootOnly"]


def render(files: Mapping[str, bytes], directory: str, limits: LimitSettings) -> bytes:
    with tempfile.TemporaryDirectory(prefix="gitops-ingress-kustomize-") as scratch:
        top = Path(scratch).resolve() / "tree"
        top.mkdir()
        for path, data in files.items():
            _write(top, path, data)
        command = kustomize_command(str(top / directory) if directory else str(top))
        output = Path(scratch, "rendered.yaml")
        environment = {
            "PATH": str(Path(scratch, "no-tools")),  # no git: no remote clone, whatever was missed
            "HOME": scratch,
            "HTTP_PROXY": _CLOSED_PROXY,
            "HTTPS_PROXY": _CLOSED_PROXY,
            "http_proxy": _CLOSED_PROXY,
            "https_proxy": _CLOSED_PROXY,
            "NO_PROXY": "",
            "KUBECONFIG": os.devnull,
        }
        with output.open("wb") as sink:
            returncode, stderr = _run(command, sink, output, environment, scratch, limits)
        if returncode is None or output.stat().st_size > limits.max_render_output_bytes:
            raise over_output_limit(limits)
        if returncode != 0:
            raise RenderError(_message(stderr.decode("utf-8", "replace"), str(top)))
        return output.read_bytes()


def _run(
    command: list[str], sink: IO[bytes], output: Path, environment: dict[str, str], cwd: str, limits: LimitSettings
) -> tuple[int | None, bytes]:
    """Run kustomize into ``sink``; None when its output went over the limit (it is then stopped).
    The output's size is looked at every 50 ms: no rlimit, since serve renders from threads."""
    deadline = time.monotonic() + limits.render_timeout_seconds
    try:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.PIPE, env=environment, cwd=cwd
        )
    except OSError as exc:
        raise RenderError(f"kustomize could not be run: {exc.strerror or exc}") from exc
    try:
        while True:
            try:
                _, stderr = child.communicate(timeout=0.05)
                return child.returncode, stderr
            except subprocess.TimeoutExpired:
                pass
            if output.stat().st_size > limits.max_render_output_bytes:
                return None, b""
            if time.monotonic() > deadline:
                raise RenderError(f"kustomize took longer than {limits.render_timeout_seconds:g} s")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _write(top: Path, relative: str, data: bytes) -> None:
    parts = relative.split("/")
    if relative.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise RenderError(f"{relative}: not a plain relative path; not rendered")
    folder = top.joinpath(*parts[:-1])
    folder.mkdir(parents=True, exist_ok=True)
    if folder.resolve() != folder or not folder.is_relative_to(top):
        raise RenderError(f"{relative}: leaves the scratch folder; not rendered")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(folder / parts[-1], flags, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _message(stderr: str, top: str) -> str:
    """kustomize's error, without its deprecation warnings and with the scratch folder's path cut."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("# Warning")]
    logged = [_KLOG.search(line) for line in lines]  # kubectl logs its error: E1201 ... err="..."
    lines = [
        match.group(1).encode().decode("unicode_escape") if match else line
        for match, line in zip(logged, lines, strict=True)
    ]
    text = " ".join(lines).replace(top + "/", "").replace(top, ".")
    return text.removeprefix("error: ").strip() or "kustomize failed without a message"
