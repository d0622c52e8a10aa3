"""Scan findings: every rule in checks/scan.py at, just below and just above its threshold.

Limits come from spec.py (manual + our documented choices): cell alarm 3.60 /
protection 3.65 V, under-voltage alarm 2.90 / protection 2.80 V, cell spread
warn 50 / fail 150 mV, dead sensor at or below -39 C, discharge -10..55 C,
charge 0..50 C, pack 44.8..57.6 V, parallel spread warn above 0.2 / fail above
0.5 V. A pack built by `reading()` is clean: every test changes one thing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from active_cli import spec
from active_cli.checks.scan import can_findings, pack_findings, scan_findings
from active_cli.discovery import fold_can
from active_cli.links.can_link import CanRecord
from active_cli.model import (
    AddressResult,
    AddressStatus,
    CanObservation,
    CanStackState,
    Finding,
    PackReading,
    Severity,
    StackSnapshot,
)

FAIL, WARN, INFO, OK = Severity.FAIL, Severity.WARN, Severity.INFO, Severity.OK
CELL_V = 3.300


def reading(address: int = 1, **fields: Any) -> PackReading:
    """A clean pack: 16 cells at 3.300 V, 25 C, 52.8 V, 60 % SOC, alarms read."""
    base = PackReading(
        address=address,
        protocol_variant="pylon",
        cell_voltages_v=(CELL_V,) * 16,
        temperatures_c=(25.0,) * 6,
        current_a=0.0,
        voltage_v=52.8,
        remaining_ah=188.4,
        full_ah=314.0,
        cycles=12,
        serial=f"ACT16000000000{address:02d}",
        firmware="1.3.0",
        alarm_read=True,
    )
    return replace(base, **fields)


def cells(number: int, volts: float) -> tuple[float, ...]:
    """16 cells at 3.300 V except `number` (1-based) at `volts`."""
    out = [CELL_V] * 16
    out[number - 1] = volts
    return tuple(out)


def temps(value: float) -> tuple[float, ...]:
    # 0x42 order on an Active16: BMS board, cell sensors 1-4, MOSFET. `value` is
    # cell sensor 1 (it was the first number, the board, until board and MOSFET
    # got their own limits: moved on purpose).
    return (25.0, value, 25.0, 25.0, 25.0, 25.0)


def found(findings: list[Finding]) -> dict[str, Severity]:
    return {f.code: f.severity for f in findings}


def answered(*addresses: int, **extra: Any) -> tuple[AddressResult, ...]:
    return tuple(
        AddressResult(a, AddressStatus.ANSWERED, requests=3, replies=3, **extra) for a in addresses
    )


def snapshot(*packs: PackReading, **fields: Any) -> StackSnapshot:
    fields.setdefault("addresses", answered(*(p.address for p in packs)))
    fields.setdefault("master_address", packs[0].address if packs else None)
    fields.setdefault("group_count", len(packs) or None)
    fields.setdefault("baud", 9600)
    return StackSnapshot(packs=packs, **fields)


def test_a_clean_pack_has_no_findings() -> None:
    assert pack_findings(reading()) == []


def test_a_clean_stack_says_only_that_it_was_found() -> None:
    result = scan_findings(snapshot(reading(1), reading(2)))
    assert [(f.severity, f.code) for f in result] == [(OK, "scan.packs-found")]
    assert "sequential addressing (master at 1)" in result[0].detail


# ------------------------------------------------------------------ cells


@pytest.mark.parametrize(
    ("volts", "expected"),
    [
        (3.599, {}),
        (spec.CELL_OVER_VOLTAGE_ALARM_V, {"pack.cell-high": WARN}),
        (3.649, {"pack.cell-high": WARN}),
        (spec.CELL_OVER_VOLTAGE_PROTECT_V, {"pack.cell-over-voltage": FAIL}),
        (2.901, {}),
        (spec.CELL_UNDER_VOLTAGE_ALARM_V, {"pack.cell-low": WARN}),
        (2.801, {"pack.cell-low": WARN}),
        (spec.CELL_UNDER_VOLTAGE_PROTECT_V, {"pack.cell-under-voltage": FAIL}),
    ],
)
def test_cell_voltage_thresholds(volts: float, expected: dict[str, Severity]) -> None:
    result = found(pack_findings(reading(cell_voltages_v=cells(9, volts))))
    result.pop("pack.cell-spread", None)  # one odd cell is also a spread: tested below
    assert result == expected


def test_cell_finding_names_the_cell_and_the_pack() -> None:
    (finding, *_) = pack_findings(reading(2, cell_voltages_v=cells(9, 3.700)))
    assert finding.title.startswith("Cell 9 of pack 2 at 3.700 V")


@pytest.mark.parametrize(
    ("high_v", "expected"),
    [
        (3.3499, None),  # 49.9 mV
        (3.350, WARN),  # 50 mV
        (3.4499, WARN),  # 149.9 mV
        (3.450, FAIL),  # 150 mV
    ],
)
def test_cell_spread_thresholds(high_v: float, expected: Severity | None) -> None:
    result = found(pack_findings(reading(cell_voltages_v=cells(3, high_v))))
    assert result.get("pack.cell-spread") is expected


# ------------------------------------------------------------- temperatures


@pytest.mark.parametrize(
    ("temp_c", "current_a", "expected"),
    [
        (spec.DEAD_SENSOR_TEMP_C, 0.0, {"pack.dead-sensor": FAIL}),
        (-38.9, 0.0, {"pack.temperature": FAIL}),  # alive, but below -10 C
        (-10.1, 0.0, {"pack.temperature": FAIL}),
        (-10.0, 0.0, {"pack.temperature": WARN}),  # may discharge, may not charge
        (-0.1, 0.0, {"pack.temperature": WARN}),
        (-0.1, 1.0, {"pack.temperature": FAIL}),  # ... and it is charging
        (0.0, 1.0, {}),
        (50.0, 1.0, {}),
        (50.1, 0.5, {"pack.temperature": WARN}),  # 0.5 A is not charging yet
        (50.1, 0.6, {"pack.temperature": FAIL}),
        (55.0, 0.0, {"pack.temperature": WARN}),
        (55.1, 0.0, {"pack.temperature": FAIL}),
    ],
)
def test_temperature_thresholds(
    temp_c: float, current_a: float, expected: dict[str, Severity]
) -> None:
    pack = reading(temperatures_c=temps(temp_c), current_a=current_a)
    assert found(pack_findings(pack)) == expected


@pytest.mark.parametrize(
    ("board_c", "mosfet_c", "expected"),
    [
        (52.0, 60.0, {}),  # hot for a cell, normal for electronics
        (70.0, 60.0, {"pack.temperature": WARN}),
        (80.0, 60.0, {"pack.temperature": FAIL}),
        (30.0, 85.0, {"pack.temperature": WARN}),
        (30.0, 90.0, {"pack.temperature": FAIL}),
    ],
)
def test_board_and_mosfet_sensors_have_their_own_limits(
    board_c: float, mosfet_c: float, expected: dict[str, Severity]
) -> None:
    pack = reading(temperatures_c=(board_c, 25.0, 25.0, 25.0, 25.0, mosfet_c), current_a=5.0)
    assert found(pack_findings(pack)) == expected


def test_sensors_are_named_by_their_role() -> None:
    # The dead-sensor scenario's "cell sensor 3" is the fourth number of the reply.
    pack = reading(temperatures_c=(25.0, 25.0, 25.0, -40.0, 25.0, 26.0))
    (dead,) = [f for f in pack_findings(pack) if f.code == "pack.dead-sensor"]
    assert "cell sensor 3 of pack 1" in dead.title
    assert pack.temperature_labels == (
        "BMS board",
        *(f"cell sensor {n}" for n in range(1, 5)),
        "MOSFET",
    )


# ------------------------------------------------------------- pack voltage


@pytest.mark.parametrize(
    ("volts", "failed"),
    [(44.79, True), (spec.MIN_VOLTAGE_V, False), (spec.MAX_VOLTAGE_V, False), (57.61, True)],
)
def test_pack_voltage_range(volts: float, failed: bool) -> None:
    result = found(pack_findings(reading(voltage_v=volts)))
    assert ("pack.voltage-range" in result) is failed


# ------------------------------------------------------------ BMS and unknowns


def test_bms_protection_fails_and_alarm_warns() -> None:
    result = found(
        pack_findings(reading(protections=("module over-voltage",), alarms=("cell 9 high",)))
    )
    assert result == {"pack.bms-protection": FAIL, "pack.bms-alarm": WARN}


def test_unread_alarms_and_serial_are_not_clean() -> None:
    result = found(pack_findings(reading(alarm_read=False, serial=None)))
    assert result == {"pack.alarms-unknown": WARN, "pack.serial-unknown": WARN}


# ------------------------------------------------------------------- stack


@pytest.mark.parametrize(
    ("second_v", "expected"),
    [(52.0, None), (52.2, None), (52.201, WARN), (52.5, WARN), (52.501, FAIL)],
)
def test_parallel_voltage_spread(second_v: float, expected: Severity | None) -> None:
    result = found(
        scan_findings(snapshot(reading(1, voltage_v=52.0), reading(2, voltage_v=second_v)))
    )
    assert result.get("stack.voltage-spread") is expected


def test_mixed_firmware_warns() -> None:
    result = found(scan_findings(snapshot(reading(1), reading(2, firmware="1.2.0"))))
    assert result["stack.mixed-firmware"] is WARN


@pytest.mark.parametrize(("remaining_ah", "expected"), [(157.0, None), (150.0, INFO)])
def test_soc_spread_over_10_points_is_information(
    remaining_ah: float, expected: Severity | None
) -> None:
    # 60 % against 50 % (157 Ah) is 10 points: not over; 150 Ah is 47.8 %.
    packs = (reading(1), reading(2, remaining_ah=remaining_ah))
    assert found(scan_findings(snapshot(*packs))).get("stack.soc-spread") is expected


# ----------------------------------------------------------------- addresses


def test_nothing_answered_fails_with_the_other_baud_rate_as_hint() -> None:
    silent = tuple(AddressResult(a, AddressStatus.SILENT, 1, 0, 1) for a in range(1, 18))
    (finding,) = scan_findings(StackSnapshot(addresses=silent, baud=9600))
    assert (finding.severity, finding.code) == (FAIL, "scan.no-packs")
    assert "1–17 at 9600 baud" in finding.detail
    # Physical terms only (the CLI adds the option names, see test_cli_scan).
    assert "115200 baud" in finding.fix and "poll more addresses" in finding.fix
    assert "--" not in finding.fix
    (finding,) = scan_findings(StackSnapshot(addresses=silent, baud=115200))
    assert "9600 baud" in finding.fix


def test_pylontech_addressing_is_named() -> None:
    packs = (reading(2), reading(3))
    addresses = (AddressResult(1, AddressStatus.SILENT, 1, 0, 1), *answered(2, 3))
    result = scan_findings(snapshot(*packs, addresses=addresses))
    assert "Pylontech convention (master at 2)" in result[0].detail


def test_gap_between_packs_warns() -> None:
    addresses = (*answered(1), AddressResult(2, AddressStatus.SILENT, 2, 0, 2), *answered(3))
    result = found(scan_findings(snapshot(reading(1), reading(3), addresses=addresses)))
    assert result["scan.gap"] is WARN


def test_garbled_stopped_and_refused_addresses() -> None:
    addresses = (
        *answered(1),
        AddressResult(2, AddressStatus.GARBLED, 2, 0, 0, 2, "bad CHKSUM"),
        AddressResult(3, AddressStatus.STOPPED, 4, 2, 2),
        AddressResult(4, AddressStatus.REFUSED, 1, 1),
    )
    result = found(scan_findings(snapshot(reading(1), reading(3), addresses=addresses)))
    assert result["scan.duplicate-address"] is FAIL
    assert result["scan.stopped-answering"] is FAIL
    assert result["scan.refused"] is WARN


@pytest.mark.parametrize(
    ("group_count", "expected"),
    [(3, FAIL), (2, None), (1, WARN)],
)
def test_master_group_count_against_packs_found(
    group_count: int, expected: Severity | None
) -> None:
    result = found(scan_findings(snapshot(reading(1), reading(2), group_count=group_count)))
    assert result.get("scan.master-count") is expected


def test_range_shortened_is_information() -> None:
    addresses = (*answered(1, 2), AddressResult(3, AddressStatus.NOT_POLLED))
    result = scan_findings(snapshot(reading(1), reading(2), addresses=addresses))
    shortened = next(f for f in result if f.code == "scan.range-shortened")
    assert shortened.severity is INFO and "every address" in shortened.fix
    assert "--" not in shortened.detail + shortened.fix


@pytest.mark.parametrize(("expected", "severity"), [(2, None), (3, FAIL), (1, FAIL)])
def test_expected_pack_count(expected: int, severity: Severity | None) -> None:
    packs = snapshot(reading(1), reading(2))
    assert found(scan_findings(packs, expected_packs=expected)).get("scan.expected-count") is (
        severity
    )


# -------------------------------------------------------------------- line


@pytest.mark.parametrize(
    ("timeouts", "corrupted", "warned"), [(0, 0, False), (1, 0, True), (0, 2, True)]
)
def test_link_errors_on_an_answering_address(timeouts: int, corrupted: int, warned: bool) -> None:
    addresses = (
        AddressResult(1, AddressStatus.ANSWERED, 5, 4, timeouts=timeouts, corrupted=corrupted),
    )
    result = scan_findings(snapshot(reading(1), addresses=addresses))
    errors = [f for f in result if f.code == "link.errors"]
    assert bool(errors) is warned
    if errors:
        assert errors[0].severity is WARN
        assert f"{timeouts + corrupted} of 5 requests failed" in errors[0].title


@pytest.mark.parametrize(("noise", "warned"), [(0, False), (1, True)])
def test_noise_on_the_line(noise: int, warned: bool) -> None:
    result = found(scan_findings(snapshot(reading(1), noise_bytes=noise)))
    assert ("link.noise" in result) is warned


def test_rs485_rules_are_skipped_when_only_can_was_scanned() -> None:
    observation = CanObservation(duration_s=1.0, frame_count=0)
    result = found(scan_findings(StackSnapshot(can=observation), rs485=False))
    assert result == {"can.no-battery-frames": FAIL}


# ------------------------------------------------- packs that report nothing


def test_a_pack_without_cells_or_temperatures_fails() -> None:
    # A 0x42 with a cell count and a temperature count of 0 used to pass silently.
    result = found(pack_findings(reading(cell_voltages_v=(), temperatures_c=())))
    assert result == {"pack.no-cells": FAIL, "pack.no-temperatures": FAIL}
    assert found(pack_findings(reading(temperatures_c=()))) == {"pack.no-temperatures": FAIL}


@pytest.mark.parametrize(
    ("full_ah", "expected"),
    [(0.0, None), (314.0, INFO)],  # pack 3 has no SOC (no full capacity): left out
)
def test_soc_spread_skips_packs_without_a_soc(full_ah: float, expected: Severity | None) -> None:
    packs = (
        reading(1, remaining_ah=300.0),  # 95.5 %
        reading(2, remaining_ah=290.0),  # 92.4 %
        reading(3, remaining_ah=0.0, full_ah=full_ah),
    )
    assert (packs[2].soc_pct is None) is (full_ah == 0)
    assert found(scan_findings(snapshot(*packs))).get("stack.soc-spread") is expected
    # One known SOC is no spread, not a crash.
    lone = (reading(1), reading(2, full_ah=0.0))
    assert "stack.soc-spread" not in found(scan_findings(snapshot(*lone)))


def test_two_addresses_with_one_serial_fail() -> None:
    twin = reading(3, serial=reading(1).serial)
    result = scan_findings(snapshot(reading(1), reading(2), twin))
    (finding,) = [f for f in result if f.code == "stack.duplicate-serial"]
    assert finding.severity is FAIL and "Addresses 1, 3" in finding.title
    # Unknown serials are not "the same serial".
    unknown = snapshot(reading(1, serial=None), reading(2, serial=None))
    assert "stack.duplicate-serial" not in found(scan_findings(unknown))


def test_range_shortened_says_how_many_were_read() -> None:
    addresses = (*answered(1, 2), AddressResult(3, AddressStatus.NOT_POLLED))
    result = scan_findings(snapshot(reading(1), reading(2), addresses=addresses))
    shortened = next(f for f in result if f.code == "scan.range-shortened")
    assert "the master reports 2 pack(s) and 2 were read" in shortened.detail


# --------------------------------------------------------------------- CAN

# Reference §4: a real US5000 on V1.2 firmware (0x359 byte 4: 6 modules).
V12_CYCLE = (
    (0x351, "1402C012C012C201"),
    (0x355, "58005E00"),
    (0x356, "7A13F2FE6B01"),
    (0x359, "0000000006504E"),
    (0x35C, "C000"),
    (0x35E, "50594C4F4E202020"),
)


def can_window(
    messages: tuple[tuple[int, str], ...] = V12_CYCLE,
    *,
    cycles: int = 5,
    beats: tuple[float, ...] = (0.5, 1.5, 2.5, 3.5, 4.5),
    duration_s: float = 5.0,
) -> CanObservation:
    """`cycles` battery cycles one second apart, 0x305 at `beats`, folded as a window."""
    records = [
        CanRecord(100.0 + n + 0.01 * i, can_id, bytes.fromhex(data))
        for n in range(cycles)
        for i, (can_id, data) in enumerate(messages)
    ]
    records += [CanRecord(100.0 + t, 0x305, bytes(8)) for t in beats]
    records.sort(key=lambda r: r.timestamp)
    return fold_can(records, duration_s)


def test_can_battery_and_heartbeat_present() -> None:
    result = found(can_findings(can_window()))
    assert result.pop("can.heartbeat") is OK
    assert set(result.values()) == {OK}
    assert {"can.message-set", "can.cycle", "can.charge-voltage", "can.enables"} <= set(result)


def test_can_without_battery_frames_fails_with_the_error_frames_counted() -> None:
    (finding,) = can_findings(CanObservation(duration_s=5.5, frame_count=3, error_frames=3))
    assert (finding.severity, finding.code) == (FAIL, "can.no-battery-frames")
    assert "3 error frame(s)" in finding.detail and "500 kbit/s" in finding.fix


def test_a_partial_message_set_fails() -> None:
    # Only 0x35E ("PYLON"): this used to read "OK Battery broadcasting pylon-unknown".
    result = found(can_findings(can_window(((0x35E, "50594C4F4E202020"),))))
    assert result["can.message-set"] is FAIL and result["can.limits-missing"] is FAIL


def test_can_missing_heartbeat_warns() -> None:
    result = can_findings(can_window(beats=()))
    heartbeat = next(f for f in result if f.code == "can.heartbeat")
    assert heartbeat.severity is WARN and "0x305" in heartbeat.title


@pytest.mark.parametrize(
    ("beats", "cycles", "duration_s", "title"),
    [
        # Every second for the first 3 s of a 10 s window: this used to be
        # "OK ... every 1.00 s" although the last one was 7 s old.
        ((0.5, 1.5, 2.5), 10, 10.0, "Inverter heartbeat 0x305 stopped"),
        # One in a 5 s window: this used to be "OK ... seen once".
        ((2.0,), 5, 5.0, "Inverter heartbeat 0x305 is not steady"),
    ],
)
def test_a_heartbeat_that_stopped_or_is_sparse_warns(
    beats: tuple[float, ...], cycles: int, duration_s: float, title: str
) -> None:
    result = can_findings(can_window(cycles=cycles, beats=beats, duration_s=duration_s))
    heartbeat = next(f for f in result if f.code == "can.heartbeat")
    assert (heartbeat.severity, heartbeat.title) == (WARN, title)


def test_can_protection_fails_and_alarm_warns() -> None:
    state = CanStackState(protocol="pylon-v1.2", protections=("over_voltage",), alarms=("high",))
    result = found(can_findings(replace(can_window(), state=state)))
    assert result["can.protection"] is FAIL and result["can.alarm"] is WARN


@pytest.mark.parametrize(("expected", "severity"), [(6, OK), (9, FAIL)])
def test_expected_count_is_checked_against_can_when_only_can_was_read(
    expected: int, severity: Severity
) -> None:
    # `scan --replay us5000.log --expect 9` used to exit 0: --expect was RS485-only.
    snap = StackSnapshot(can=can_window())
    result = found(scan_findings(snap, expected_packs=expected, rs485=False))
    assert result["can.module-count"] is severity
