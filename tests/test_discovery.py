"""Discovery: what the scan asks, in which order, and what it makes of the answers.

Most tests drive `scan_rs485` through `FakeLink`, a RequestLink with no timing:
the simulator's responder (the same BMS model `active sim` serves) answers
each request, and a per-test script can override single answers with a
timeout, a garbled reply or "not supported". That keeps the request sequence
exact and the tests instant. The last tests run the real SerialLink and CAN
bus against the simulator on its ports.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import can
import pytest

from active_cli import discovery
from active_cli.discovery import ScanOptions, can_done, fold_can, scan, scan_rs485
from active_cli.errors import DecodeError, LinkTimeout
from active_cli.links.can_link import CanRecord
from active_cli.links.serial_link import LinkStats, SerialLink
from active_cli.model import AddressStatus, Severity, StackSnapshot
from active_cli.protocols import pylon_rs485 as rs
from active_cli.protocols.pylon_rs485 import Command, Frame, Rtn
from active_cli.sim.responder import Rs485Responder
from active_cli.sim.scenario import Scenario, load_scenario, parse_scenario
from active_cli.sim.site import SimulatedSite
from active_cli.sim.stack import SimStack

GROUP = bytes([rs.GROUP_ADR_INFO])

# What a scripted request gets instead of the simulator's answer.
TIMEOUT = "timeout"
GARBLED = "garbled"
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Call:
    command: int
    adr: int
    info: bytes | None
    retry_on_timeout: bool


@dataclass
class FakeLink:
    """A RequestLink answered by the simulator's responder, with scripted overrides.

    ``script[(adr, command)]`` is a list of outcomes used up one per request
    (TIMEOUT, GARBLED, UNSUPPORTED, or raw reply bytes); then the simulator
    answers again. Each query is one outcome: the link's own retries are
    SerialLink's business, tested against a port further down.
    """

    scenario: Scenario
    script: dict[tuple[int, int], list[str | bytes]] = field(default_factory=dict)
    baud: int = 9600
    stats: LinkStats = field(default_factory=LinkStats)
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.responder = Rs485Responder(SimStack.from_scenario(self.scenario))

    def query(
        self,
        command: Command | int,
        adr: int,
        *,
        ver: int = rs.VER_PYLON,
        info: bytes | None = None,
        retry_on_timeout: bool = True,
    ) -> Frame:
        self.calls.append(Call(int(command), adr, info, retry_on_timeout))
        stats = self.stats.address(adr)
        stats.requests += 1
        queue = self.script.get((adr, int(command)))
        outcome: str | bytes | None = queue.pop(0) if queue else None
        if outcome is None:
            outcome = self.responder(rs.build_request(command, adr, ver=ver, info=info)) or TIMEOUT
        if outcome == TIMEOUT:
            stats.timeouts += 1
            raise LinkTimeout(f"no reply from address {adr}")
        if outcome == UNSUPPORTED:
            outcome = rs.build_response(adr, b"", rtn=Rtn.CID2_INVALID)
        if outcome == GARBLED:
            outcome = b"~2001\xfe\x80GARBLE\r"
        assert isinstance(outcome, bytes)
        try:
            frame = rs.decode_frame(outcome)
        except DecodeError:
            stats.corrupted += 1
            raise
        stats.replies += 1
        return frame

    def sent(self, adr: int | None = None) -> list[tuple[int, int]]:
        """(command, adr) of every request, optionally for one address."""
        return [(c.command, c.adr) for c in self.calls if adr is None or c.adr == adr]


def fake(name: str, **script: list[str | bytes]) -> FakeLink:
    """`fake("healthy-4", a3_42=[TIMEOUT])`: script keys are a<adr>_<command hex>."""
    parsed: dict[tuple[int, int], list[str | bytes]] = {}
    for key, outcomes in script.items():
        adr, command = key[1:].split("_")
        parsed[(int(adr), int(command, 16))] = list(outcomes)
    return FakeLink(load_scenario(name), parsed)


def statuses(snapshot: StackSnapshot) -> dict[int, AddressStatus]:
    return {a.address: a.status for a in snapshot.addresses}


def codes(snapshot: StackSnapshot) -> dict[str, Severity]:
    return {f.code: f.severity for f in snapshot.findings}


A, S, F, M, AL = Command.ANALOG, Command.SERIAL_NUMBER, Command.FIRMWARE, 0x51, Command.ALARM


# --------------------------------------------------------------- request plan


def test_healthy_stack_is_read_with_three_requests_per_pack_and_one_group_alarm() -> None:
    link = fake("healthy-4")
    snapshot = scan_rs485(link)
    # Master: probe+analog, serial, firmware, 0x51 once, group alarm; slaves: three each.
    assert link.sent() == [
        (A, 1), (S, 1), (F, 1), (M, 1), (AL, 1),
        (A, 2), (S, 2), (F, 2),
        (A, 3), (S, 3), (F, 3),
        (A, 4), (S, 4), (F, 4),
    ]  # fmt: skip
    assert link.calls[4].info == GROUP
    assert [p.address for p in snapshot.packs] == [1, 2, 3, 4]
    assert snapshot.master_address == 1 and snapshot.group_count == 4
    assert all(p.alarm_read and not p.alarms and not p.protections for p in snapshot.packs)
    assert {statuses(snapshot)[a] for a in range(5, 18)} == {AddressStatus.NOT_POLLED}
    assert snapshot.baud == 9600


def test_pack_fields_come_from_the_replies() -> None:
    scenario = load_scenario("healthy-4")
    snapshot = scan_rs485(FakeLink(scenario))
    master = snapshot.packs[0]
    assert master.serial == scenario.packs[0].serial
    assert master.firmware == "1.3.0"
    assert master.device_name == "Active16" and master.manufacturer == "Active"
    assert len(master.cell_voltages_v) == 16
    assert master.protocol_variant == "pylon"
    # Only the master is asked for 0x51: the slaves' model is not read.
    assert snapshot.packs[1].device_name is None and snapshot.packs[1].firmware == "1.3.0"


def test_all_addresses_polls_the_rest_once_each() -> None:
    link = fake("healthy-4")
    snapshot = scan_rs485(link, ScanOptions(stop_at_group_count=False))
    assert {statuses(snapshot)[a] for a in range(5, 18)} == {AddressStatus.SILENT}
    # Every pack accounted for by the group count: silence is not asked twice.
    assert [c.adr for c in link.calls if c.adr >= 5] == list(range(5, 18))
    assert not any(c.retry_on_timeout for c in link.calls if c.command == A)


def test_pylontech_addressing_finds_the_master_at_2() -> None:
    link = fake("pylon-addressing")
    snapshot = scan_rs485(link)
    assert snapshot.master_address == 2
    assert statuses(snapshot)[1] is AddressStatus.SILENT
    assert link.sent(1) == [(A, 1)]  # the count was reached: 1 is not asked again


def test_a_lost_probe_is_retried_in_a_second_pass_while_a_pack_is_missing() -> None:
    link = fake("healthy-4", a3_42=[TIMEOUT])
    snapshot = scan_rs485(link)
    assert [p.address for p in snapshot.packs] == [1, 2, 3, 4]
    assert statuses(snapshot)[3] is AddressStatus.ANSWERED
    # First pass: 5..17 polled (only 3 of 4 heard); second pass: 3 answers, then stop.
    assert link.sent(3)[:2] == [(A, 3), (A, 3)]
    assert [a for _, a in link.sent() if a >= 5] == list(range(5, 18))
    result = next(a for a in snapshot.addresses if a.address == 3)
    assert (result.requests, result.timeouts) == (4, 1)


def test_a_silent_range_is_polled_once() -> None:
    scenario = parse_scenario("packs = 1\n[pack.1]\naddress = 9\n", source="t")
    link = FakeLink(scenario)
    snapshot = scan_rs485(link, ScanOptions(addresses=(1, 2, 3)))
    assert snapshot.packs == ()
    assert link.sent() == [(A, 1), (A, 2), (A, 3)]
    assert codes(scan(link, None, ScanOptions(addresses=(1, 2, 3))))["scan.no-packs"] is (
        Severity.FAIL
    )


def test_firmware_not_supported_falls_back_to_manufacturer_info() -> None:
    link = fake("healthy-4", a3_96=[UNSUPPORTED])
    snapshot = scan_rs485(link)
    assert link.sent(3) == [(A, 3), (S, 3), (F, 3), (M, 3)]
    pack = snapshot.packs[2]
    assert pack.firmware == "1.3"  # 0x51 carries major.minor only
    assert pack.failed_reads == ()  # "not supported" is not a failure
    assert link.sent(4) == [(A, 4), (S, 4), (F, 4)]


def test_firmware_timeout_does_not_fall_back_and_marks_the_pack_stopped() -> None:
    # No group read: alarms are then read per pack, but not from the pack gone quiet.
    link = fake("healthy-4", a2_96=[TIMEOUT], a1_44=[UNSUPPORTED])
    snapshot = scan_rs485(link)
    assert link.sent(2) == [(A, 2), (S, 2), (F, 2)]
    assert [adr for command, adr in link.sent() if command == AL] == [1, 1, 3, 4]
    assert not snapshot.packs[1].alarm_read
    assert statuses(snapshot)[2] is AddressStatus.STOPPED
    assert snapshot.packs[1].failed_reads == ("0x96: no reply",)


def test_pack_that_stops_answering_is_not_read_further() -> None:
    link = fake("stop-answering")  # address 3 answers 2 requests, then never
    snapshot = scan(link, None)
    assert link.sent(3) == [(A, 3), (S, 3), (F, 3)]
    assert statuses(snapshot)[3] is AddressStatus.STOPPED
    assert codes(snapshot)["scan.stopped-answering"] is Severity.FAIL


def test_group_read_not_supported_polls_the_whole_range_and_reads_alarms_per_pack() -> None:
    link = fake("healthy-4", a1_44=[UNSUPPORTED])
    snapshot = scan_rs485(link)
    assert snapshot.group_count is None
    assert {statuses(snapshot)[a] for a in range(5, 18)} == {AddressStatus.SILENT}
    alarm_reads = [(c.adr, c.info) for c in link.calls if c.command == AL]
    assert alarm_reads == [(1, GROUP), (1, None), (2, None), (3, None), (4, None)]
    assert all(p.alarm_read for p in snapshot.packs)


def test_raised_alarm_in_the_group_read_is_attributed_per_pack() -> None:
    link = fake("cell-overvoltage")
    snapshot = scan_rs485(link)
    assert [(c.adr, c.info) for c in link.calls if c.command == AL] == [
        (1, GROUP),
        (1, None),
        (2, None),
    ]
    first, second = snapshot.packs
    assert not first.protections
    assert second.protections and any("9" in alarm for alarm in second.alarms)


def test_duplicate_address_is_garbled_and_the_master_count_exposes_the_missing_pack() -> None:
    link = fake("duplicate-address")
    snapshot = scan(link, None)
    assert statuses(snapshot)[2] is AddressStatus.GARBLED
    assert statuses(snapshot)[3] is AddressStatus.SILENT
    assert [p.address for p in snapshot.packs] == [1, 4]
    assert snapshot.group_count == 4
    found = codes(snapshot)
    assert found["scan.duplicate-address"] is Severity.FAIL
    assert found["scan.master-count"] is Severity.FAIL
    assert found["scan.gap"] is Severity.WARN


def test_refused_probe_is_reported_with_its_return_code() -> None:
    refusal = rs.build_response(2, b"", rtn=Rtn.INTERNAL_COMM_ERROR)
    link = fake("healthy-4", a2_42=[refusal])
    snapshot = scan(link, None)
    assert statuses(snapshot)[2] is AddressStatus.REFUSED
    assert codes(snapshot)["scan.refused"] is Severity.WARN


def test_garbled_serial_is_a_failed_read_not_a_crash() -> None:
    link = fake("healthy-1", a1_93=[GARBLED])
    snapshot = scan(link, None)
    pack = snapshot.packs[0]
    assert pack.serial is None and len(pack.failed_reads) == 1
    assert statuses(snapshot)[1] is AddressStatus.ANSWERED
    assert codes(snapshot)["pack.serial-unknown"] is Severity.WARN


def test_a_refused_address_does_not_count_towards_the_master_group() -> None:
    # The master sees 4; address 2 refuses. Counting it as heard stopped the scan
    # after address 4 with "all answered"; only packs actually read count now.
    refusal = rs.build_response(2, b"", rtn=Rtn.INTERNAL_COMM_ERROR)
    link = fake("healthy-4", a2_42=[refusal])
    snapshot = scan(link, None)
    assert [p.address for p in snapshot.packs] == [1, 3, 4]
    assert {statuses(snapshot)[a] for a in range(5, 18)} == {AddressStatus.SILENT}
    found = codes(snapshot)
    assert "scan.range-shortened" not in found
    assert found["scan.master-count"] is Severity.FAIL


def _analog_reply(adr: int, pack: rs.PackAnalog, variant: rs.Variant = rs.Variant.PYLON) -> bytes:
    info = rs.AnalogResponse(0, adr, (pack,)).to_info(variant)
    return rs.build_response(adr, info, ver=variant.ver)


CLEAN_ANALOG = rs.PackAnalog(
    cell_voltages_v=(3.3,) * 16,
    temperatures_c=(25.0,) * 6,
    current_a=0.0,
    voltage_v=52.8,
    remaining_ah=150.0,
    full_ah=300.0,
    cycles=12,
)


@pytest.mark.parametrize(
    ("variant", "design_ah", "soh_pct"),
    [
        # Pylontech layout (P = 4): no design capacity, so no SOH (it was 300/314 Ah).
        (rs.Variant.PYLON, None, None),
        (rs.Variant.PACE, 314.0, 95.5),  # PACE layout (P = 3): full against design
    ],
)
def test_soh_only_from_a_reported_design_capacity(
    variant: rs.Variant, design_ah: float | None, soh_pct: float | None
) -> None:
    analog = dataclasses.replace(CLEAN_ANALOG, design_ah=design_ah)
    link = fake("healthy-1", a1_42=[_analog_reply(1, analog, variant)])
    (pack,) = scan_rs485(link).packs
    assert pack.soh_pct == soh_pct


def test_zero_cells_and_temperatures_fail_and_render_as_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from active_cli.cli import render_scan
    from active_cli.cli.output import print_json

    empty = dataclasses.replace(CLEAN_ANALOG, cell_voltages_v=(), temperatures_c=(), full_ah=0.0)
    link = fake("healthy-1", a1_42=[_analog_reply(1, empty)])
    snapshot = scan(link, None)
    (pack,) = snapshot.packs
    assert pack.cell_voltages_v == () and pack.soc_pct is None
    found = codes(snapshot)
    assert found["pack.no-cells"] is Severity.FAIL
    assert found["pack.no-temperatures"] is Severity.FAIL
    # The table and the JSON used to raise on min() of no cells.
    render_scan.show(snapshot, wide=True)  # the full boxed table (SOH, cycles)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "ACT16" in line)
    assert [cell.strip() for cell in row.split("│")[6:11]] == ["?", "?", "12", "?", "?"]
    assert "lowest SOC ?" in out
    print_json(snapshot)
    (data,) = json.loads(capsys.readouterr().out)["packs"]
    assert data["min_cell_v"] is None and data["cell_spread_mv"] is None
    assert data["max_temp_c"] is None and data["soc_pct"] is None and data["soh_pct"] is None


def test_progress_reports_each_polled_address() -> None:
    seen: list[tuple[int, str]] = []
    scan_rs485(fake("healthy-4"), progress=lambda adr, what: seen.append((adr, what)))
    assert seen == [(1, "polling"), (2, "polling"), (3, "polling"), (4, "polling")]


# ------------------------------------------------------------------ the link


class SilentPort:
    """A serial port on which nothing ever arrives."""

    timeout: float | None = 0.0
    in_waiting = 0

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def read(self, size: int = 1) -> bytes:
        time.sleep(min(self.timeout or 0.0, 0.002))
        return b""

    def write(self, data: bytes, /) -> int | None:
        self.written.append(data)
        return len(data)

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("retry", "attempts"), [(True, 2), (False, 1)])
def test_serial_link_retries_a_timeout_only_when_asked(retry: bool, attempts: int) -> None:
    port = SilentPort()
    link = SerialLink(port, baud=115200, latency_budget_s=0.01)
    with pytest.raises(LinkTimeout):
        link.query(Command.ANALOG, 5, retry_on_timeout=retry)
    assert len(port.written) == attempts
    assert link.stats.bytes_sent == sum(len(w) for w in port.written)
    assert link.stats.address(5).timeouts == attempts
    assert link.stats.replies_heard == 0


# ------------------------------------------------------------------------ CAN


def record(t: float, can_id: int, data: str) -> CanRecord:
    return CanRecord(t, can_id, bytes.fromhex(data))


# Reference §4: a real US5000 on V1.2 firmware.
V12_CYCLE = (
    (0x351, "1402C012C012C201"),
    (0x355, "58005E00"),
    (0x356, "7A13F2FE6B01"),
    (0x359, "0000000006504E"),
    (0x35C, "C000"),
    (0x35E, "50594C4F4E202020"),
)
V13_CYCLE = (
    (0x351, "1002C012C012C201"),
    (0x355, "540060000000"),
    (0x356, "7B13E9FE6B01"),
    (0x35A, "0000000000000000"),
    (0x35E, "50594C4F4E202020"),
    (0x35F, "4C4901033C02AA00"),
)


def cycles(messages: Sequence[tuple[int, str]], count: int, heartbeat: bool) -> list[CanRecord]:
    out: list[CanRecord] = []
    for n in range(count):
        out += [record(n + i * 0.01, can_id, data) for i, (can_id, data) in enumerate(messages)]
        if heartbeat:
            out.append(record(n + 0.5, 0x305, "0000000000000000"))
    return out


def test_fold_can_identifies_v12_and_times_the_heartbeat() -> None:
    observation = fold_can(cycles(V12_CYCLE, 3, heartbeat=True), duration_s=3.0, ended_at=2.6)
    assert observation.state is not None and observation.state.protocol == "pylon-v1.2"
    assert observation.state.module_count == 6
    assert observation.heartbeat_count == 3
    assert observation.heartbeat_period_s == pytest.approx(1.0)
    assert observation.last_heartbeat_age_s == pytest.approx(0.1)
    assert observation.cycle_s[0x351] == pytest.approx(1.0)


def test_fold_can_identifies_v13_without_heartbeat() -> None:
    observation = fold_can(cycles(V13_CYCLE, 2, heartbeat=False), duration_s=5.5)
    assert observation.state is not None and observation.state.protocol == "pylon-v1.3"
    assert observation.heartbeat_count == 0 and observation.heartbeat_period_s is None
    assert observation.duration_s == 5.5


class QueuedBus:
    """A python-can bus stand-in: hands out queued messages, then stays silent."""

    def __init__(self, messages: Sequence[can.Message]) -> None:
        self._queue = deque(messages)

    def recv(self, timeout: float | None = None) -> can.Message | None:
        if self._queue:
            return self._queue.popleft()
        time.sleep(min(timeout or 0.0, 0.01))
        return None


def test_live_heartbeat_age_runs_to_the_end_of_the_window_on_the_interface_clock() -> None:
    # The interface stamps frames on its own clock (here 5000 s: neither our
    # monotonic clock nor the epoch). One cycle and one heartbeat arrive at
    # once, then nothing: the heartbeat's age is the silent tail, timed by us.
    # Without the window's end, the age was 0 (the heartbeat was the last frame).
    messages = [
        can.Message(timestamp=5000.0 + 0.01 * i, arbitration_id=can_id, data=bytes.fromhex(d))
        for i, (can_id, d) in enumerate(V12_CYCLE)
    ]
    messages.append(can.Message(timestamp=5000.5, arbitration_id=0x305, data=bytes(8)))
    observation = discovery.observe_can(cast("can.BusABC", QueuedBus(messages)), window_s=0.4)
    assert observation.heartbeat_count == 1
    age = observation.last_heartbeat_age_s
    assert age is not None and 0.35 <= age <= 1.0


def test_can_window_ends_after_two_cycles_and_two_heartbeats() -> None:
    assert not can_done(cycles(V12_CYCLE, 1, heartbeat=True))
    assert not can_done(cycles(V12_CYCLE, 2, heartbeat=False))
    assert can_done(cycles(V12_CYCLE, 2, heartbeat=True))
    assert can_done(cycles(V13_CYCLE, 2, heartbeat=True))


# ------------------------------------------------------------ with the simulator


def test_scan_over_the_simulator_reads_rs485_and_can_at_once() -> None:
    with SimulatedSite("healthy-4", baud=115200, pty=False) as site:
        bus = site.open_can_bus()
        try:
            with SerialLink.open(site.rs485_url, baud=site.baud) as link:
                started = time.monotonic()
                snapshot = discovery.scan(link, bus, can_window_s=3.0)
                took = time.monotonic() - started
                stats = link.stats
        finally:
            bus.shutdown()
    assert [p.address for p in snapshot.packs] == [1, 2, 3, 4]
    assert snapshot.can is not None and snapshot.can.heartbeat_count >= 2
    assert snapshot.baud == 115200
    assert not [f for f in snapshot.findings if f.severity is Severity.FAIL]
    # Exactly 14 requests, 14 replies; the byte counters saw both directions.
    requests = sum(a.requests for a in stats.per_address.values())
    assert requests == stats.replies_heard == 14
    assert 14 * 18 <= stats.bytes_sent <= 14 * 22
    assert stats.bytes_received > 4 * (18 + 2 * 70)
    # CAN is heard while RS485 is polled: not the sum of both.
    assert took < 2.8
