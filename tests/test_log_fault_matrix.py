"""The fault matrix of docs/troubleshooting.md, through the real CLI: no traceback, ever.

Each row of the matrix is one case here (its id is in the table's last
column): the command an installer would type, the exit code the doc
promises, and a phrase the user sees. Every simulator fault scenario runs
through `scan` as well. None may print "Traceback".
"""

from __future__ import annotations

import gzip
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from active_cli.sim.scenario import load_scenario
from tests.conftest import CliResult

DOC = Path(__file__).resolve().parent.parent / "docs" / "troubleshooting.md"


@dataclass(frozen=True)
class Fault:
    args: Callable[[Path], list[str]]
    exit_code: int
    says: str


def write(name: str, content: bytes | str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


GOOD_LOG = "(1700000000.000123) can0 356#7A13F2FE6B01\n"


def decode(make: Callable[[Path], Path], *extra: str) -> Callable[[Path], list[str]]:
    return lambda folder: ["log", "decode", str(make(folder)), *extra]


def cut_gz(folder: Path) -> Path:
    data = gzip.compress((GOOD_LOG * 4000).encode())
    path = folder / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


def same_file(folder: Path) -> list[str]:
    path = write("cap.log", GOOD_LOG)(folder)
    return ["log", "decode", str(path), "-o", str(path)]


def existing_capture(folder: Path) -> list[str]:
    path = write("cap.log", GOOD_LOG)(folder)
    return ["log", "capture", str(path), "--sim", "healthy-4", "-d", "0.3"]


def full_disk(folder: Path) -> list[str]:
    path = folder / "full.log"
    path.symlink_to("/dev/full")
    return ["log", "capture", str(path), "--force", "--sim", "healthy-4", "-d", "1.2"]


def refused_socketcand(folder: Path) -> list[str]:
    port = free_port()
    return [
        "log",
        "capture",
        str(folder / "cap.log"),
        "--interface",
        "socketcand",
        "--channel",
        "can0",
        "--can-option",
        "host=127.0.0.1",
        "--can-option",
        f"port={port}",
    ]


FAULTS: dict[str, Fault] = {
    "candump-unreadable-frame": Fault(
        decode(write("bad.log", "(1700000000.1) can0 351##\n")), 4, "bad candump frame"
    ),
    "gz-corrupted": Fault(
        decode(write("bad.log.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 64)), 4, "bad.log.gz"
    ),
    "gz-cut-off": Fault(decode(cut_gz), 4, "file ends in the middle of a record"),
    "rs485-time-out-of-range": Fault(
        decode(write("bad.rs485", "0001-01-01T00:00:00 TX ~20024642E00202FD33\n")), 4, "bad time"
    ),
    "rs485-not-ascii": Fault(
        decode(write("bad.rs485", b"\xff\xfe binary\n")), 4, "not an RS485 capture"
    ),
    "unknown-log-suffix": Fault(decode(write("cap.txt", GOOD_LOG)), 4, "unknown CAN log format"),
    "decode-onto-its-input": Fault(same_file, 2, "would destroy the capture"),
    "capture-file-exists": Fault(existing_capture, 2, "already exists"),
    "capture-folder-gone": Fault(
        lambda folder: ["log", "capture", str(folder / "gone" / "c.log"), "--sim", "healthy-4"],
        5,
        "could not write",
    ),
    "disk-full": Fault(full_disk, 5, "No space left"),
    "socketcand-refused": Fault(refused_socketcand, 3, "cannot reach the socketcand server"),
    "replay-damaged": Fault(
        lambda folder: ["scan", "--replay", str(write("bad.log", "(1.0) can0 351##\n")(folder))],
        4,
        "351##",
    ),
}


@pytest.mark.parametrize("case", FAULTS.values(), ids=FAULTS.keys())
def test_each_fault_is_one_line_with_its_exit_code(
    run_cli: Callable[..., CliResult], tmp_path: Path, case: Fault
) -> None:
    if "disk-full" in str(case.args) and not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    result = run_cli(*case.args(tmp_path))
    assert result.exit_code == case.exit_code, result.stderr
    assert case.says in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


FAULT_SCENARIOS = [
    "checksum-errors",
    "noisy-line",
    "stop-answering",
    "duplicate-address",
    "dead-sensor",
    "cell-overvoltage",
    "wrong-bitrate",
    "silent-inverter",
]


@pytest.mark.skipif(os.name != "posix", reason="the simulator's pty: POSIX")
@pytest.mark.parametrize("scenario", FAULT_SCENARIOS)
def test_every_simulated_fault_scans_without_a_traceback(
    run_cli: Callable[..., CliResult], scenario: str
) -> None:
    load_scenario(scenario)  # the scenario exists
    result = run_cli("scan", "--sim", scenario)
    assert result.exit_code in (0, 1, 3), result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_every_matrix_row_names_a_case_here() -> None:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ")]
    named = {m.group(1) for line in rows for m in re.finditer(r"`case:([a-z0-9-]+)`", line)}
    assert named, "the fault matrix names its test cases as `case:NAME`"
    known = set(FAULTS) | {
        "babbling-line",
        "late-replies",
        "port-in-use",
        "no-can-config",
        "gateway-died",
        "frames-dropped",
        "sigterm",
        "sigkill",
        "blf-cut",
        "hostile-text",
        "long-lines",
    }
    assert named <= known, named - known
    assert set(FAULTS) <= named, set(FAULTS) - named
