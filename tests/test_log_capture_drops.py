"""Frames a capture could not write are counted and reported, never lost quietly.

Issue 19, item 4: under load `log capture` wrote 84-87 % of the frames and its
summary said nothing. The receiver now only queues; the writer writes; a
writer that cannot keep up overflows a bounded queue, and every frame that did
not reach the file is in ``can_dropped`` and in a warning. (The throughput
itself is measured in benches/capture_load.py: 4,000 frames/s, none lost.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import can

from active_cli.cli.log import _print_capture
from active_cli.links.can_capture import CanCapture
from active_cli.links.capture import CaptureSummary


class SlowWriter(can.Listener):
    """A stand-in for a disk that takes 2 ms per frame."""

    def __init__(self) -> None:
        self.frames = 0
        self.file = None

    def on_message_received(self, msg: can.Message) -> None:
        time.sleep(0.002)
        self.frames += 1

    def stop(self) -> None:
        pass


def test_a_writer_that_falls_behind_drops_and_counts(tmp_path: Path) -> None:
    channel = f"drops-{uuid.uuid4().hex[:8]}"
    writer = SlowWriter()
    with (
        can.Bus(interface="virtual", channel=channel) as bus,
        can.Bus(interface="virtual", channel=channel) as sender,
    ):
        capture = CanCapture(
            bus,
            tmp_path / "cap.log",
            queue_frames=20,
            writer=writer,  # type: ignore[arg-type]
        )
        for n in range(400):
            sender.send(can.Message(arbitration_id=0x356, data=n.to_bytes(2, "big")))
        time.sleep(0.3)
        capture.close()
    counts = capture.counts
    assert counts.received == 400
    assert counts.dropped > 0
    assert counts.written == writer.frames
    assert counts.written + counts.dropped == counts.received


def summary(**changes: object) -> CaptureSummary:
    base: dict[str, object] = {
        "can_path": "cap.log",
        "can_frames": 900,
        "rs485_path": None,
        "rs485_frames": 0,
        "rs485_bad_frames": 0,
        "rs485_noise_bytes": 0,
        "duration_s": 1.0,
        "stopped_by": "duration",
        "can_received": 1000,
        "can_dropped": 100,
    }
    base.update(changes)
    return CaptureSummary(**base)  # type: ignore[arg-type]


def test_the_summary_warns_of_dropped_frames(capsys: Callable[..., object]) -> None:
    _print_capture(summary(), False, "virtual", None)
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    assert "900 frames written" in captured.out
    assert "1000 received" in captured.out
    assert "100 of 1000 CAN frames received were not written" in captured.err
