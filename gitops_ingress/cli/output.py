"""Writing command output: to stdout or ``--output FILE``, colour only on a terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gitops_ingress.core.errors import SourceError


def wants_color(output: str | None) -> bool:
    return output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ


def emit(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"--output {output}: {exc.strerror or exc}") from exc
