"""`active monitor`: the model's staleness rules, and the live screen through a real pty."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable

from active_cli.model import CanStackState, ChargeLimits, PackReading
from active_cli.monitoring import CAN_STALE_S, HEARTBEAT_LOST_S, MonitorModel, out_of_range
from tests.conftest import CliResult


def _pack(address: int = 1, volts: float = 3.3, current: float = 0.0) -> PackReading:
    return PackReading(
        address=address,
        protocol_variant="pylon",
        cell_voltages_v=(volts,) * 15 + (volts + 0.01,),
        temperatures_c=(25.0, 26.0),
        current_a=current,
        voltage_v=round(16 * volts + 0.01, 3),
        remaining_ah=100.0,
        full_ah=300.0,
        cycles=1,
        alarm_read=True,
    )


def test_extremes_follow_every_update() -> None:
    model = MonitorModel()
    model.update_packs((_pack(current=5.0),), at=0.0)
    model.update_packs((_pack(current=-20.0),), at=1.0)
    view = model.view(now=1.5)
    assert view.extremes["pack 1 current_a"] == (-20.0, 5.0)
    assert not view.packs_stale


def test_old_pack_data_is_stale_not_live() -> None:
    model = MonitorModel(pack_stale_s=10.0)
    model.update_packs((_pack(),), at=0.0)
    model.update_packs((), at=20.0)  # the pack stopped answering
    view = model.view(now=20.0)
    assert view.packs_stale
    assert view.read_errors == 1


def test_can_state_and_heartbeat_age() -> None:
    state = CanStackState(protocol="pylon-v1.2", limits=ChargeLimits(56.0, 100.0, 100.0))
    model = MonitorModel()
    model.update_can(state, state_at=0.0, heartbeat_at=0.0)
    assert not model.view(now=1.0).heartbeat_lost
    later = model.view(now=max(CAN_STALE_S, HEARTBEAT_LOST_S) + 1)
    assert later.can_stale and later.heartbeat_lost


def test_never_seen_heartbeat_counts_as_lost() -> None:
    model = MonitorModel()
    model.update_can(CanStackState(protocol="pylon-v1.2"), state_at=0.0, heartbeat_at=None)
    assert model.view(now=0.5).heartbeat_lost


def test_highlight_thresholds() -> None:
    assert out_of_range("cell_v", 3.61) and not out_of_range("cell_v", 3.40)
    assert out_of_range("current_a", -101.0) and not out_of_range("current_a", 99.0)
    assert out_of_range("temp_c", 51.0) and not out_of_range("temp_c", 25.0)
    assert out_of_range("voltage_v", 58.0) and not out_of_range("voltage_v", 53.0)


def test_once_json(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("monitor", "--sim", "healthy-4", "--once", "--json", "--refresh", "0.5")
    assert result.exit_code == 0, result.stderr
    view = result.json()
    assert [p["address"] for p in view["packs"]] == [1, 2, 3, 4]
    assert view["can"]["module_count"] == 4
    assert view["heartbeat_lost"] is False


def test_once_json_silent_inverter_is_lost(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("monitor", "--sim", "silent-inverter", "--once", "--json")
    assert result.json()["heartbeat_lost"] is True


def test_live_screen_through_a_pty() -> None:
    """The screen shows the packs and is redrawn with new reads while it runs."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI on a real terminal
        os.environ.update({"COLUMNS": "120", "LINES": "40", "TERM": "xterm"})
        os.execv(
            sys.executable,
            [
                sys.executable,
                "-m",
                "active_cli",
                "monitor",
                "--sim",
                "healthy-4",
                "--refresh",
                "0.5",
                "--duration",
                "5",
            ],
        )
    chunks: list[bytes] = []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    screen = b"".join(chunks).decode("utf-8", errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, screen[-2000:]
    assert "\x1b[?1049h" in screen  # the alternate (full) screen was used
    for address in ("1", "2", "3", "4"):
        assert re.search(rf"│ {address}\s+│ 5\d\.\d\d", screen), f"pack {address} missing"
    refreshes = [int(n) for n in re.findall(r"(\d+) refresh\(es\)", screen)]
    assert len(set(refreshes)) >= 3, refreshes  # redrawn with new reads
    assert "Seen while monitoring" in screen  # the summary after the run


def test_ctrl_c_prints_the_summary() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "active_cli", "monitor", "--sim", "healthy-1", "--refresh", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)
    proc.send_signal(2)  # SIGINT, as Ctrl-C sends
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Seen while monitoring" in out
    assert "Traceback" not in err
