"""Exit codes and signals at the CLI boundary (docs/README.md "Exit codes")."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult, run_active_subprocess


def test_ctrl_c_that_interrupts_work_is_130_with_a_line() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "active_cli", "check", "protocol", "--inverter", "deye",
         "--sim", "silent-inverter", "--window", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(3.0)  # the simulator is up and the CAN window is open
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err


def test_debug_keeps_the_documented_exit_code() -> None:
    result = run_active_subprocess("--debug", "check", "parallel", "--voltages", "1", "53")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "error:" in result.stderr


def test_version_short_and_long(run_cli: Callable[..., CliResult]) -> None:
    for flag in ("-V", "--version"):
        result = run_cli(flag)
        assert result.exit_code == 0 and result.stdout.startswith("active ")


def test_scan_refuses_a_negative_expect(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("scan", "--sim", "healthy-4", "--expect", "-1")
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "command", [["scan"], ["check", "parallel"], ["monitor"], ["commission"], ["log", "capture"]]
)
def test_help_shows_readable_metavars(
    run_cli: Callable[..., CliResult], command: list[str]
) -> None:
    result = run_cli(*command, "--help")
    assert result.exit_code == 0
    for typer_default in ("<str>", "<int>", "<int range>", "<float range>", "<list[", "<path>"):
        assert typer_default not in result.stdout


def test_completion_can_be_installed(run_cli: Callable[..., CliResult]) -> None:
    assert "--install-completion" in run_cli("--help").stdout


def test_ctrl_c_mid_scan_is_130_and_keeps_what_was_recorded(tmp_path: Path) -> None:
    # The scan runs on a worker thread (procedures.line_work); Ctrl-C reaches
    # the main thread, which must stop the worker, close the recording whole
    # and exit 130 with one line.
    from active_cli.links.replay import read_rs485_capture
    from active_cli.sim.site import SimulatedSite

    capture = tmp_path / "scan.rs485"
    with SimulatedSite("healthy-16", baud=9600, pty=True, with_can=False) as site:
        assert site.rs485_pty is not None
        proc = subprocess.Popen(
            [sys.executable, "-m", "active_cli", "scan", "--port", site.rs485_pty,
             "--record", str(capture)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and (
            not capture.exists() or capture.stat().st_size < 200
        ):
            time.sleep(0.05)  # until the first exchanges are on file
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    exchanges = read_rs485_capture(capture).exchanges
    assert exchanges and exchanges[0].reply is not None
    assert len(exchanges) < 35  # interrupted mid-scan: a whole 16-pack scan makes 35


def test_the_console_script_ends_fast_but_whole(tmp_path: Path) -> None:
    # run() skips the interpreter's teardown (os._exit): a large piped output
    # must still arrive whole, the exit code must be the command's, and a
    # thread still working must be waited for (the normal exit, then).
    result = run_active_subprocess("scan", "--sim", "healthy-16", "--json", "--can-window", "1")
    assert result.exit_code == 0, result.stderr
    assert len(result.json()["packs"]) == 16

    done = tmp_path / "done"
    code = (
        "import sys, threading, time\n"
        "from active_cli.cli import run\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        f"    open({str(done)!r}, 'w').write('ok')\n"
        "threading.Thread(target=late).start()\n"
        "sys.argv = ['active', 'check', 'parallel', '--voltages', '53.2', '51']\n"
        "run()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1  # the check's FAIL, not 0 from a shortcut
    assert done.read_text() == "ok"
