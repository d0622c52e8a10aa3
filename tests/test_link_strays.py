"""A reply is credited only to the request it answers: stray frames on RS485.

A frame whose ADR or CID1 does not match the request (a late reply to an
earlier request, another master's traffic) used to be returned as the reply,
so one pack's values landed under another address. The live link drops it,
counts it with the noise and reads on; a replayed capture does the same.
"""

from __future__ import annotations

import collections
import time
from datetime import datetime
from pathlib import Path

import pytest

from active_cli.errors import LinkTimeout
from active_cli.links.replay import ReplayLink, Rs485Recorder, read_rs485_capture
from active_cli.links.serial_link import SerialLink, stray_reason
from active_cli.logs.rs485_log import Rs485LogWriter, Rs485Record
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import Command


def reply(adr: int, info: bytes = b"\x01", *, cid1: int = rs.CID1_BATTERY) -> bytes:
    return rs.Frame(rs.VER_PYLON, adr, cid1, int(rs.Rtn.NORMAL), info).encode()


class ChunkPort:
    """A serial port that answers each write with scripted chunks, one per read."""

    in_waiting = 0

    def __init__(self, *answers: list[bytes]) -> None:
        self.timeout: float | None = 0.0
        self._answers = collections.deque(answers)
        self._chunks: collections.deque[bytes] = collections.deque()

    def write(self, data: bytes, /) -> int | None:
        self._chunks = collections.deque(self._answers.popleft() if self._answers else [])
        return len(data)

    def read(self, size: int = 1) -> bytes:
        if self._chunks:
            return self._chunks.popleft()
        time.sleep(min(self.timeout or 0.0, 0.002))
        return b""

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        pass


def link_for(*answers: list[bytes]) -> SerialLink:
    return SerialLink(ChunkPort(*answers), baud=115200, latency_budget_s=0.02)


LATE = reply(3, b"\x03")  # address 3's answer to an earlier request, heard late
OTHER_CID1 = reply(1, b"\x03", cid1=0x4A)  # another device class at the same ADR
REAL = reply(1, b"\x07")


@pytest.mark.parametrize(
    ("stray", "chunks"),
    [
        pytest.param(LATE, [LATE + REAL], id="one-chunk"),
        pytest.param(LATE, [LATE, REAL], id="two-chunks"),
        pytest.param(OTHER_CID1, [OTHER_CID1, REAL], id="other-cid1"),
    ],
)
def test_a_stray_frame_is_dropped_and_the_real_reply_taken(
    stray: bytes, chunks: list[bytes]
) -> None:
    link = link_for(chunks)
    frame = link.query(Command.ANALOG, 1)
    assert (frame.adr, frame.info) == (1, b"\x07")
    assert link.stats.stray_frames == 1 and link.stats.noise_bytes == len(stray)
    assert link.stats.address(1).replies == 1 and link.stats.address(1).corrupted == 0


def test_only_a_stray_is_no_reply() -> None:
    link = link_for([reply(3)], [reply(3)])
    with pytest.raises(LinkTimeout, match="frame\\(s\\) for another request"):
        link.query(Command.ANALOG, 1)
    assert link.stats.stray_frames == 2  # the retry heard the same stray again
    assert link.stats.address(1).timeouts == 2


@pytest.mark.parametrize("command", [Command.PROTOCOL_VERSION, Command.MANUFACTURER_INFO])
def test_a_request_to_adr_0_takes_the_masters_adr(command: Command) -> None:
    # Real clients ask 0x4F/0x51 at ADR 0; the master answers with its own ADR.
    link = link_for([reply(2)])
    assert link.query(command, 0).adr == 2
    assert link.stats.stray_frames == 0


def test_stray_reason_names_what_did_not_match() -> None:
    asked = rs.decode_frame(rs.build_request(Command.ANALOG, 4))
    assert stray_reason(asked, rs.decode_frame(reply(4))) is None
    assert "ADR 5" in (stray_reason(asked, rs.decode_frame(reply(5))) or "")
    assert "CID1 0x4A" in (stray_reason(asked, rs.decode_frame(reply(4, cid1=0x4A))) or "")


# ------------------------------------------------------------------- replay


def write_capture(path: Path, lines: list[tuple[str, bytes]]) -> Path:
    with open(path, "w", encoding="ascii", newline="\n") as f:
        writer = Rs485LogWriter(f)
        writer.header(port="test", baud=9600)
        for n, (direction, frame) in enumerate(lines):
            stamp = datetime.fromtimestamp(1_700_000_000 + n * 0.1).astimezone()
            writer.write(Rs485Record(stamp, direction, frame))  # type: ignore[arg-type]
    return path


def test_replay_reads_past_a_stray_as_the_live_link_did(tmp_path: Path) -> None:
    ask = rs.build_request(Command.ANALOG, 1)
    path = write_capture(
        tmp_path / "c.rs485",
        [("TX", ask), ("RX", reply(3, b"\x03")), ("RX", reply(1, b"\x07")), ("TX", ask)],
    )
    (first, second) = read_rs485_capture(path).exchanges
    assert first.reply == reply(3, b"\x03") and [f for f, _, _ in first.later] == [
        reply(1, b"\x07")
    ]
    assert second.reply is None and second.later == ()
    link = ReplayLink.from_file(path)
    assert link.query(Command.ANALOG, 1).info == b"\x07"
    assert link.stats.stray_frames == 1


def test_a_live_stray_is_recorded_and_replayed_alike(tmp_path: Path) -> None:
    path = tmp_path / "live.rs485"
    live = link_for([LATE, REAL])
    with Rs485Recorder(path, port="test", baud=115200) as recorder:
        recorder.attach(live)
        live_frame = live.query(Command.ANALOG, 1)
    replay = ReplayLink.from_file(path)
    assert replay.query(Command.ANALOG, 1) == live_frame
    assert replay.stats.stray_frames == live.stats.stray_frames == 1
    assert replay.stats.noise_bytes == live.stats.noise_bytes == len(LATE)
