"""`active log capture` and `active log decode`, end to end through the real CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import can
import pytest
from can.interfaces.virtual import channels as virtual_bus_registry

from active_cli.sim.traffic import pylon_v12_traffic, write_candump
from tests.conftest import CliResult

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
CANDUMP = FIXTURES / "us5000.log"
RS485 = FIXTURES / "sniff.rs485"
Run = Callable[..., CliResult]


# --- decode -------------------------------------------------------------------------


def test_decode_prints_csv_and_a_summary(run_cli: Run) -> None:
    result = run_cli("log", "decode", str(CANDUMP))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (FIXTURES / "us5000.expected.csv").read_text()
    assert "20 frames read: 15 frames decoded, 1 did not decode" in result.stderr
    assert "0x123, 0x18FF50E5" in result.stderr


@pytest.mark.parametrize(("name", "flag"), [("out.jsonl", []), ("out.txt", ["--format", "jsonl"])])
def test_decode_jsonl_to_a_file(run_cli: Run, tmp_path: Path, name: str, flag: list[str]) -> None:
    out = tmp_path / name
    result = run_cli("log", "decode", str(CANDUMP), "-o", str(out), *flag)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 16  # 15 decoded + 1 that did not
    assert records[2]["signals"] == {"Voltage": 49.86, "Current": -27.0, "Temperature": 36.3}


def test_decode_filters(run_cli: Run) -> None:
    result = run_cli(
        "log", "decode", str(CANDUMP), "--id", "0x356", "--signal", "volt*", "--signal", "Current"
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:] == [
        "1700000000.004150,can0,0x356,BMS_Measurements,Voltage,49.86,V,",
        "1700000000.004150,can0,0x356,BMS_Measurements,Current,-27.0,A,",
        "1700000001.004110,can0,0x356,BMS_Measurements,Voltage,49.87,V,",
        "1700000001.004110,can0,0x356,BMS_Measurements,Current,-27.9,A,",
        '1700000001.270000,can0,0x356,BMS_Measurements,,,,"0x356 BMS_Measurements: 2 data bytes, '
        'needs at least 6"',
    ]


def test_decode_rs485(run_cli: Run) -> None:
    result = run_cli("log", "decode", str(RS485), "-s", "payload.serial", "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["message"] == "SERIAL_NUMBER (0x93) response"
    assert record["signals"] == {"payload.serial": "HPTCR03171112590"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--id", "xyz"], 2, "--id 'xyz'"),
        (["--format", "xml"], 2, "--format 'xml'"),
        (["--signal", "NoSuchSignal"], 2, "matches no signal"),
    ],
)
def test_decode_usage_errors(run_cli: Run, args: list[str], code: int, message: str) -> None:
    result = run_cli("log", "decode", str(CANDUMP), *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_decode_bad_files_exit_4_with_one_line(run_cli: Run, tmp_path: Path) -> None:
    missing = run_cli("log", "decode", str(tmp_path / "missing.log"))
    assert missing.exit_code == 4
    assert missing.stderr.startswith("error:") and "cannot read" in missing.stderr
    bad = tmp_path / "bad.log"
    bad.write_text("(1.0) can0 356#7A13F2FE6B01\nhello world\n")
    result = run_cli("log", "decode", str(bad))
    assert result.exit_code == 4
    assert "line 2" in result.stderr and "Traceback" not in result.stderr
    unknown = tmp_path / "capture.pcap"
    unknown.write_text("")
    result = run_cli("log", "decode", str(unknown))
    assert result.exit_code == 4 and "unknown CAN log format" in result.stderr


def test_decode_of_generated_traffic_matches_cantools_values(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "traffic.log"
    write_candump(path, pylon_v12_traffic(4, 700))
    result = run_cli("log", "decode", str(path), "-f", "jsonl", "--id", "356")
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 100
    import cantools

    from active_cli.resources import data_file

    db = cantools.database.load_file(data_file("dbc", "pylon_lv.dbc"))
    for record in records:
        want = db.decode_message(0x356, bytes.fromhex(record["data"]))
        assert record["signals"] == pytest.approx(want)


def test_decode_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    path = tmp_path / "traffic.log"
    write_candump(path, pylon_v12_traffic(4, 5_000))
    proc = subprocess.run(
        f'"{sys.executable}" -m active_cli log decode "{path}" | head -2',
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.stdout.splitlines()[0] == "timestamp,source,id,message,signal,value,unit,error"
    assert "Traceback" not in proc.stderr and "Broken pipe" not in proc.stderr


# --- capture ------------------------------------------------------------------------


def _send_on(channel: str, count: int) -> threading.Thread:
    frames = list(pylon_v12_traffic(9, count))

    def run() -> None:
        with can.Bus(interface="virtual", channel=channel) as bus:
            # A virtual bus keeps no history: send only once the CLI has joined
            # the channel (python-can lists the buses on each virtual channel).
            joined = virtual_bus_registry
            deadline = time.monotonic() + 20
            while len(joined.get(channel, ())) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            for frame in frames:
                bus.send(
                    can.Message(
                        arbitration_id=frame.arbitration_id, data=frame.data, is_extended_id=False
                    )
                )
                time.sleep(0.001)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_capture_then_decode(run_cli: Run, tmp_path: Path) -> None:
    channel = f"cli-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "site.asc"
    sender = _send_on(channel, 14)
    result = run_cli(
        "log", "capture", str(path), "--interface", "virtual", "--channel", channel,
        "--duration", "1.0",
    )  # fmt: skip
    sender.join()
    assert result.exit_code == 0, result.stderr
    assert f"CAN: 14 frames written to {path}" in result.stdout
    assert "stopped by end of --duration" in result.stdout
    decoded = run_cli("log", "decode", str(path), "-f", "jsonl")
    records = [json.loads(line) for line in decoded.stdout.splitlines()]
    assert [r["id"] for r in records[:7]] == [
        "0x351", "0x355", "0x356", "0x359", "0x35C", "0x35E", "0x305",
    ]  # fmt: skip


def test_capture_json_summary_and_silence_warning(run_cli: Run, tmp_path: Path) -> None:
    channel = f"cli-{uuid.uuid4().hex[:8]}"
    result = run_cli(
        "log", "capture", str(tmp_path / "quiet.log"), "--interface", "virtual",
        "--channel", channel, "--duration", "0.2", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = result.json()
    assert summary["can_frames"] == 0 and summary["stopped_by"] == "duration"
    assert summary["rs485_path"] is None
    plain = run_cli(
        "log", "capture", str(tmp_path / "quiet2.log"), "--interface", "virtual",
        "--channel", channel, "--duration", "0.2",
    )  # fmt: skip
    assert "no CAN frames heard" in plain.stderr and "500000" in plain.stderr


def test_capture_the_simulator(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "sim.log"
    result = run_cli("log", "capture", str(path), "--sim", "healthy-4", "--duration", "1.3")
    assert result.exit_code == 0, result.stderr
    decoded = run_cli("log", "decode", str(path), "-f", "jsonl", "--id", "359")
    records = [json.loads(line) for line in decoded.stdout.splitlines()]
    assert records and all(r["signals"]["ModuleCount"] == 4 for r in records)


def test_capture_rs485_from_a_loopback_url(run_cli: Run, tmp_path: Path) -> None:
    # loop:// is empty: the line is silent, and the file still has its header.
    path = tmp_path / "line.rs485"
    result = run_cli("log", "capture", str(path), "--port", "loop://", "--duration", "0.2")
    assert result.exit_code == 0, result.stderr
    assert f"RS485: 0 frames written to {path}" in result.stdout
    assert "no RS485 frames heard on loop://" in result.stderr
    assert path.read_text().startswith("# active rs485 capture 1: port=loop:// baud=9600")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["a.log", "b.asc"], 2, "at most one CAN log"),
        (["a.log", "--port", "loop://"], 2, "no .rs485 file"),
        (["a.rs485"], 2, "needs --port"),
        (["a.txt"], 2, "CAN log format"),
        (["a.rs485", "--port", "loop://", "--channel", "can0"], 2, "no CAN log file"),
        (["a.rs485", "--sim", "healthy-1"], 2, "simulated CAN bus only"),
        (["a.log", "--interface", "no-such-interface"], 3, "cannot open CAN bus"),
        (["a.rs485", "--port", "/dev/no-such-port"], 3, "cannot open /dev/no-such-port"),
    ],
)
def test_capture_errors(
    run_cli: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("log", "capture", *args, "--duration", "0.1")
    assert result.exit_code == code, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_ctrl_c_stops_a_capture_with_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "capture.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "active_cli", "log", "capture", str(path),
         "--interface", "virtual", "--channel", "sigint"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        # Ctrl-C once it says it is capturing (a loaded machine may take a
        # while to get there).
        assert proc.stderr is not None
        assert "capturing" in proc.stderr.readline()
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped by Ctrl-C" in out
    assert "Traceback" not in err


def test_log_is_listed_in_help(run_cli: Run) -> None:
    result = run_cli("--help")
    assert " log " in result.stdout


def test_a_progress_bar_for_big_files_on_a_terminal(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import active_cli.cli.log as log_cli

    path = tmp_path / "traffic.log"
    write_candump(path, pylon_v12_traffic(4, 70_000))
    plain = run_cli("log", "decode", str(path), "--id", "35E")
    assert "decoding" not in plain.stderr  # stderr is not a terminal here
    monkeypatch.setattr(log_cli, "PROGRESS_MIN_BYTES", 1)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    shown = run_cli("log", "decode", str(path), "--id", "35E")
    assert shown.exit_code == 0
    assert "decoding" in shown.stderr
    assert shown.stdout == plain.stdout
