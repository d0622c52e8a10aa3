"""Damaged logs end in one line and exit 4, never a traceback; memory stays flat.

Issue 19, item 7 (deliver 6): a candump line ``351##`` (IndexError inside
python-can), a corrupted ``.log.gz`` (zlib.error), a ``.trc`` with
``STARTTIME=1e400`` (OverflowError) and an ``.rs485`` line stamped
``0001-01-01T00:00:00`` (year 0 after the local-time shift) each gave a
traceback, in `log decode` and in `scan --replay`. Item 9: a truncated
``.blf`` decoded 34 of 132 frames with exit 0. Item 10 (deliver 8): a file
without a newline grew the process to twice its size.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import can
import pytest

from active_cli.sim.traffic import pylon_v12_traffic, write_candump
from tests.conftest import CliResult
from tests.peak_memory import peak_rss_kb


def candump_351_hash_hash(path: Path) -> Path:
    path = path / "bad.log"
    path.write_text("(1700000000.000123) can0 356#7A13F2FE6B01\n(1700000000.100000) can0 351##\n")
    return path


def corrupted_gz(path: Path) -> Path:
    path = path / "bad.log.gz"
    body = "(1700000000.000123) can0 356#7A13F2FE6B01\n" * 2000
    data = bytearray(gzip.compress(body.encode()))
    data[40:60] = b"\xff" * 20
    path.write_bytes(bytes(data))
    return path


def trc_infinite_start(path: Path) -> Path:
    good = path / "good.trc"
    with can.Logger(str(good)) as writer:
        for n in range(3):
            writer.on_message_received(
                can.Message(timestamp=1.7e9 + n, arbitration_id=0x356, data=bytes(8))
            )
    bad = path / "bad.trc"
    lines = good.read_text().splitlines(keepends=True)
    bad.write_text(
        "".join(";$STARTTIME=1e400\n" if x.startswith(";$STARTTIME") else x for x in lines)
    )
    return bad


def rs485_year_one(path: Path) -> Path:
    path = path / "bad.rs485"
    path.write_text("0001-01-01T00:00:00 TX ~20024642E00202FD33\n")
    return path


DAMAGED = {
    "candump-351##": candump_351_hash_hash,
    "corrupted-gz": corrupted_gz,
    "trc-starttime-1e400": trc_infinite_start,
    "rs485-year-1": rs485_year_one,
}


@pytest.mark.parametrize("make", DAMAGED.values(), ids=DAMAGED.keys())
def test_log_decode_of_a_damaged_file_is_one_line_and_exit_4(
    run_cli: Callable[..., CliResult], tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    path = make(tmp_path)
    result = run_cli("log", "decode", str(path))
    assert result.exit_code == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert path.name in result.stderr


@pytest.mark.parametrize("make", DAMAGED.values(), ids=DAMAGED.keys())
def test_scan_replay_of_a_damaged_file_is_exit_4(
    run_cli: Callable[..., CliResult], tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    path = make(tmp_path)
    result = run_cli("scan", "--replay", str(path))
    assert result.exit_code == 4, result.stderr
    assert "Traceback" not in result.stderr


def write_blf(path: Path, frames: int) -> None:
    # Small containers, as a long capture has many.
    writer = can.BLFWriter(str(path), max_container_size=1024)
    for frame in pylon_v12_traffic(3, frames):
        writer.on_message_received(
            can.Message(
                timestamp=frame.timestamp,
                arbitration_id=frame.arbitration_id,
                data=frame.data,
                is_extended_id=False,
            )
        )
    writer.stop()


def test_a_truncated_blf_ends_with_a_finding_and_exit_4(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    whole = tmp_path / "whole.blf"
    write_blf(whole, 132)
    assert run_cli("log", "decode", str(whole)).exit_code == 0
    cut = tmp_path / "cut.blf"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    result = run_cli("log", "decode", str(cut))
    assert result.exit_code == 4, result.stderr
    assert "file ends in the middle of a record after" in result.stderr
    assert "0x356" in result.stdout  # the frames before the cut were decoded


def test_a_truncated_gz_ends_with_a_finding_and_exit_4(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    body = "(1700000000.000123) can0 356#7A13F2FE6B01\n" * 5000
    data = gzip.compress(body.encode())
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(data[: len(data) // 2])
    result = run_cli("log", "decode", str(cut))
    assert result.exit_code == 4, result.stderr
    assert "file ends in the middle of a record after" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS from /proc: Linux")
@pytest.mark.parametrize("suffix", [".log", ".rs485", ".asc"])
def test_a_file_without_newlines_does_not_grow_memory(tmp_path: Path, suffix: str) -> None:
    small = tmp_path / f"small{suffix}"
    small.write_bytes(b"x")
    big = tmp_path / f"big{suffix}"
    with big.open("wb") as f:
        block = b"A" * (1 << 20)
        for _ in range(96):
            f.write(block)
    baseline = run_rss(small)
    peak = run_rss(big)
    # The old readers held the whole 96 MiB line (and its decoded copy).
    assert peak < baseline + 24 * 1024, (baseline, peak)


def run_rss(path: Path) -> int:
    return peak_rss_kb([sys.executable, "-m", "active_cli", "log", "decode", str(path)])


def test_over_long_lines_are_skipped_and_counted(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "mixed.log"
    write_candump(path, pylon_v12_traffic(1, 20))
    with path.open("a") as f:
        f.write("X" * 200_000 + "\n")
    write_candump(tmp_path / "more.log", pylon_v12_traffic(2, 20))
    with path.open("a") as f:
        f.write((tmp_path / "more.log").read_text())
    result = run_cli("log", "decode", str(path))
    assert result.exit_code == 0, result.stderr
    assert "40 frames read" in result.stderr
    assert "1 line(s) longer than" in result.stderr


def test_a_crafted_blf_inner_object_does_not_hang() -> None:
    """Found by benches/fuzz.py: python-can's BLFReader spins forever on an inner
    object of size 0 and an unknown header version; the reader gives up on it."""
    from active_cli.logs.can_reader import BLF_STALL_S

    fixture = Path(__file__).resolve().parent / "fixtures" / "blf-inner-loop.blf"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "active_cli", "log", "decode", str(fixture)],
            capture_output=True,
            text=True,
            timeout=BLF_STALL_S + 20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("log decode did not end")
    assert proc.returncode == 4, proc.stderr
    assert "made no progress" in proc.stderr and "Traceback" not in proc.stderr
