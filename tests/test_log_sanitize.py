"""Text from the bus never acts on the terminal: `decode` tables, `log decode` CSV.

Issue 19, item 3: a serial (0x93) or the CAN 0x35E text reached the terminal
raw: ``ESC[2J`` cleared the screen, ``ESC]0;...BEL`` set the window title.
Tables and CSV now show such characters as ``\\x1b``; JSON keeps the exact
value, escaped (``\\u001b``), so a program reading it gets what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from active_cli.logs.rs485_log import Rs485LogWriter, Rs485Record
from active_cli.protocols import pylon_rs485 as rs
from tests.conftest import CliResult

HOSTILE = "\x1b[2J\x1b]0;owned\x07AB\x9b31m"
CLEAR_SCREEN = "\x1b[2J"


def serial_reply(adr: int, serial: str) -> bytes:
    info = rs.SerialNumber(adr, serial).to_info()
    return rs.Frame(rs.VER_PYLON, adr, rs.CID1_BATTERY, int(rs.Rtn.NORMAL), info).encode()


def no_raw_controls(text: str) -> bool:
    return not any((ord(c) < 0x20 and c not in "\n") or 0x7F <= ord(c) <= 0x9F for c in text)


def test_decode_rs485_table_shows_a_hostile_serial_escaped(
    run_cli: Callable[..., CliResult],
) -> None:
    frame = serial_reply(2, "\x1b[2JAB").decode("ascii").rstrip("\r")
    result = run_cli("decode", "rs485", frame, "--command", "93")
    assert result.exit_code == 0, result.stderr
    assert CLEAR_SCREEN not in result.stdout
    assert "\\x1b[2JAB" in result.stdout


def test_decode_can_0x35e_text_is_escaped_in_the_table_exact_in_json(
    run_cli: Callable[..., CliResult],
) -> None:
    result = run_cli("decode", "can", "35E", "1B5B324A41424344")
    assert result.exit_code == 0, result.stderr
    assert CLEAR_SCREEN not in result.stdout
    assert "\\x1b[2JABCD" in result.stdout


def write_capture(path: Path, serial: str) -> None:
    stamp = datetime(2026, 11, 25, 16, 45, 1).astimezone()
    with path.open("w", encoding="ascii", newline="\n") as f:
        writer = Rs485LogWriter(f)
        writer.header(port="test", baud=9600)
        request = rs.build_request(rs.Command.SERIAL_NUMBER, 2, info=bytes([2]))
        writer.write(Rs485Record(stamp, "TX", request))
        writer.write(Rs485Record(stamp, "RX", serial_reply(2, serial)))


def test_log_decode_csv_escapes_text_from_the_bus(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    capture = tmp_path / "cap.rs485"
    write_capture(capture, "\x1b[2JAB\x7f")
    result = run_cli("log", "decode", str(capture))
    assert result.exit_code == 0, result.stderr
    assert no_raw_controls(result.stdout)
    assert "\\x1b[2JAB\\x7f" in result.stdout


def test_log_decode_jsonl_keeps_the_exact_value_escaped(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    capture = tmp_path / "cap.rs485"
    write_capture(capture, "\x1b[2JAB\x7f")
    out = tmp_path / "out.jsonl"
    result = run_cli("log", "decode", str(capture), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert no_raw_controls(text)
    serials = [
        v
        for line in text.splitlines()
        for k, v in json.loads(line)["signals"].items()
        if k.endswith("serial")
    ]
    assert serials == ["\x1b[2JAB\x7f"]


def test_a_candump_channel_name_with_escapes_is_escaped_in_csv(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    log = tmp_path / "cap.log"
    # candump channels are one token: no space, but anything else may be there.
    log.write_bytes(b"(1700000000.000123) can\x1b[2J0 356#7A13F2FE6B01\n")
    result = run_cli("log", "decode", str(log))
    assert result.exit_code == 0, result.stderr
    assert CLEAR_SCREEN not in result.stdout
    assert "can\\x1b[2J0" in result.stdout


def test_hostile_text_round_trip_constant() -> None:
    # The sanitiser is the shared one: C1 CSI (0x9B) is caught too.
    from active_cli.sanitize import printable

    assert no_raw_controls(printable(HOSTILE))
