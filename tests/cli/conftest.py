"""Helpers for running the command line in-process and reading its JSON answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from gitops_ingress.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
