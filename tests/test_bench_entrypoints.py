"""Every benchmark in bench/ starts: its option parser builds and ``--help`` exits 0.

Two branches once each added ``--baseline`` to bench/proxy.py and argparse refused to start every
mode of it; nothing ran the benchmarks in CI, so nobody saw. This runs no benchmark (they need
nginx, wrk, h2load and minutes), only each script's own start.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the scripts one runs; proxy_h2.py and the like are modes of proxy.py, imported by it
SCRIPTS = sorted(path.name for path in (ROOT / "bench").glob("*.py") if '__name__ == "__main__"' in path.read_text())


def test_the_benchmarks_with_options_are_found() -> None:
    assert {"proxy.py", "validate.py", "scale.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_benchmark_answers_help(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
