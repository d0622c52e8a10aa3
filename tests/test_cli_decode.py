"""`active decode` end to end: tables, JSON with units, and one-line errors with exit 4."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import CliResult, run_active_subprocess

R9 = (
    "~20024600C06E10020F0C9A0C980C990C980C9A0C9A0C990C9B0C9C0C9A0C9B0C9B0C9B0C9B0C99"
    "050B740B550B570B530B630000BD06190F02C3500084E545"
)
R10_REQUEST, R10_REPLY = (
    "~20024693E00202FD2D",
    "~20024600C0220248505443523033313731313132353930F6D2",
)
X1 = (
    "~20024600B07E1102100CE40CE50CE60CE70CE80CE90CEA0CEB0CEC0CED0CEE0CEF0CF00CF10CF20CF3"
    "050BAF0BA50BA50BA60BA7007BCEA4FFFF04FFFF000C0138800186A0E087"
)

Run = Callable[..., CliResult]


def test_request_then_reply(run_cli: Run) -> None:
    result = run_cli("decode", "rs485", R10_REQUEST, R10_REPLY, "--json")
    assert result.exit_code == 0, result.stderr
    request, reply = result.json()["result"]  # a list sits under "result" (docs/json.md)
    assert request["kind"] == "request" and request["command"] == "SERIAL_NUMBER (0x93)"
    assert reply["payload"]["serial"] == "HPTCR03171112590"
    assert reply["command_guessed"] is False


def test_lone_reply_is_guessed_and_says_so(run_cli: Run) -> None:
    result = run_cli("decode", "rs485", X1)
    assert result.exit_code == 0
    assert "guessed from the INFO layout" in result.stdout
    assert "3.3, 3.301, 3.302" in result.stdout


def test_json_keys_carry_units(run_cli: Run) -> None:
    payload = run_cli("decode", "rs485", "--command", "42", X1, "--json").json()["payload"]
    pack = payload["packs"][0]
    assert pack["cell_voltages_v"][0] == pytest.approx(3.300)
    assert pack["temperatures_c"] == pytest.approx([26.0, 25.0, 25.0, 25.1, 25.2])
    assert pack["current_a"] == pytest.approx(12.3)
    assert pack["voltage_v"] == pytest.approx(52.9)
    assert pack["remaining_ah"] == pytest.approx(80.0)
    assert pack["soc_pct"] == pytest.approx(80.0)


def test_can_frame(run_cli: Run) -> None:
    result = run_cli("decode", "can", "356", "7A", "13", "F2", "FE", "6B", "01", "--json")
    decoded = result.json()["decoded"]
    assert decoded == {
        "voltage_v": pytest.approx(49.86),
        "current_a": pytest.approx(-27.0),
        "temp_c": pytest.approx(36.3),
        "voltage_scale": "0.01 V",
    }
    table = run_cli("decode", "can", "0x351", "1402C012C012C201")
    assert "charge_voltage_v" in table.stdout and "53.2" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("rs485", R9[:-1] + "6"), "bad CHKSUM: frame says E546, computed E545"),
        (("rs485", "20024642E00202FD33"), "~"),
        (("rs485", "~2002464"), ""),
        (("rs485", "~200246420000FDAX"), ""),
        (("rs485", "--command", "zz", R9), "--command"),
        (("can", "0x999", "00"), "0x999"),
        (("can", "356", "7A1"), "odd number of hex digits"),
        (("can", "356", "00" * 9), "at most 8 bytes"),
        (("can", "xyz", "00"), "not hexadecimal"),
    ],
)
def test_bad_input_is_one_line_and_a_documented_code(
    run_cli: Run, args: tuple[str, ...], message: str
) -> None:
    result = run_cli("decode", *args)
    assert result.exit_code in (2, 4), result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:")
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # Three frames: what was asked is wrong, not a frame (exit 2, not 4).
        (("rs485", R10_REQUEST, R10_REPLY, R9), "got 3"),
        # A command code is one byte.
        (("rs485", "--command", "1FF", R9), "00..FF"),
        (("rs485", "--command", "-1", R9), "00..FF"),
        (("rs485", "--command", "0x100", R9), "00..FF"),
    ],
)
def test_usage_mistakes_exit_2(run_cli: Run, args: tuple[str, ...], message: str) -> None:
    result = run_cli("decode", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:") and message in result.stderr


def test_decode_rs485_refuses_bad_counts_and_commands_as_usage_errors() -> None:
    from active_cli.errors import UsageError
    from active_cli.protocols.decode_text import decode_rs485

    with pytest.raises(UsageError, match="got 0"):
        decode_rs485([])
    with pytest.raises(UsageError, match="one byte"):
        decode_rs485([R9], 0x1FF)


def test_frame_errors_exit_4_in_a_real_process() -> None:
    result = run_active_subprocess("decode", "rs485", R9[:-1] + "6")
    assert result.exit_code == 4
    assert result.stderr.count("\n") <= 2 and "Traceback" not in result.stderr


def test_debug_lets_the_traceback_through() -> None:
    result = run_active_subprocess("--debug", "decode", "rs485", R9[:-1] + "6")
    assert result.exit_code != 0
    assert "Traceback" in result.stderr and "Error: bad CHKSUM" in result.stderr


def test_text_fits_80_columns_and_wraps_values_whole(run_cli: Run) -> None:
    result = run_cli("decode", "rs485", "--command", "42", X1)
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), result.stdout
    cells = " ".join(line.split("  ")[-1].strip() for line in lines if "3.3" in line)
    # Every cell voltage, each whole, in order, however the list wrapped.
    assert cells.replace(",", " ").split() == [f"{3.300 + i / 1000:g}" for i in range(16)]


def test_field_lines_put_a_long_field_name_on_its_own_line() -> None:
    from active_cli.cli.render_decode import MAX_FIELD_COLUMNS, field_lines

    long_name = "x" * (MAX_FIELD_COLUMNS + 1)
    lines = field_lines([("voltage_v", "53.2"), (long_name, "PPTAH0123456789ABCDEFG")], 40)
    assert lines == [
        "  voltage_v  53.2",
        "  " + long_name,
        "             PPTAH0123456789ABCDEFG",
    ]
