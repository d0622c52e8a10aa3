"""`active sim` as a command: what it prints, how it stops, where it listens.

The main test runs ``active sim --json`` as a real child process, the way a
script or a second terminal would use it: the first stdout line is the
endpoint JSON, the simulator keeps running, other clients (pyserial on the
``socket://`` URL, python-can's ``socketcand`` interface from this process)
talk to it, and SIGINT, Ctrl-C's signal, ends it with exit 0 and no
traceback. Its listening sockets are read from /proc to check that nothing
but 127.0.0.1 is bound.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import can
import pytest
import serial

from active_cli.errors import EXIT_BAD_DATA, EXIT_NO_REPLY
from active_cli.protocols import pylon_rs485 as rs
from active_cli.sim.scenario import builtin_scenario_names
from tests.conftest import CliResult, run_active_subprocess

ENDPOINT_KEYS = {"rs485_pty", "rs485_url", "socketcand_host", "socketcand_port", "can_channel"}
BATTERY_IDS = {0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E}
MARKER = bytes([0xAC, 0x71, 0x0E, 0x16, 0, 0, 0, 2])


def _default_sigint() -> None:
    # A child inherits an ignored SIGINT from a shell's background job, and
    # Python then installs no KeyboardInterrupt handler: give it the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def readline_within(stream: IO[str] | None, timeout_s: float) -> str:
    """The next line of a pipe, or "" if none came in time (never hangs the suite)."""
    assert stream is not None
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return line[0] if line else ""


def start_sim(scenario: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    """`active sim --json SCENARIO` in a child process, and its endpoint line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "active_cli", "sim", "--json", scenario],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint if os.name == "posix" else None,
    )
    first = readline_within(proc.stdout, 30.0)
    if not first:
        proc.kill()
        _, stderr = proc.communicate(timeout=10)
        pytest.fail(f"`active sim --json` printed no endpoint line; stderr: {stderr}")
    return proc, json.loads(first)


@pytest.fixture(scope="module")
def sim_process() -> Iterator[tuple[subprocess.Popen[str], dict[str, object]]]:
    proc, endpoints = start_sim("healthy-4")
    try:
        yield proc, endpoints
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_json_first_line_names_every_endpoint(
    sim_process: tuple[subprocess.Popen[str], dict[str, object]],
) -> None:
    proc, endpoints = sim_process
    assert set(endpoints) >= ENDPOINT_KEYS
    assert str(endpoints["rs485_url"]).startswith("socket://127.0.0.1:")
    assert endpoints["socketcand_host"] == "127.0.0.1"
    assert isinstance(endpoints["socketcand_port"], int)
    assert endpoints["can_channel"] == "can0"
    if os.name == "posix":
        assert Path(str(endpoints["rs485_pty"])).exists()
    assert proc.poll() is None  # it keeps running


def test_rs485_url_answers_from_another_process(
    sim_process: tuple[subprocess.Popen[str], dict[str, object]],
) -> None:
    _, endpoints = sim_process
    with serial.serial_for_url(str(endpoints["rs485_url"]), timeout=2.0) as port:
        port.write(rs.build_request(rs.Command.SERIAL_NUMBER, 4))
        reply = rs.decode_frame(bytes(port.read_until(b"\r")))
    assert rs.parse_serial_number(reply.info).command_value == 4


def test_socketcand_client_hears_the_battery_and_its_0x305_reaches_the_sim(
    sim_process: tuple[subprocess.Popen[str], dict[str, object]],
) -> None:
    _, endpoints = sim_process

    def connect() -> can.BusABC:
        return can.Bus(
            interface="socketcand",
            host=endpoints["socketcand_host"],
            port=endpoints["socketcand_port"],
            channel=str(endpoints["can_channel"]),
        )

    inverter, observer = connect(), connect()
    try:
        heard = receive(inverter, 5.0, lambda ms: {m.arbitration_id for m in ms} >= BATTERY_IDS)
        inverter.send(can.Message(arbitration_id=0x305, data=MARKER, is_extended_id=False))
        # A second client of the simulated bus sees it: it went through the sim.
        echoed = receive(
            observer,
            3.0,
            lambda ms: any(m.arbitration_id == 0x305 and bytes(m.data) == MARKER for m in ms),
        )
    finally:
        inverter.shutdown()
        observer.shutdown()
    assert {m.arbitration_id for m in heard} >= BATTERY_IDS
    assert any(m.arbitration_id == 0x305 and bytes(m.data) == MARKER for m in echoed)


def receive(
    bus: can.BusABC, window_s: float, until: Callable[[list[can.Message]], bool]
) -> list[can.Message]:
    messages: list[can.Message] = []
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline and not until(messages):
        message = bus.recv(timeout=0.1)
        if message is not None:
            messages.append(message)
    return messages


def _listening_addresses(pid: int) -> tuple[list[str], int]:
    """(LISTEN addresses "ip:port" of `pid`'s TCP sockets, count of its UDP/IPv6 sockets)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with_target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if with_target.startswith("socket:["):
            inodes.add(with_target[len("socket:[") : -1])

    def rows(table: str) -> list[list[str]]:
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        return [line.split() for line in lines if line.split()[9] in inodes]

    listening = []
    for fields in rows("tcp"):
        if fields[3] == "0A":  # TCP_LISTEN
            address, port = fields[1].split(":")
            ip = socket.inet_ntoa(bytes.fromhex(address)[::-1])  # little-endian on the host
            listening.append(f"{ip}:{int(port, 16)}")
    others = len(rows("tcp6")) + len(rows("udp")) + len(rows("udp6"))
    return listening, others


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="needs Linux /proc")
def test_sim_listens_on_127_0_0_1_only(
    sim_process: tuple[subprocess.Popen[str], dict[str, object]],
) -> None:
    proc, endpoints = sim_process
    listening, other_sockets = _listening_addresses(proc.pid)
    rs485_port = int(str(endpoints["rs485_url"]).rsplit(":", 1)[1])
    assert sorted(listening) == sorted(
        [f"127.0.0.1:{rs485_port}", f"127.0.0.1:{endpoints['socketcand_port']}"]
    )
    assert other_sockets == 0  # no IPv6 listener, no UDP (no socketcand beacon)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process is POSIX")
def test_sigint_ends_it_with_exit_0_and_no_traceback() -> None:
    proc, _ = start_sim("healthy-1")
    time.sleep(0.3)  # let it settle into its loop, as a user would
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert stdout == ""  # nothing after the endpoint line in --json mode


# --- bad input, listing, a bounded run ---------------------------------------------


def test_bad_scenario_file_exits_4_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "my-site.toml"
    bad.write_text('name = "my-site"\npacks = 2\n\n[pack.2]\nsoc_pc = 50\n', encoding="utf-8")
    result = run_active_subprocess("sim", "--json", str(bad), timeout=30)
    assert result.exit_code == EXIT_BAD_DATA
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert "my-site.toml, line 5, key 'pack.2.soc_pc'" in first
    assert "did you mean 'soc_pct'" in first


def test_toml_syntax_error_names_the_line(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text("packs = 2\n[faults]\nnoise_rate = = 0.1\n", encoding="utf-8")
    result = run_cli("sim", str(bad))
    assert result.exit_code == EXIT_BAD_DATA
    assert "broken.toml, line 3" in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr


def test_list_shows_every_builtin(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("sim", "--list")
    assert result.exit_code == 0
    names = builtin_scenario_names()
    assert len(names) >= 18
    for name in names:
        assert name in result.stdout


def test_duration_prints_where_to_connect_then_stops(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("sim", "healthy-1", "--duration", "0.3", "--baud", "19200")
    assert result.exit_code == 0, result.stderr
    assert "socket://127.0.0.1:" in result.stdout
    assert "--baud 19200" in result.stdout
    assert "Stopped." in result.stdout


def test_busy_port_is_one_line_not_a_traceback(run_cli: Callable[..., CliResult]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_cli("sim", "healthy-1", "--tcp-port", str(port), "--duration", "0")
    assert result.exit_code == EXIT_NO_REPLY
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--tcp-port" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        # Out-of-range ports once ended in an OverflowError traceback.
        ("--tcp-port", "99999"),
        ("--socketcand-port", "70000"),
        ("--tcp-port", "-1"),
        # A negative baud or latency was accepted.
        ("--baud", "-5"),
        ("--baud", "0"),
        ("--latency-ms", "-5"),
        ("--latency-ms", "nan"),
        ("--duration", "nan"),
    ],
)
def test_out_of_range_options_are_usage_errors(
    run_cli: Callable[..., CliResult], args: tuple[str, ...]
) -> None:
    result = run_cli("sim", "healthy-1", "--duration", "0", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr


def test_listen_on_loopback_refuses_a_port_out_of_range() -> None:
    from active_cli.errors import UsageError
    from active_cli.sim.loopback import listen_on_loopback

    for port in (65536, -1):
        with pytest.raises(UsageError, match=r"0\.\.65535"):
            listen_on_loopback(port, "--tcp-port")


def test_sim_list_json_is_json(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("sim", "--list", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["command"] == "sim --list" and data["schema_version"] == 1
    names = {s["name"] for s in data["result"]}
    assert {"healthy-4", "mismatch", "silent-inverter"} <= names
    assert all(s["packs"] >= 1 and s["description"] for s in data["result"])
