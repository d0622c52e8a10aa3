"""`active scan` end to end: the real entry point, the simulator, the exit codes.

Scenarios run through `--sim FILE`, where FILE is the built-in scenario with
the RS485 line raised to 115200 baud (the same packs and faults; only the wire
is faster, so the whole file stays quick). A port where nothing answers is a
loopback TCP listener that never replies; an unplugged adapter is a device
path that does not exist.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest

from tests.conftest import CliResult

Run = Callable[..., CliResult]


@pytest.fixture
def fast(tmp_path: Path) -> Callable[[str], str]:
    """A built-in scenario at 115200 baud, as a file `--sim` accepts."""

    def make(name: str) -> str:
        text = (resources.files("active_cli.sim") / "scenarios" / f"{name}.toml").read_text()
        path = tmp_path / f"{name}.toml"
        path.write_text(text + "\n[rs485]\nbaud = 115200\n", encoding="utf-8")
        return str(path)

    return make


@pytest.fixture
def mute_port() -> Iterator[str]:
    """socket://127.0.0.1:PORT on which a connection opens but nothing ever answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        # The kernel completes the handshake from the backlog; nobody reads or writes.
        yield f"socket://127.0.0.1:{server.getsockname()[1]}"


def codes(result: CliResult) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in result.json()["findings"]}


def test_healthy_1_prints_the_pack_table_summary_and_findings(run_cli: Run) -> None:
    # The built-in scenario itself, at its own 9600 baud (one pack: still quick).
    result = run_cli("scan", "--sim", "healthy-1")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Packs" in out and "ACT16" in out and "1.3.0" in out
    assert "RS485: simulator (healthy-1) at 9600 baud" in out
    assert "Master at address 1 reports 1 pack(s)" in out
    assert "inverter heartbeat 0x305: every 1.00 s" in out
    assert "1 pack(s) answered at address(es) 1" in out
    assert "FAIL" not in out
    assert out.rstrip().splitlines()[-1] == "OK: 1 pack(s) answered, nothing failed"


def test_healthy_16_json_is_the_whole_snapshot(run_cli: Run, fast: Callable[[str], str]) -> None:
    result = run_cli("scan", "--sim", fast("healthy-16"), "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert set(data) >= {
        "packs",
        "addresses",
        "group_count",
        "master_address",
        "noise_bytes",
        "can",
        "findings",
        "port",
        "baud",
        "can_interface",
        "duration_s",
    }
    assert [p["address"] for p in data["packs"]] == list(range(1, 17))
    assert data["group_count"] == 16 and data["master_address"] == 1
    assert data["baud"] == 115200
    assert {p["firmware"] for p in data["packs"]} == {"1.3.0"}
    assert len({p["serial"] for p in data["packs"]}) == 16
    assert all(len(p["cell_voltages_v"]) == 16 and p["alarm_read"] for p in data["packs"])
    assert data["addresses"][16] == {
        "address": 17,
        "status": "not polled",
        "requests": 0,
        "replies": 0,
        "timeouts": 0,
        "corrupted": 0,
        "detail": "the master reports 16 pack(s), all answered",
        "error_rate": 0.0,
    }
    assert data["can"]["state"]["module_count"] == 16
    assert data["can"]["heartbeat_count"] >= 2
    assert {f["severity"] for f in data["findings"]} <= {"ok", "info"}


def test_duplicate_address_fails(run_cli: Run, fast: Callable[[str], str]) -> None:
    result = run_cli("scan", "--sim", fast("duplicate-address"), "--addresses", "1-6", "--json")
    assert result.exit_code == 1
    found = codes(result)
    assert found["scan.duplicate-address"] == "fail"
    assert found["scan.master-count"] == "fail"
    statuses = {a["address"]: a["status"] for a in result.json()["addresses"]}
    assert statuses[2] == "garbled" and statuses[3] == "silent"


def test_noisy_line_reads_every_pack_and_reports_the_noise(
    run_cli: Run, fast: Callable[[str], str]
) -> None:
    result = run_cli("scan", "--sim", fast("noisy-line"), "--json")
    assert result.exit_code == 0, result.stdout
    data = result.json()
    assert [p["address"] for p in data["packs"]] == [1, 2]
    assert data["noise_bytes"] > 0
    assert codes(result)["link.noise"] == "warn"
    retried = sum(a["timeouts"] + a["corrupted"] for a in data["addresses"])
    assert retried > 0 and codes(result)["link.errors"] == "warn"


def test_cell_overvoltage_fails_on_the_pack_and_on_can(
    run_cli: Run, fast: Callable[[str], str]
) -> None:
    result = run_cli("scan", "--sim", fast("cell-overvoltage"))
    assert result.exit_code == 1
    out = " ".join(result.stdout.split())  # the findings table wraps long titles
    assert "Cell 9 of pack 2 at 3.700 V: over-voltage protection" in out
    assert "Pack 2 BMS protection" in out
    assert "Battery protection raised" in out  # check protocol's own words: one rule
    # The verdict line ends the output (it replaced "N finding(s) failed").
    assert out.rstrip().endswith("see the findings)")
    assert "\nFAIL: Cell 9 of pack 2 at 3.700 V: over-voltage protection" in result.stdout


def test_silent_inverter_warns_without_failing(run_cli: Run, fast: Callable[[str], str]) -> None:
    result = run_cli("scan", "--sim", fast("silent-inverter"), "--can-window", "2", "--json")
    assert result.exit_code == 0
    data = result.json()
    assert data["can"]["heartbeat_count"] == 0
    assert data["can"]["state"]["protocol"] == "pylon-v1.2"
    assert codes(result)["can.heartbeat"] == "warn"


FIXTURES = Path(__file__).parent / "fixtures" / "logs"


@pytest.mark.parametrize(("expect", "exit_code", "severity"), [("6", 0, "ok"), ("9", 1, "fail")])
def test_expect_is_checked_against_the_can_module_count(
    run_cli: Run, expect: str, exit_code: int, severity: str
) -> None:
    # The capture's master reports 6 modules (0x359 byte 4); only CAN is read.
    # `--expect 9` used to exit 0: the count was compared with RS485 packs only.
    log = str(FIXTURES / "us5000.log")
    result = run_cli("scan", "--replay", log, "--expect", expect, "--json")
    assert result.exit_code == exit_code, result.stderr
    assert codes(result)["can.module-count"] == severity


def test_port_where_nothing_answers_exits_3_with_a_hint(run_cli: Run, mute_port: str) -> None:
    result = run_cli("scan", "--port", mute_port, "--addresses", "1-3")
    assert result.exit_code == 3
    assert "No pack answered" in result.stdout
    assert "error: No pack answered (polled address(es) 1–3 at 9600 baud)" in result.stderr
    hint = result.stderr.split("hint:", 1)[1]
    for word in ("A/B", "--baud 115200", "--addresses", "adapter"):
        assert word in hint


def test_port_where_nothing_answers_json(run_cli: Run, mute_port: str) -> None:
    result = run_cli("scan", "--port", mute_port, "--addresses", "1,2", "--json")
    assert result.exit_code == 3
    data = result.json()
    assert data["packs"] == []
    assert [a["status"] for a in data["addresses"]] == ["silent", "silent"]
    assert codes(result) == {"scan.no-packs": "fail"}


def test_unplugged_adapter_is_one_line_and_exit_3(run_cli: Run) -> None:
    result = run_cli("scan", "--port", "/dev/ttyUSB99")
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: cannot open /dev/ttyUSB99")
    assert lines[1].startswith("hint: is the adapter plugged in?")
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--port", "/dev/null", "--addresses", "1-x"),
        ("--interface", "virtual", "--can-option", "no-equals-sign"),
    ],
)
def test_usage_errors_exit_2(run_cli: Run, args: tuple[str, ...]) -> None:
    result = run_cli("scan", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_can_options_are_typed_for_python_can() -> None:
    from active_cli.cli.connect import parse_can_options

    assert parse_can_options(
        ["host=127.0.0.1", "port=29536", "tcp_tune=true", "timeout=0.5", "index = 0"]
    ) == (
        ("host", "127.0.0.1"),
        ("port", 29536),
        ("tcp_tune", True),
        ("timeout", 0.5),
        ("index", 0),
    )
    assert parse_can_options(None) == ()


def test_healthy_16_fits_80_columns_piped(
    run_cli: Run, fast: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Piped output used to be 140 columns wide; now it is 80, and nothing is cut.
    monkeypatch.delenv("COLUMNS", raising=False)
    result = run_cli("scan", "--sim", fast("healthy-16"), "--can-window", "1.5", "--json")
    serials = [p["serial"] for p in result.json()["packs"]]
    assert len(serials) == 16
    out = run_cli("scan", "--sim", fast("healthy-16"), "--can-window", "1.5").stdout
    lines = out.splitlines()
    # The connection line names the scenario file: a path is never broken.
    assert max(len(line) for line in lines if not line.startswith("RS485: ")) <= 80
    for serial in serials:
        assert sum(serial in line for line in lines) == 1, serial
    assert " ".join(out.split()).endswith("OK: 16 pack(s) answered, nothing failed")
