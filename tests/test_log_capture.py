"""Capturing: CAN from python-can's in-process virtual bus, RS485 from a loopback.

The CAN side records what another node sends on a ``virtual`` channel into
each log format and reads it back with the decoder's reader. The RS485 side
listens on pyserial's ``loop://`` (what the test writes is what the port reads)
and on a pty pair, as it would next to an inverter: it must write nothing.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import can
import pytest
import serial

from active_cli.errors import LinkError, UsageError
from active_cli.links.can_link import CanOptions
from active_cli.links.capture import Capture, CaptureCounts
from active_cli.logs.can_reader import CanLogReader
from active_cli.logs.rs485_log import Rs485LogReader
from active_cli.sim.traffic import pylon_v12_traffic

FRAMES = list(pylon_v12_traffic(2, 21))


def channel_name() -> str:
    return f"capture-{uuid.uuid4().hex[:8]}"


def send_later(channel: str, delay_s: float = 0.05) -> threading.Thread:
    """Another node on the virtual bus sends FRAMES, starting shortly after."""

    def run() -> None:
        time.sleep(delay_s)
        with can.Bus(interface="virtual", channel=channel) as bus:
            for frame in FRAMES:
                bus.send(
                    can.Message(
                        arbitration_id=frame.arbitration_id, data=frame.data, is_extended_id=False
                    )
                )
                time.sleep(0.001)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("suffix", [".log", ".asc", ".blf", ".csv", ".trc", ".log.gz"])
def test_can_capture_in_every_format_reads_back(tmp_path: Path, suffix: str) -> None:
    channel = channel_name()
    path = tmp_path / f"capture{suffix}"
    with Capture(can_path=path, can_options=CanOptions(interface="virtual", channel=channel)) as c:
        sender = send_later(channel)
        # Long enough for the writer thread to start on a loaded machine too
        # (0.4 s once caught none of the frames sent 50 ms in).
        summary = c.run(1.5)
    sender.join()
    assert summary.can_frames == len(FRAMES)
    assert summary.stopped_by == "duration"
    assert summary.can_path == str(path)
    with CanLogReader(path) as reader:
        back = [(f.arbitration_id, f.data) for f in reader]
    assert back == [(f.arbitration_id, f.data) for f in FRAMES]


def test_ctrl_c_ends_the_capture_cleanly(tmp_path: Path) -> None:
    channel = channel_name()
    path = tmp_path / "capture.asc"
    ticks: list[int] = []

    def tick(counts: CaptureCounts) -> None:
        ticks.append(counts.can_frames)
        if counts.can_frames >= len(FRAMES):
            raise KeyboardInterrupt  # what the terminal sends on Ctrl-C

    with Capture(can_path=path, can_options=CanOptions(interface="virtual", channel=channel)) as c:
        sender = send_later(channel)
        summary = c.run(None, on_tick=tick, tick_s=0.02)
    sender.join()
    assert summary.stopped_by == "interrupt"
    assert summary.can_frames == len(FRAMES)
    assert ticks[0] == 0 and ticks[-1] == len(FRAMES)
    with CanLogReader(path) as reader:  # closed properly: the ASC footer is there
        assert len(list(reader)) == len(FRAMES)
    assert path.read_text().rstrip().endswith("End TriggerBlock")


class _FailingBus(can.BusABC):
    """A bus whose adapter has been unplugged."""

    def __init__(self) -> None:
        super().__init__(channel="gone")

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        raise can.CanOperationError("device disconnected")

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        raise can.CanOperationError("device disconnected")


def test_a_bus_failing_mid_capture_is_a_link_error(tmp_path: Path) -> None:
    bus = _FailingBus()
    with (
        pytest.raises(LinkError, match="device disconnected"),
        Capture(can_path=tmp_path / "x.log", bus=bus) as c,
    ):
        c.run(2.0)
    bus.shutdown()


def test_bad_options_fail_before_anything_is_opened(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="CAN log format"):
        Capture(can_path=tmp_path / "x.txt")
    with pytest.raises(UsageError, match="--port"):
        Capture(rs485_path=tmp_path / "x.rs485")
    with (
        pytest.raises(LinkError),
        Capture(can_path=tmp_path / "x.log", can_options=CanOptions(interface="no-such-interface")),
    ):
        pass
    with (
        pytest.raises(LinkError),
        Capture(rs485_path=tmp_path / "x.rs485", port_url="/dev/no-such-port"),
    ):
        pass


# --- RS485 ----------------------------------------------------------------------------

REQUEST = b"~20024642E00202FD33\r"
RESPONSE = (
    b"~20024600C06E10020F0C9A0C980C990C980C9A0C9A0C990C9B0C9C0C9A0C9B0C9B0C9B0C9B0C99"
    b"050B740B550B570B530B630000BD06190F02C3500084E545\r"
)
BROKEN = b"~20024642E00202FD34\r"


class ListenOnly:
    """A loop:// port that fails the test if anything is written to it."""

    def __init__(self, data: bytes) -> None:
        self._port = serial.serial_for_url("loop://", timeout=0.02)
        self._port.write(data)
        self.timeout = self._port.timeout

    @property
    def in_waiting(self) -> int:
        return int(self._port.in_waiting)

    def read(self, size: int = 1) -> bytes:
        return bytes(self._port.read(size))

    def write(self, data: bytes, /) -> int | None:
        raise AssertionError("a capture must never write to the line")

    def reset_input_buffer(self) -> None:
        raise AssertionError("a capture must not drop what it hears")

    def close(self) -> None:
        self._port.close()


def test_rs485_sniffing_logs_each_frame_with_its_direction(tmp_path: Path) -> None:
    path = tmp_path / "line.rs485"
    port = ListenOnly(b"\x00\xff" + REQUEST + RESPONSE + b"\n" + BROKEN + b"~2002")
    before = datetime.now().astimezone()
    with Capture(rs485_path=path, port=port) as c:
        summary = c.run(1.0)
    after = datetime.now().astimezone()
    assert (summary.rs485_frames, summary.rs485_bad_frames) == (3, 1)
    assert summary.rs485_noise_bytes == 3  # two bytes before the first ~, the LF
    with Rs485LogReader(path) as reader:
        records = list(reader)
    assert [(r.direction, r.frame) for r in records] == [
        ("TX", REQUEST),
        ("RX", RESPONSE),
        ("??", BROKEN),
    ]
    assert all(before <= r.timestamp <= after for r in records)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# active rs485 capture 1:")
    assert lines[-1] == (
        "# end: 3 frames, 3 noise bytes, 0 abandoned frames, 5 bytes of an unfinished frame"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="pty pairs are POSIX")
def test_rs485_capture_from_a_pty_and_can_at_once(tmp_path: Path) -> None:
    master, slave = os.openpty()
    slave_path = os.ttyname(slave)
    channel = channel_name()

    def write_line() -> None:
        time.sleep(0.1)
        os.write(master, REQUEST)
        time.sleep(0.05)
        os.write(master, RESPONSE)

    rs485_path, can_path = tmp_path / "line.rs485", tmp_path / "bus.log"
    try:
        with Capture(
            can_path=can_path,
            can_options=CanOptions(interface="virtual", channel=channel),
            rs485_path=rs485_path,
            port_url=slave_path,
            baud=9600,
        ) as c:
            writer = threading.Thread(target=write_line, daemon=True)
            writer.start()
            sender = send_later(channel)
            summary = c.run(1.5)  # room for the writer thread on a loaded machine
        writer.join()
        sender.join()
    finally:
        os.close(master)
        os.close(slave)
    assert (summary.rs485_frames, summary.can_frames) == (2, len(FRAMES))
    with Rs485LogReader(rs485_path) as reader:
        assert [r.direction for r in reader] == ["TX", "RX"]
    assert f"port={slave_path} baud=9600" in rs485_path.read_text().splitlines()[0]
