"""`active doctor`: each site fault named first, the healthy line described, the pure rules."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from active_cli.model import Severity
from active_cli.procedures import doctor_can, doctor_rs485
from active_cli.procedures.doctor_can import judge_can, judge_resistance
from active_cli.procedures.doctor_rs485 import read_heard
from active_cli.protocols import pylon_rs485
from active_cli.protocols.pylon_rs485 import Command
from tests.conftest import CliResult

RunCli = Callable[..., CliResult]
# Short windows: one CAN period and a bit, four addresses.
FAST = ("--can-window", "1.2", "--addresses", "1-4", "--json")


@pytest.mark.parametrize(
    ("scenario", "cause", "exit_code"),
    [
        ("swapped-ab", doctor_rs485.SWAPPED_AB, 1),
        ("wrong-baud", doctor_rs485.WRONG_BAUD, 1),
        ("busy-gateway", doctor_rs485.GATEWAY_SILENT, 1),
        ("no-termination", doctor_can.BUS_ERRORS, 1),
        ("echo-adapter", doctor_rs485.ECHO, 0),
        ("duplicate-address", doctor_rs485.GARBLED_ADDRESS, 1),
    ],
)
def test_each_fault_scenario_is_named_first(
    run_cli: RunCli, scenario: str, cause: str, exit_code: int
) -> None:
    result = run_cli("doctor", "--sim", scenario, *FAST)
    data = result.json()
    first = data["findings"][0]
    assert first["code"] == cause, [f["code"] for f in data["findings"]]
    assert first["severity"] in ("fail", "warn")
    assert first["fix"]
    assert data["outcome"]["code"] == cause
    assert result.exit_code == exit_code
    assert data["command"] == "doctor"


def test_healthy_line_says_fine_and_what_it_found(run_cli: RunCli) -> None:
    result = run_cli("doctor", "--sim", "healthy-4", *FAST)
    data = result.json()
    assert result.exit_code == 0
    assert not data["failed"]
    assert {f["severity"] for f in data["findings"]} <= {"ok", "info"}
    assert data["rs485"]["baud"] == 9600
    assert data["rs485"]["variant"] == "pylon"
    assert data["rs485"]["addresses"] == [1, 2, 3, 4]
    text = data["outcome"]["text"]
    assert text.startswith("the line is fine")
    assert "9600 baud" in text and "VER 0x20" in text and "1, 2, 3, 4" in text


def test_healthy_text_output_ends_with_the_verdict(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one line per verdict, whatever it says
    result = run_cli("doctor", "--sim", "healthy-4", "--can-window", "1.2", "--addresses", "1-4")
    assert result.exit_code == 0
    assert result.stdout.strip().splitlines()[-1].startswith("OK: the line is fine")


def test_pace_variant_is_reported(run_cli: RunCli, tmp_path: Path) -> None:
    scenario = tmp_path / "pace.toml"
    scenario.write_text('name = "pace"\npacks = 2\n[rs485]\nprotocol = "pace"\n')
    data = run_cli("doctor", "--sim", str(scenario), *FAST).json()
    assert data["rs485"]["variant"] == "pace"
    assert "PACE protocol (VER 0x25)" in data["outcome"]["text"]


def test_wrong_baud_gives_the_rate_as_an_option(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    result = run_cli("doctor", "--sim", "wrong-baud", "--can-window", "1.2", "-a", "1-2")
    assert result.stdout.strip().splitlines()[-1].endswith("(--baud 115200)")


def test_meter_reading_of_120_ohm_is_one_missing_terminator(run_cli: RunCli) -> None:
    data = run_cli("doctor", "--sim", "healthy-4", "--meter-ohm", "120", *FAST).json()
    assert data["findings"][0]["code"] == doctor_can.METER
    assert data["findings"][0]["severity"] == "fail"
    assert data["can"]["resistance_ohm"] == 120


def test_a_port_that_does_not_exist(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("doctor", "--port", str(tmp_path / "ttyUSB9"), "--json")
    data = result.json()
    assert data["findings"][0]["code"] == doctor_rs485.PORT_MISSING
    assert result.exit_code == 3


def test_a_gateway_that_refuses_the_connection(run_cli: RunCli) -> None:
    with socket.socket() as s:  # a port nobody listens on: bound, then closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = run_cli("doctor", "--port", f"socket://127.0.0.1:{port}", "--json").json()
    assert data["findings"][0]["code"] == doctor_rs485.GATEWAY_REFUSED
    assert "one TCP client" in data["findings"][0]["detail"]


def test_nothing_named_is_a_usage_error(run_cli: RunCli) -> None:
    assert run_cli("doctor").exit_code == 2


# ---------------------------------------------------------------- pure rules


def test_read_heard_tells_inverted_frames_echoes_and_garbage() -> None:
    request = pylon_rs485.build_request(Command.PROTOCOL_VERSION, 1)
    reply = pylon_rs485.build_response(1, b"")
    inverted = bytes(b ^ 0xFF for b in reply)
    assert read_heard(inverted, [request]).inverted_frames == 1
    heard = read_heard(request + reply, [request])
    assert (heard.echoes, heard.frames) == (1, 1)
    garbage = read_heard(b"\x00\x80\xf8\xff" * 10, [request])
    assert garbage.frames == 0 and garbage.inverted_frames == 0 and garbage.noise_bytes == 40
    broken = read_heard(reply[:-2] + b"0\r", [request])
    assert broken.bad_frames == 1


def test_can_silence_and_error_frames() -> None:
    from active_cli.links.can_link import CanRecord

    silent = judge_can([], "can0", 2.5, None)
    assert silent.findings[0].code == doctor_can.SILENT
    errors = [CanRecord(0.1 * i, 0x88, b"", is_error_frame=True) for i in range(5)]
    only_errors = judge_can(errors, "can0", 2.5, "PASSIVE")
    assert [f.code for f in only_errors.findings] == [doctor_can.ERRORS_ONLY, doctor_can.BUS_STATE]


@pytest.mark.parametrize(
    ("ohm", "severity"),
    [
        (60.0, Severity.OK),
        (121.0, Severity.FAIL),
        (float("inf"), Severity.FAIL),
        (40.0, Severity.FAIL),
    ],
)
def test_resistance_readings(ohm: float, severity: Severity) -> None:
    assert judge_resistance(ohm).severity is severity


def test_an_inverter_profile_sets_what_is_expected(run_cli: RunCli) -> None:
    result = run_cli("doctor", "--sim", "healthy-1", "--inverter", "deye", *FAST)
    assert result.exit_code == 0
    assert result.json()["rs485"]["baud"] == 9600
