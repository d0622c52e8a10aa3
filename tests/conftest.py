"""Shared fixtures: run the CLI in-process the way a shell would."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from active_cli.cli import main


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Call `active ARGS...` in-process through the real entry point and error boundary."""

    def run(*args: str) -> CliResult:
        code = 0
        try:
            main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_active_subprocess(*args: str, timeout: float = 60.0) -> CliResult:
    """Run `python -m active_cli ARGS...` in a child process (real stdout, real exit)."""
    proc = subprocess.run(
        [sys.executable, "-m", "active_cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(autouse=True)
def _simulator_must_not_hide_bugs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator keeps running when one of its threads fails (a site on a desk
    should not die of one bad cycle); in tests such a failure is a bug, not a
    silent pack, so every site closed during a test must have caught none."""
    from active_cli.sim.site import SimulatedSite

    original_close = SimulatedSite.close

    def close_and_check(site: SimulatedSite) -> None:
        original_close(site)
        assert not site.internal_errors, site.internal_errors

    monkeypatch.setattr(SimulatedSite, "close", close_and_check)
