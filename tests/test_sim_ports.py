"""The simulator through its real ports only: pty, ``socket://``, socketcand, virtual CAN.

Every test here is a client the way an installer's laptop would be one:
pyserial opens the pty path or the ``socket://`` URL and writes request bytes,
python-can opens the ``virtual`` channel in this process, and a separate Python
process joins the bus through python-can's ``socketcand`` interface. Nothing
reaches into the simulator's objects except to learn the values a client
should have read (the scenario, or the stack under its lock).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import can
import pytest
import serial

from active_cli.model import CanStackState
from active_cli.protocols import pylon_can
from active_cli.protocols import pylon_rs485 as rs
from active_cli.sim.site import SimulatedSite

V12_BATTERY_IDS = {0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E}
HEARTBEAT_ID = 0x305
# What our "inverter" in another process sends, so it cannot be mistaken for
# the simulated inverter's all-zero 0x305.
MARKER = bytes([0xAC, 0x71, 0x0E, 0x16, 0, 0, 0, 1])

posix_only = pytest.mark.skipif(os.name != "posix", reason="the pty endpoint is POSIX only")


@pytest.fixture(scope="module")
def site() -> Iterator[SimulatedSite]:
    # 115200 baud keeps each reply to a few ms; the timing test runs at 9600.
    with SimulatedSite("healthy-4", baud=115200, latency_ms=5.0, socketcand_port=0) as running:
        yield running


@pytest.fixture(scope="module")
def tcp(site: SimulatedSite) -> Iterator[serial.SerialBase]:
    # One connection for the module: pyserial's socket:// close() sleeps 0.3 s.
    with serial.serial_for_url(site.rs485_url, timeout=1.0) as port:
        yield port


def read_frame(port: serial.SerialBase, timeout_s: float = 1.0) -> bytes:
    """Bytes up to and including the CR; b"" if the line stays silent."""
    port.timeout = timeout_s
    return bytes(port.read_until(b"\r"))


def ask(port: serial.SerialBase, request: bytes, timeout_s: float = 1.0) -> bytes:
    port.reset_input_buffer()
    port.write(request)
    return read_frame(port, timeout_s)


def listen(
    bus: can.BusABC, window_s: float, until: Callable[[list[can.Message]], bool]
) -> list[can.Message]:
    messages: list[can.Message] = []
    deadline = time.monotonic() + window_s
    while time.monotonic() < deadline and not until(messages):
        message = bus.recv(timeout=0.05)
        if message is not None:
            messages.append(message)
    return messages


def can_state(frames: dict[int, bytes]) -> CanStackState:
    builder = pylon_can.CanStateBuilder()
    for arbitration_id, data in frames.items():
        builder.feed(arbitration_id, data)
    state = builder.state()
    assert state is not None
    return state


# --- RS485 ------------------------------------------------------------------------


@posix_only
def test_pyserial_on_the_pty_reads_every_pack(site: SimulatedSite) -> None:
    assert site.rs485_pty is not None and site.rs485_pty.startswith("/dev/")
    with serial.Serial(site.rs485_pty, 115200) as port:
        for position, pack_spec in enumerate(site.scenario.packs, 1):
            reply = rs.decode_frame(ask(port, rs.build_request(rs.Command.SERIAL_NUMBER, position)))
            serial_number = rs.parse_serial_number(reply.info)
            assert (serial_number.command_value, serial_number.serial) == (
                position,
                pack_spec.serial,
            )
            reply = rs.decode_frame(ask(port, rs.build_request(rs.Command.ANALOG, position)))
            assert (reply.adr, reply.cid2) == (position, rs.Rtn.NORMAL)
            (analog,) = rs.parse_analog(reply.info).packs
            assert len(analog.cell_voltages_v) == 16
            assert analog.current_a == pytest.approx(pack_spec.current_a)
            assert analog.soc_pct == pytest.approx(pack_spec.soc_pct, abs=0.2)


def test_pyserial_on_socket_url_reads_the_whole_group(
    site: SimulatedSite, tcp: serial.SerialBase
) -> None:
    assert site.rs485_url.startswith("socket://127.0.0.1:")
    group = rs.build_request(rs.Command.ANALOG, 1, info=bytes([rs.GROUP_ADR_INFO]))
    reply = rs.decode_frame(ask(tcp, group))
    analog = rs.parse_analog(reply.info)
    assert analog.command_value == 4  # the pack count, after INFO FF
    assert [round(p.soc_pct or 0) for p in analog.packs] == [62, 61, 62, 60]


@posix_only
def test_replies_end_in_cr_only(site: SimulatedSite) -> None:
    # python-pylontech and Pylontech's own tools break on CR LF (reference §5).
    with serial.Serial(site.rs485_pty, 115200) as port:
        reply = ask(port, rs.build_request(rs.Command.MANAGEMENT, 3))
        port.timeout = 0.05
        trailing = port.read(16)
    assert reply.startswith(b"~") and reply.endswith(b"\r")
    assert b"\n" not in reply and trailing == b""


def test_an_address_nobody_has_stays_silent(tcp: serial.SerialBase) -> None:
    started = time.monotonic()
    assert ask(tcp, rs.build_request(rs.Command.ANALOG, 9), timeout_s=0.3) == b""
    assert time.monotonic() - started >= 0.3
    # The line is still fine afterwards.
    assert ask(tcp, rs.build_request(rs.Command.ANALOG, 4)).startswith(b"~200446")


@pytest.mark.parametrize(
    ("request_text", "reply_adr", "rtn"),
    [
        # Requests real clients send (reference §4): all answered.
        ("~200046510000FDAE", 1, rs.Rtn.NORMAL),  # 0x51 at ADR 0 (python-pylontech)
        ("~0002464FE00202FD21", 2, rs.Rtn.NORMAL),  # VER 00
        ("~20024651E00202FD33", 2, rs.Rtn.NORMAL),  # 0x51 with INFO
        ("~20024647E00202FD2E", 2, rs.Rtn.NORMAL),
        ("~20024692E00202FD2E", 2, rs.Rtn.NORMAL),
        ("~20024696E00202FD2A", 2, rs.Rtn.NORMAL),
        # What a BMS says to a broken request: a wrong CHKSUM, an unknown command.
        ("~20024642E00202FD34", 2, rs.Rtn.CHKSUM_ERROR),
        ("~200246990000FDA0", 2, rs.Rtn.CID2_INVALID),
    ],
)
def test_requests_seen_from_real_clients(
    tcp: serial.SerialBase, request_text: str, reply_adr: int, rtn: rs.Rtn
) -> None:
    reply = rs.decode_frame(ask(tcp, request_text.encode("ascii") + b"\r"))
    assert (reply.adr, reply.cid2) == (reply_adr, rtn)


@posix_only
def test_pty_and_socket_clients_poll_at_the_same_time(site: SimulatedSite) -> None:
    replies: dict[str, bytes] = {}

    def poll(name: str, opener: Callable[[], serial.SerialBase], adr: int) -> None:
        with opener() as port:
            replies[name] = ask(port, rs.build_request(rs.Command.ANALOG, adr))

    assert site.rs485_pty is not None
    pty_path = site.rs485_pty
    threads = [
        threading.Thread(target=poll, args=("pty", lambda: serial.Serial(pty_path, 115200), 1)),
        threading.Thread(
            target=poll, args=("tcp", lambda: serial.serial_for_url(site.rs485_url), 3)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5.0)
    # Each got its own pack's reply, whole: the line serves one request at a time.
    assert rs.decode_frame(replies["pty"]).adr == 1
    assert rs.decode_frame(replies["tcp"]).adr == 3


# --- CAN --------------------------------------------------------------------------


def test_python_can_virtual_in_process_hears_the_stack_and_the_inverter(
    site: SimulatedSite,
) -> None:
    bus = can.Bus(interface="virtual", channel=site.can_channel, receive_own_messages=False)
    try:

        def enough(messages: list[can.Message]) -> bool:
            limits = [m for m in messages if m.arbitration_id == 0x351]
            ids = {m.arbitration_id for m in messages}
            return len(limits) >= 2 and V12_BATTERY_IDS | {HEARTBEAT_ID} <= ids

        messages = listen(bus, 3.0, enough)
    finally:
        bus.shutdown()
    assert enough(messages), sorted({hex(m.arbitration_id) for m in messages})
    assert not any(m.is_error_frame or m.is_extended_id for m in messages)
    state = can_state({m.arbitration_id: bytes(m.data) for m in messages})
    assert state.protocol == "pylon-v1.2"
    assert state.module_count == 4
    assert state.limits is not None
    assert (state.limits.charge_voltage_v, state.limits.discharge_voltage_v) == (56.0, 46.4)
    assert (state.limits.charge_current_a, state.limits.discharge_current_a) == (400.0, 400.0)
    assert state.soc_pct == pytest.approx(60, abs=1)  # the lowest pack (pack 4)
    assert state.current_a == pytest.approx(48.0, abs=0.2)  # 4 x 12 A
    assert state.request is not None and state.request.charge_enable
    assert state.manufacturer == "PYLON"
    # The master broadcasts once a second (reference §2.1).
    limits_at = [m.timestamp for m in messages if m.arbitration_id == 0x351]
    assert limits_at[1] - limits_at[0] == pytest.approx(1.0, abs=0.25)


SOCKETCAND_CLIENT = r"""
import json, sys, time
import can

host, port, marker = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
bus = can.Bus(interface="socketcand", host=host, port=port, channel="can0")
frames = {}
deadline = time.monotonic() + 5.0
while time.monotonic() < deadline and not {0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E} <= set(frames):
    message = bus.recv(timeout=0.2)
    if message is not None and not message.is_error_frame:
        frames[message.arbitration_id] = bytes(message.data).hex()
bus.send(can.Message(arbitration_id=0x305, data=marker, is_extended_id=False))
time.sleep(0.2)
bus.shutdown()
print(json.dumps(frames))
"""


def test_python_can_socketcand_from_another_process(site: SimulatedSite) -> None:
    endpoints = site.endpoints
    assert endpoints.socketcand_host == "127.0.0.1"
    assert endpoints.socketcand_port is not None and endpoints.can_channel == "can0"
    monitor = site.open_can_bus()  # hears what the other process sends
    try:
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                SOCKETCAND_CLIENT,
                endpoints.socketcand_host,
                str(endpoints.socketcand_port),
                MARKER.hex(),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        heard = listen(
            monitor,
            2.0,
            lambda ms: any(m.arbitration_id == HEARTBEAT_ID and m.data == MARKER for m in ms),
        )
    finally:
        monitor.shutdown()
    assert child.returncode == 0, child.stderr
    frames = {int(k): bytes.fromhex(v) for k, v in json.loads(child.stdout).items()}
    assert set(frames) >= V12_BATTERY_IDS
    state = can_state(frames)
    assert state.module_count == 4
    assert state.limits is not None and state.limits.charge_current_a == 400.0
    # The other process's 0x305 reached the simulated bus.
    assert any(m.arbitration_id == HEARTBEAT_ID and bytes(m.data) == MARKER for m in heard)


def test_socketcand_refuses_a_channel_it_does_not_have(site: SimulatedSite) -> None:
    assert site.socketcand is not None
    with socket.create_connection((site.socketcand.host, site.socketcand.port), timeout=2) as conn:
        assert conn.recv(64) == b"< hi >"
        conn.sendall(b"< open vcan7 >")
        assert conn.recv(128).startswith(b"< error unknown channel")
        conn.sendall(b"< open can0 >")
        assert conn.recv(64) == b"< ok >"
        conn.sendall(b"< rawmode >")
        # Exactly "< ok >" in its own read: python-can's client compares it whole.
        assert conn.recv(64) == b"< ok >"
        conn.settimeout(3.0)
        assert conn.recv(64).startswith(b"< frame ")
