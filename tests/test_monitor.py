"""`active monitor`: the model's staleness rules, the screen, the CAN watcher, and the CLI.

The end-to-end tests run the real CLI: in-process for --once/--json, and in a
child process on a real pty (the live screen, Ctrl-C typed as ^C) or a pipe.
The child tests wait for a sign that the monitor is ready (a screen drawn, a
line on stderr), never for a fixed time, so a slow machine only makes them
slower.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import can
import pytest
from rich.console import Console

from active_cli import discovery, monitoring
from active_cli.cli import render_monitor
from active_cli.errors import EXIT_NO_REPLY, LinkError, LinkTimeout
from active_cli.links.can_watch import CanWatcher
from active_cli.links.serial_link import LinkStats
from active_cli.model import CanStackState, ChargeLimits, PackReading
from active_cli.monitoring import (
    CAN_STALE_S,
    HEARTBEAT_LOST_S,
    MonitorModel,
    MonitorView,
    out_of_range,
)
from active_cli.protocols import pylon_can
from active_cli.protocols import pylon_rs485 as rs
from active_cli.sim.responder import Rs485Responder
from active_cli.sim.scenario import load_scenario
from active_cli.sim.site import SimulatedSite
from active_cli.sim.stack import SimStack
from tests.conftest import CliResult

STATE = CanStackState(protocol="pylon-v1.2", limits=ChargeLimits(56.0, 100.0, 100.0))


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


def _text(view: MonitorView) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_monitor.screen(view))
    return console.export_text()


# --------------------------------------------------------------------- model


def test_extremes_follow_every_update() -> None:
    model = MonitorModel()
    model.update_packs((_pack(current=5.0),), at=0.0)
    model.update_packs((_pack(current=-20.0),), at=1.0)
    view = model.view(now=1.5)
    assert view.extremes["pack 1 current_a"] == (-20.0, 5.0)
    assert not view.packs_stale


def test_a_pack_that_stops_answering_stays_listed_as_missing() -> None:
    model = MonitorModel(pack_stale_s=10.0, watch_rs485=True)
    model.update_packs((_pack(1), _pack(2, volts=3.25)), at=0.0)  # the scan
    model.update_packs((_pack(1),), at=2.0)  # pack 2 did not answer
    view = model.view(now=2.5)
    assert [p.address for p in view.packs] == [1, 2]
    assert view.packs[1].voltage_v == _pack(2, volts=3.25).voltage_v  # its last values
    assert view.missing_packs == (2,) and view.stale_packs == ()
    assert view.packs_stale and view.read_errors == 1
    assert view.pack_ages_s == {1: 0.5, 2: 2.5}
    text = _text(view)
    assert "NO REPLY" in text and "NO REPLY from pack 2" in text

    model.update_packs((_pack(1),), at=12.0)
    later = model.view(now=12.5)
    assert later.missing_packs == (2,) and later.stale_packs == (2,)
    assert later.read_errors == 2
    assert "STALE" in _text(later)

    model.update_packs((_pack(1), _pack(2)), at=14.0)  # back again
    back = model.view(now=14.0)
    assert back.missing_packs == () and not back.packs_stale and back.read_errors == 2


def test_old_pack_data_is_stale_not_live() -> None:
    model = MonitorModel(pack_stale_s=10.0)
    model.update_packs((_pack(),), at=0.0)
    model.update_packs((), at=20.0)  # the line went quiet
    view = model.view(now=20.0)
    assert view.packs_stale and view.stale_packs == (1,)
    assert view.read_errors == 1


def test_can_state_and_heartbeat_age() -> None:
    model = MonitorModel(watch_can=True)
    model.update_can(STATE, {0x351: 0.0, 0x356: 0.0, 0x305: 0.0})
    assert not model.view(now=1.0).heartbeat_lost
    later = model.view(now=max(CAN_STALE_S, HEARTBEAT_LOST_S) + 1)
    assert later.can_stale and later.heartbeat_lost


def test_never_seen_heartbeat_counts_as_lost() -> None:
    model = MonitorModel(watch_can=True)
    model.update_can(STATE, {0x351: 0.0})
    assert model.view(now=0.5).heartbeat_lost


def test_limits_go_stale_on_their_own() -> None:
    """0x351 stopped while 0x356 and the heartbeat keep coming: CVL/CCL are old."""
    model = MonitorModel(watch_can=True)
    model.update_can(STATE, {0x351: 0.0, 0x355: 0.0, 0x356: 0.0, 0x305: 0.0})
    model.update_can(STATE, {0x355: 6.0, 0x356: 6.0, 0x305: 6.0})
    view = model.view(now=6.5)
    assert view.limits_stale and view.can_stale_ids == ("0x351",)
    assert not view.can_stale and not view.measurements_stale and not view.heartbeat_lost
    assert view.limits_age_s == 6.5
    text = _text(view)
    assert "STALE (0x351 6 s old)" in text
    assert "CVL 56.0 V" in text


def test_can_asked_for_but_nothing_received_is_never_ok() -> None:
    model = MonitorModel(watch_rs485=True, watch_can=True)
    model.update_packs((_pack(),), at=0.0)
    view = model.view(now=0.5)
    assert view.can is None and view.can_requested and view.heartbeat_lost
    assert "CAN: nothing received" in _text(view)
    # An inverter heard without battery frames is still no working link.
    model.update_can(None, {pylon_can.HEARTBEAT_ID: 0.4})
    heard = model.view(now=0.5)
    assert heard.heartbeat_lost
    assert "CAN: nothing received" in _text(heard)


def test_model_ids_are_the_protocol_ids() -> None:
    assert monitoring.HEARTBEAT_ID == pylon_can.HEARTBEAT_ID
    assert monitoring.LIMITS_ID == pylon_can.LIMITS_ID
    assert monitoring.SOC_SOH_ID == pylon_can.SOC_SOH_ID
    assert monitoring.MEASUREMENTS_ID == pylon_can.MEASUREMENTS_ID


def test_highlight_thresholds() -> None:
    assert out_of_range("cell_v", 3.61) and not out_of_range("cell_v", 3.40)
    assert out_of_range("current_a", -101.0) and not out_of_range("current_a", 99.0)
    assert out_of_range("temp_c", 51.0) and not out_of_range("temp_c", 25.0)
    assert out_of_range("voltage_v", 58.0) and not out_of_range("voltage_v", 53.0)


# -------------------------------------------------------------------- screen


def test_unknown_values_show_as_question_marks() -> None:
    bare = replace(_pack(), cell_voltages_v=(), temperatures_c=(), full_ah=0.0)
    model = MonitorModel()
    model.update_packs((bare,), at=0.0)
    # The compact screen has no vertical rules: cells are split on spaces.
    row = next(line for line in _text(model.view(now=0.0)).splitlines() if line.startswith("1 "))
    cells = row.split()
    # addr, V, A, then SOC, min cell, max cell, spread, max °C all unknown
    assert cells[3:8] == ["?"] * 5, cells


def test_alarms_not_read_is_not_none() -> None:
    model = MonitorModel()
    model.update_packs((replace(_pack(), alarm_read=False),), at=0.0)
    text = _text(model.view(now=0.0))
    assert "alarms not read" in text and " none " not in text


# ---------------------------------------------------------------- discovery


@dataclass
class _SimLink:
    """A RequestLink answered by the simulator's BMS model, no line timing;
    `replies` overrides the next answers, one per request."""

    baud: int = 9600
    stats: LinkStats = field(default_factory=LinkStats)
    replies: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._bms = Rs485Responder(SimStack.from_scenario(load_scenario("healthy-1")))

    def query(
        self,
        command: rs.Command | int,
        adr: int,
        *,
        ver: int = rs.VER_PYLON,
        info: bytes | None = None,
        retry_on_timeout: bool = True,
    ) -> rs.Frame:
        request = rs.build_request(command, adr, ver=ver, info=info)
        reply = self.replies.pop(0) if self.replies else self._bms(request)
        if reply is None:
            raise LinkTimeout(f"no reply from address {adr}")
        return rs.decode_frame(reply)


def test_refresh_survives_an_analog_reply_that_does_not_parse() -> None:
    link = _SimLink()
    known = discovery.scan_rs485(link, discovery.ScanOptions(addresses=(1,))).packs
    assert [p.address for p in known] == [1]
    # Framed, checksum right, RTN 0, but INFO far too short for a 0x42 block.
    link.replies.append(rs.build_response(1, b"\x00\x01"))
    assert discovery.refresh_packs(link, known) == ()
    assert [p.address for p in discovery.refresh_packs(link, known)] == [1]  # next time fine


# --------------------------------------------------------------- CAN watcher


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def virtual_pair() -> Iterator[tuple[can.BusABC, can.BusABC]]:
    channel = f"test-monitor-{os.getpid()}-{time.monotonic_ns()}"
    sender = can.Bus(interface="virtual", channel=channel)
    listener = can.Bus(interface="virtual", channel=channel)
    yield sender, listener
    sender.shutdown()
    listener.shutdown()


def _send(bus: can.BusABC, message: pylon_can.CanMessage) -> None:
    arbitration_id, data = pylon_can.encode_message(message)
    bus.send(can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False))


def _wait_for(watch: CanWatcher, frames: int) -> None:
    deadline = time.monotonic() + 10
    while watch.snapshot().frames < frames:
        assert time.monotonic() < deadline, "the watcher heard nothing"
        time.sleep(0.01)


def test_watcher_keeps_a_time_per_message(
    virtual_pair: tuple[can.BusABC, can.BusABC],
) -> None:
    sender, bus = virtual_pair
    clock = _Clock()
    with CanWatcher(bus, clock=clock) as watch:
        _send(sender, pylon_can.Limits(ChargeLimits(56.0, 100.0, 100.0)))
        _wait_for(watch, 1)
        clock.now = 6.0
        _send(sender, pylon_can.Measurements(53.1, -4.0, 25.0))
        _wait_for(watch, 2)
        heard = watch.snapshot()
    assert dict(heard.seen_at) == {0x351: 0.0, 0x356: 6.0}
    assert heard.state is not None and heard.state.limits is not None
    model = MonitorModel(watch_can=True)
    model.update_can(heard.state, heard.seen_at)
    view = model.view(now=6.5)
    assert view.limits_stale and not view.can_stale


class _UnpluggedBus(can.BusABC):
    """A CAN adapter that fails on every read, as an unplugged USB one does."""

    def __init__(self) -> None:
        super().__init__(channel="unplugged")

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        raise can.CanOperationError("device not found")

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        raise can.CanOperationError("device not found")


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_failing_adapter_is_a_link_error_not_a_dead_thread() -> None:
    bus = _UnpluggedBus()
    with CanWatcher(bus) as watch:
        deadline = time.monotonic() + 10
        with pytest.raises(LinkError, match="device not found") as failed:
            while time.monotonic() < deadline:
                watch.snapshot()
                time.sleep(0.01)
    assert failed.value.exit_code == EXIT_NO_REPLY
    bus.shutdown()


# ------------------------------------------------------------- CLI in-process


def test_once_json(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("monitor", "--sim", "healthy-4", "--once", "--json", "--refresh", "0.5")
    assert result.exit_code == 0, result.stderr
    view = result.json()
    assert [p["address"] for p in view["packs"]] == [1, 2, 3, 4]
    assert view["missing_packs"] == [] and view["read_errors"] == 0
    assert view["can"]["module_count"] == 4
    assert view["heartbeat_lost"] is False


def test_once_json_a_pack_that_stops_answering(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("monitor", "--sim", "stop-answering", "--once", "--json")
    assert result.exit_code == 0, result.stderr
    view = result.json()
    assert [p["address"] for p in view["packs"]] == [1, 2, 3]
    assert view["missing_packs"] == [3]
    assert view["packs_stale"] is True and view["read_errors"] >= 1


def test_once_json_silent_inverter_is_lost(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("monitor", "--sim", "silent-inverter", "--once", "--json")
    assert result.json()["heartbeat_lost"] is True


def test_once_json_no_can_frame_is_lost(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("monitor", "--sim", "wrong-bitrate", "--once", "--json")
    assert result.exit_code == 0, result.stderr
    view = result.json()
    assert view["can"] is None and view["can_requested"] is True
    assert view["heartbeat_lost"] is True


def test_json_without_once_prints_only_json(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli(
        "monitor", "--sim", "healthy-1", "--json", "--duration", "1", "--refresh", "0.3"
    )
    assert result.exit_code == 0, result.stderr
    assert result.json()["refreshes"] >= 2  # the whole of stdout is the JSON
    assert "monitoring" in result.stderr


def test_nothing_answered_exits_3(run_cli: Callable[..., CliResult]) -> None:
    channel = f"test-monitor-nothing-{os.getpid()}"
    result = run_cli(
        "monitor",
        *("--port", "loop://", "--addresses", "1"),
        *("--interface", "virtual", "--channel", channel),
        *("--duration", "1"),  # without the fix it would run, not hang
    )
    assert result.exit_code == EXIT_NO_REPLY, result.stdout
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: nothing to monitor") and "RS485" in lines[0]
    assert "CAN" in lines[0] and lines[1].startswith("hint:")


def test_can_option_reaches_socketcand(run_cli: Callable[..., CliResult]) -> None:
    with SimulatedSite("healthy-1", pty=False, socketcand_port=0) as site:
        assert site.socketcand is not None
        result = run_cli(
            "monitor",
            *("--interface", "socketcand", "--channel", site.socketcand.channel),
            *("--can-option", f"host={site.socketcand.host}"),
            *("--can-option", f"port={site.socketcand.port}"),
            "--once",
            "--json",
        )
    assert result.exit_code == 0, result.stderr
    assert result.json()["can"]["module_count"] == 1


# ------------------------------------------------------------ CLI in a child


def _spawn_on_a_pty(*args: str) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI on a real terminal
        os.environ.update({"COLUMNS": "120", "LINES": "40", "TERM": "xterm"})
        os.execv(sys.executable, [sys.executable, "-m", "active_cli", *args])
    return pid, fd


def _read_until(fd: int, chunks: list[bytes], done: Callable[[str], bool], timeout: float) -> str:
    """Read the child's terminal until `done(everything so far)` or EOF."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = b"".join(chunks).decode("utf-8", errors="replace")
        if done(text):
            return text
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _refreshes(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"(\d+) refresh\(es\)", text)}


def test_live_screen_through_a_pty_and_ctrl_c() -> None:
    """The screen shows the packs, is redrawn with new reads, and ^C ends with the summary."""
    pid, fd = _spawn_on_a_pty("monitor", "--sim", "healthy-4", "--refresh", "0.3")
    chunks: list[bytes] = []
    screen = _read_until(fd, chunks, lambda t: len(_refreshes(t)) >= 3, timeout=60)
    assert len(_refreshes(screen)) >= 3, screen[-2000:]  # redrawn with new reads
    os.write(fd, b"\x03")  # Ctrl-C, through the terminal's line discipline
    screen = _read_until(fd, chunks, lambda t: False, timeout=30)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, screen[-2000:]
    assert "\x1b[?1049h" in screen  # the alternate (full) screen was used
    for address in ("1", "2", "3", "4"):
        assert re.search(rf"\b{address}\s+5\d\.\d\d ", screen), f"pack {address} missing"
    assert "Seen while monitoring" in screen  # the summary after the run
    assert "Traceback" not in screen and "Aborted" not in screen


def test_ctrl_c_during_the_first_scan_ends_cleanly() -> None:
    # loop:// echoes the requests back: no pack ever answers, so the scan of
    # 254 addresses runs for minutes, and ^C lands in it.
    pid, fd = _spawn_on_a_pty("monitor", "--port", "loop://", "--addresses", "1-254")
    chunks: list[bytes] = []
    screen = _read_until(fd, chunks, lambda t: "polling address 2 " in t, timeout=60)
    assert "polling address" in screen, screen[-2000:]
    os.write(fd, b"\x03")
    screen = _read_until(fd, chunks, lambda t: False, timeout=30)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, screen[-2000:]
    assert "Aborted" not in screen and "Traceback" not in screen
    assert "RS485: not read yet" in screen


def test_ctrl_c_piped_prints_only_the_summary() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "active_cli", "monitor", "--sim", "healthy-1", "--refresh", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = b""
    deadline = time.monotonic() + 60
    while b"monitoring" not in err and time.monotonic() < deadline:  # the ready sign
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            err += chunk
    assert b"monitoring" in err, err
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=30)
    text, errors = out.decode(), (err + rest).decode()
    assert proc.returncode == 0, errors
    assert text.count("Packs") == 1 and "Seen while monitoring" in text  # one screen, at the end
    assert "Traceback" not in errors


def test_a_dead_can_gateway_ends_monitor_with_exit_3() -> None:
    """The socketcand server dies mid-run: monitor notices within the silence limit
    and exits 3, as it does when RS485 goes away, instead of running to --duration."""
    from active_cli.links.can_watch import DEFAULT_SILENCE_LIMIT_S

    with SimulatedSite("healthy-1", pty=False, socketcand_port=0) as site:
        assert site.socketcand is not None
        proc = subprocess.Popen(
            [sys.executable, "-m", "active_cli", "monitor",
             "--interface", "socketcand", "--channel", site.socketcand.channel,
             "--can-option", f"host={site.socketcand.host}",
             "--can-option", f"port={site.socketcand.port}",
             "--duration", "60", "--refresh", "0.5"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(4.0)  # the first cycle has been heard
        site.socketcand.close()
        started = time.monotonic()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_NO_REPLY, err
    assert time.monotonic() - started < DEFAULT_SILENCE_LIMIT_S + 10
    assert "went away" in err and "Traceback" not in err
