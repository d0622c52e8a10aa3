"""`active commission` as a person runs it: in a real terminal (a pty), interrupted
with Ctrl-C and resumed, and killed outright (SIGKILL) and resumed.

The interactive run answers every prompt in the order the steps ask; Ctrl-C
at the inverter step must leave a record that loads and a ``--resume`` that
finishes the job.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from active_cli.commissioning.session import Outcome, StepStatus, load_session

FAST = ["--settle", "2", "--inverter-timeout", "8", "--join-timeout", "5", "--no-report"]


def _spawn(*args: str) -> pexpect.spawn:
    env = {**os.environ, "COLUMNS": "80", "LINES": "24", "TERM": "xterm"}
    return pexpect.spawn(
        sys.executable,
        ["-m", "active_cli", "commission", *args],
        env=env,
        encoding="utf-8",
        timeout=120,  # generous: a loaded CI machine, not a slow tool
        dimensions=(24, 80),
    )


def _joined(session: Path) -> int:
    try:
        return len(json.loads(session.read_text(encoding="utf-8"))["joins"])
    except (OSError, ValueError, KeyError):
        return 0  # not written yet


def _answer(child: pexpect.spawn, prompt: str, text: str) -> None:
    child.expect(prompt)
    child.sendline(text)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")
def test_interactive_run_ctrl_c_then_resume(tmp_path: Path) -> None:
    session = tmp_path / "site.json"
    child = _spawn("--inverter", "deye", "--sim", "healthy-4", "--session", str(session), *FAST)
    _answer(child, r"Packs in the stack \[4\]", "")
    _answer(child, "Installer name", "Anna Müller")
    _answer(child, "Company", "Müller & Söhne")
    _answer(child, "Phone", "")
    _answer(child, "Email", "")
    _answer(child, "Service ticket number or system ID", "T-1")
    _answer(child, "Site street", "")
    _answer(child, "Site ZIP / city", "Łódź")
    _answer(child, "System name on the inverter portal", "")
    _answer(child, "Inverter serial number", "")
    _answer(child, "Inverter firmware", "")
    _answer(child, r"Inverter rated power", "8kW")
    _answer(child, r"Wire the battery's COM port[^\[]*\[Enter/skip/abort\]", "")
    child.expect(r"Set the inverter's battery protocol[^\[]*\[Enter/skip/abort\]", timeout=120)
    child.sendintr()  # Ctrl-C at the prompt
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130, child.before
    stopped = load_session(session)
    assert stopped.outcome is Outcome.IN_PROGRESS
    assert stopped.site.installer.name == "Anna Müller"
    assert stopped.site.installer.company == "Müller & Söhne"
    assert stopped.site.zip_city == "Łódź" and stopped.site.inverter_power_w == 8000
    assert [j.position for j in stopped.joins] == [1, 2, 3, 4]
    assert stopped.step("inverter").status is StepStatus.PENDING
    assert "resume" in stopped.step("inverter").note

    child = _spawn("--resume", str(session), "--sim", "healthy-4", *FAST)
    _answer(child, r"Set the inverter's battery protocol[^\[]*\[Enter/skip/abort\]", "")
    _answer(child, r"Does the inverter's battery page show", "yes")
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.exitstatus == 0, child.before
    done = load_session(session)
    assert done.outcome is Outcome.COMPLETED
    assert done.inverter_display_matches is True
    assert ("restart_confirmed", "yes") in done.step("inverter").answers
    assert done.joins == stopped.joins  # the resumed run did not switch the packs on again
    assert done.site == stopped.site


def test_sigkill_mid_run_leaves_a_record_that_resumes(tmp_path: Path) -> None:
    session = tmp_path / "killed.json"
    args = [sys.executable, "-m", "active_cli", "commission", "--inverter", "deye",
            "--sim", "healthy-4", "--yes", "--session", str(session), *FAST]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _joined(session) >= 2:
                break  # two packs have joined: mid-way through the power-on
            time.sleep(0.05)
        else:
            pytest.fail("the run never got to the second pack")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = load_session(session)  # whole and readable: written atomically
    assert killed.outcome is Outcome.IN_PROGRESS
    assert len(killed.joins) >= 2
    resumed = subprocess.run(
        [sys.executable, "-m", "active_cli", "commission", "--resume", str(session),
         "--sim", "healthy-4", "--yes", *FAST],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    done = load_session(session)
    assert done.outcome is Outcome.COMPLETED
    assert [j.position for j in done.joins] == [1, 2, 3, 4]
    assert done.joins[:2] == killed.joins[:2]
