"""Every fault scenario changes what a client reads, through the simulator's ports.

One test per built-in fault scenario. Each runs the scenario on its own site
and reads it the way a client would: request bytes over the RS485 port (the pty,
or ``socket://`` where there is no pty) and frames from python-can's ``virtual``
CAN channel, decoded with `active`'s own codecs. The listener is opened before
the site starts, so it hears the first broadcast cycle at once. Where the
fault is an absence (no 0x305, no battery frames), the same reads on a healthy
site show what is missing. The scenarios are seeded, so the line faults
(garbling, noise, bad checksums) are the same on every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import can
import pytest
import serial

from active_cli.errors import DecodeError, LinkTimeout
from active_cli.links.serial_link import SerialLink
from active_cli.model import CanStackState, ChargeLimits, RequestFlags
from active_cli.protocols import pylon_can
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import Command, State
from active_cli.sim.can_node import battery_frames
from active_cli.sim.site import SimulatedSite
from active_cli.sim.stack import CAN_ALARM_NAMES, CAN_PROTECTION_NAMES
from tests.conftest import CliResult

BAUD = 115200  # fast replies; test_sim_timing.py covers 9600
V12_IDS = frozenset({0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E})
V13_IDS = frozenset({0x351, 0x355, 0x356, 0x35A, 0x35E, 0x35F})
HEARTBEAT_ID = 0x305
# Long enough for two broadcast cycles and two 0x305 periods (both 1 s), with margin.
ABSENCE_WINDOW_S = 1.8


@dataclass
class Client:
    site: SimulatedSite
    port: serial.SerialBase
    can_bus: can.BusABC

    @property
    def url(self) -> str:
        return self.site.rs485_pty or self.site.rs485_url

    def raw(self, command: int, adr: int, *, timeout_s: float = 0.5) -> bytes:
        """One request, the reply bytes as they came (b"" when silent)."""
        self.port.reset_input_buffer()
        self.port.write(rs.build_request(command, adr))
        self.port.timeout = timeout_s
        return bytes(self.port.read_until(b"\r"))

    def frame(self, command: int, adr: int) -> rs.Frame:
        reply = rs.decode_frame(self.raw(command, adr))
        assert (reply.adr, reply.cid2) == (adr, rs.Rtn.NORMAL)
        return reply

    def analog(self, adr: int) -> rs.PackAnalog:
        (pack,) = rs.parse_analog(self.frame(Command.ANALOG, adr).info).packs
        return pack

    def alarm(self, adr: int) -> rs.PackAlarm:
        (pack,) = rs.parse_alarm(self.frame(Command.ALARM, adr).info).packs
        return pack

    def can_frames(self, window_s: float, want: frozenset[int] | None = None) -> list[can.Message]:
        """Frames heard for `window_s`, or until one of each id in `want` arrived."""
        messages: list[can.Message] = []
        deadline = time.monotonic() + window_s
        while time.monotonic() < deadline:
            message = self.can_bus.recv(timeout=0.05)
            if message is not None:
                messages.append(message)
                if want is not None and want <= {m.arbitration_id for m in messages}:
                    break
        return messages

    def can_state(self, want: frozenset[int] = V12_IDS) -> CanStackState:
        messages = self.can_frames(3.0, want)
        assert want <= {m.arbitration_id for m in messages}
        builder = pylon_can.CanStateBuilder()
        for message in messages:
            builder.feed(message.arbitration_id, bytes(message.data))
        state = builder.state()
        assert state is not None
        return state


@contextmanager
def running(scenario: str) -> Iterator[Client]:
    site = SimulatedSite(scenario, baud=BAUD, latency_ms=2.0)
    listener = site.open_can_bus()  # before start: it hears the very first cycle
    try:
        with site, serial.serial_for_url(site.rs485_pty or site.rs485_url, BAUD) as port:
            yield Client(site, port, listener)
    finally:
        listener.shutdown()


@pytest.fixture(scope="module")
def healthy() -> Iterator[Client]:
    with running("healthy-4") as client:
        yield client


@pytest.fixture(scope="module")
def healthy_can(healthy: Client) -> list[can.Message]:
    """What a healthy site puts on CAN in the absence window (for contrast)."""
    return healthy.can_frames(ABSENCE_WINDOW_S)


def ids(messages: list[can.Message]) -> set[int]:
    return {m.arbitration_id for m in messages if not m.is_error_frame}


# --- RS485 line faults ------------------------------------------------------------


def test_duplicate_address_garbles_replies_at_2_and_hides_3() -> None:
    with running("duplicate-address") as client:
        for command in (Command.ANALOG, Command.SERIAL_NUMBER, Command.PROTOCOL_VERSION):
            garbled = client.raw(command, 2)
            assert garbled.startswith(b"~") and garbled.endswith(b"\r")
            if command != Command.PROTOCOL_VERSION:
                # The two packs' replies differ (cells, serials): where both drove
                # the line at once, bytes no frame may contain.
                assert any(b >= 0x80 for b in garbled), garbled
            with pytest.raises(DecodeError):
                rs.decode_frame(garbled)
        assert client.raw(Command.ANALOG, 3, timeout_s=0.2) == b""  # nobody is set to 3
        assert client.analog(1).voltage_v > 50
        assert client.analog(4).voltage_v > 50
        # The master reports the broken link between the BMSes on CAN.
        assert "internal_communication_fail" in client.can_state().alarms


def test_duplicate_address_reads_clean_on_a_healthy_site(healthy: Client) -> None:
    for adr in (2, 3):
        assert healthy.analog(adr).voltage_v > 50
    assert "internal_communication_fail" not in healthy.can_state().alarms


def test_stop_answering_goes_silent_after_two_requests() -> None:
    with running("stop-answering") as client:
        assert client.site.scenario.faults.stop_answering == ((3, 2),)
        assert client.analog(3).voltage_v > 50
        assert client.frame(Command.SERIAL_NUMBER, 3).adr == 3
        assert client.raw(Command.ANALOG, 3, timeout_s=0.2) == b""
        # Only that pack: the others still answer, and 3 stays silent.
        assert client.analog(1).voltage_v > 50
        assert client.analog(2).voltage_v > 50
        assert client.raw(Command.SERIAL_NUMBER, 3, timeout_s=0.2) == b""


def test_noisy_line_costs_noise_bytes_and_retries() -> None:
    polls = 30
    with running("noisy-line") as client:
        link = SerialLink(client.port, baud=BAUD, url=client.url, retries=2)
        answered = []
        for i in range(polls):
            adr = 1 + i % 2
            try:
                reply = link.query(Command.ANALOG, adr)
            except (DecodeError, LinkTimeout):
                continue
            answered.append(reply.adr == adr)
        stats = link.stats
    # Noise before '~' was dropped and counted; noise inside a frame broke it
    # and cost a retry. Every reply that came through was whole and right.
    assert stats.noise_bytes > 0
    corrupted = sum(s.corrupted for s in stats.per_address.values())
    retries = sum(s.retries for s in stats.per_address.values())
    assert corrupted > 0 and retries >= corrupted
    assert len(answered) >= polls - 2 and all(answered)


def test_checksum_errors_show_a_wrong_chksum_on_an_intact_frame() -> None:
    polls = 40
    with running("checksum-errors") as client:
        replies = [client.raw(Command.ANALOG, 1 + i % 2) for i in range(polls)]
    bad = []
    for reply in replies:
        body, sent = reply[1:-5], int(reply[-5:-1], 16)
        if rs.checksum(body) != sent:
            bad.append(reply)
            with pytest.raises(DecodeError, match="CHKSUM"):
                rs.decode_frame(reply)
            # Only the CHKSUM is wrong: with it recomputed the frame is whole.
            fixed = reply[:-5] + f"{rs.checksum(body):04X}".encode() + b"\r"
            assert len(rs.parse_analog(rs.decode_frame(fixed).info).packs[0].cell_voltages_v) == 16
        else:
            rs.decode_frame(reply)
    # 20 % of replies (seeded): clearly some, clearly not all.
    assert 3 <= len(bad) <= 16


# --- pack faults: RS485 values, 0x44 states, CAN protections ----------------------


def test_dead_sensor_reads_minus_40_and_stops_charging() -> None:
    with running("dead-sensor") as client:
        # Temperatures in 0x42 order: BMS board, cell sensors 1-4, MOSFET.
        temperatures = client.analog(2).temperatures_c
        alarm = client.alarm(2)
        other = client.analog(1).temperatures_c
        state = client.can_state()
    assert temperatures[3] == -40.0
    assert all(t > 20 for i, t in enumerate(temperatures) if i != 3)
    assert all(t > 20 for t in other)
    assert alarm.temperature_states[3] == State.OTHER_FAULT
    assert "system_error" in state.protections
    assert state.request is not None
    assert (state.request.charge_enable, state.request.discharge_enable) == (False, True)


@pytest.mark.parametrize(
    ("scenario", "cell", "volts", "state", "rs485_protection", "can_protection"),
    [
        (
            "cell-overvoltage",
            9,
            3.700,
            State.ABOVE_UPPER_LIMIT,
            "module over-voltage",
            "over_voltage",
        ),
        (
            "cell-undervoltage",
            4,
            2.750,
            State.BELOW_LOWER_LIMIT,
            "cell under-voltage",
            "under_voltage",
        ),
    ],
)
def test_cell_voltage_fault_shows_in_0x42_0x44_and_on_can(
    scenario: str,
    cell: int,
    volts: float,
    state: State,
    rs485_protection: str,
    can_protection: str,
) -> None:
    with running(scenario) as client:
        cells = client.analog(2).cell_voltages_v
        alarm = client.alarm(2)
        master_alarm = client.alarm(1)
        can_state = client.can_state()
    assert cells[cell - 1] == volts
    assert all(2.9 < v < 3.5 for i, v in enumerate(cells) if i != cell - 1)
    assert alarm.cell_states[cell - 1] == state
    assert rs485_protection in alarm.protections
    assert alarm.cell_errors == (cell,)
    assert master_alarm.protections == ()
    assert can_protection in can_state.protections
    limits, request = can_state.limits, can_state.request
    assert limits is not None and request is not None
    if can_protection == "over_voltage":
        assert limits.charge_current_a == 0.0 and not request.charge_enable
        assert request.discharge_enable
    else:
        assert limits.discharge_current_a == 0.0 and not request.discharge_enable
        assert request.force_charge_2


def test_over_temperature_blocks_charging() -> None:
    with running("over-temperature") as client:
        hot = client.analog(1).temperatures_c
        cool = client.analog(2).temperatures_c
        alarm = client.alarm(1)
        state = client.can_state()
    assert all(51.0 < t < 54.0 for t in hot[1:5])  # the four cell sensors
    assert all(23.0 < t < 28.0 for t in cool[1:5])
    assert State.ABOVE_UPPER_LIMIT in alarm.temperature_states[1:5]
    assert "charge over-temperature" in alarm.protections
    assert "cell_over_temperature" in state.protections
    assert state.limits is not None and state.limits.charge_current_a == 0.0
    assert state.limits.discharge_current_a > 0
    assert state.request is not None and not state.request.charge_enable


def test_mismatch_pack_3_is_about_1_v_lower() -> None:
    with running("mismatch") as client:
        volts = {adr: client.analog(adr).voltage_v for adr in (1, 2, 3, 4)}
    others = [volts[a] for a in (1, 2, 4)]
    assert volts[3] == pytest.approx(52.0, abs=0.05)
    assert max(others) - min(others) < 0.05
    assert min(others) - volts[3] == pytest.approx(1.05, abs=0.15)


def test_mixed_firmware_differs_in_0x96() -> None:
    with running("mixed-firmware") as client:
        versions = [
            rs.parse_firmware_version(client.frame(Command.FIRMWARE, adr).info).mainline_version
            for adr in (1, 2, 3)
        ]
    assert versions == [(1, 3, 0), (1, 2, 4), (1, 3, 2)]


def test_mixed_firmware_is_uniform_on_a_healthy_site(healthy: Client) -> None:
    versions = {
        rs.parse_firmware_version(healthy.frame(Command.FIRMWARE, adr).info).mainline_version
        for adr in (1, 2, 3, 4)
    }
    assert versions == {(1, 3, 0)}


def test_pylon_addressing_answers_at_2_not_1() -> None:
    with running("pylon-addressing") as client:
        assert client.raw(Command.ANALOG, 1, timeout_s=0.2) == b""
        answered = [client.frame(Command.SERIAL_NUMBER, adr).adr for adr in (2, 3, 4)]
        assert client.raw(Command.ANALOG, 5, timeout_s=0.2) == b""
    assert answered == [2, 3, 4]


# --- CAN faults -------------------------------------------------------------------


def test_silent_inverter_sends_no_0x305(healthy_can: list[can.Message]) -> None:
    assert HEARTBEAT_ID in ids(healthy_can)
    with running("silent-inverter") as client:
        heard = client.can_frames(ABSENCE_WINDOW_S)
    assert ids(heard) >= V12_IDS  # the battery talks ...
    assert sum(m.arbitration_id == 0x351 for m in heard) >= 2  # ... for two cycles,
    assert HEARTBEAT_ID not in ids(heard)  # and nothing answers


def test_wrong_bitrate_gives_error_frames_and_no_battery_frames(
    healthy_can: list[can.Message],
) -> None:
    assert ids(healthy_can) >= V12_IDS
    assert not any(m.is_error_frame for m in healthy_can)
    with running("wrong-bitrate") as client:
        heard = client.can_frames(ABSENCE_WINDOW_S)
        rs485_still_works = client.analog(1).voltage_v
    assert ids(heard) == set()
    assert sum(m.is_error_frame for m in heard) >= 2  # every cycle, bit errors instead
    assert rs485_still_works > 50


def test_charge_limit_too_high_puts_cvl_58_4_on_0x351(healthy: Client) -> None:
    healthy_state = healthy.can_state()
    assert healthy_state.limits is not None
    assert healthy_state.limits.charge_voltage_v == 56.0
    with running("charge-limit-too-high") as client:
        state = client.can_state()
        management = rs.parse_management(client.frame(Command.MANAGEMENT, 1).info)
    assert state.limits is not None and state.limits.charge_voltage_v == 58.4
    assert management.charge_voltage_limit_v == 58.4  # RS485 0x92 says the same


def test_pylon_v13_sends_0x35a_and_0x35f_instead_of_0x359_and_0x35c(
    healthy_can: list[can.Message],
) -> None:
    assert {0x359, 0x35C} <= ids(healthy_can)
    assert not {0x35A, 0x35F} & ids(healthy_can)
    with running("pylon-v13") as client:
        heard = client.can_frames(3.0, V13_IDS)
    assert ids(heard) >= V13_IDS
    assert not {0x359, 0x35C} & ids(heard)
    builder = pylon_can.CanStateBuilder()
    for message in heard:
        builder.feed(message.arbitration_id, bytes(message.data))
    state = builder.state()
    assert state is not None and state.protocol == "pylon-v1.3"


def test_every_condition_the_stack_can_raise_can_be_put_on_can() -> None:
    # Not through a port: a guard for the encoder that the port tests rely on.
    # The stack once named 0x359's cell temperature bits differently from the
    # codec, and the battery's CAN broadcast died on the first hot pack.
    state = CanStackState(
        protocol="pylon-v1.2",
        limits=ChargeLimits(56.0, 0.0, 0.0, 46.4),
        soc_pct=50.0,
        soh_pct=98.0,
        voltage_v=52.0,
        current_a=0.0,
        temp_c=25.0,
        protections=CAN_PROTECTION_NAMES,
        alarms=CAN_ALARM_NAMES,
        module_count=2,
        request=RequestFlags(False, False, True, True, False),
    )
    for profile in ("pylon-v1.2", "pylon-v1.3"):
        frames = dict(battery_frames(replace(state, protocol=profile)))
        builder = pylon_can.CanStateBuilder()
        for arbitration_id, data in frames.items():
            builder.feed(arbitration_id, data)
        decoded = builder.state()
        assert decoded is not None and builder.decode_error_count == 0
        if profile == "pylon-v1.2":
            assert decoded.protections == CAN_PROTECTION_NAMES


def test_scan_of_checksum_errors_shows_them_from_the_first_replies(
    run_cli: Callable[..., CliResult],
) -> None:
    # The scenario's seed corrupts the very first reply: even the shortest scan
    # of two packs (8 requests) rehearses what docs/simulator.md promises.
    result = run_cli("scan", "--sim", "checksum-errors", "--json")
    report = result.json()
    corrupted = {a["address"]: a["corrupted"] for a in report["addresses"] if a["corrupted"]}
    assert corrupted and sum(a["requests"] for a in report["addresses"]) <= 10
    assert "link.errors" in {f["code"] for f in report["findings"]}
    assert {p["address"] for p in report["packs"]} == {1, 2}  # retried, both read
