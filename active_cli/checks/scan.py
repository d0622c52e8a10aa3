"""Rules that turn a scan snapshot into findings (pure).

Each rule names what it saw and what to do about it, from the manual's limits
(`spec.py`) and the failures installers meet on site (docs/troubleshooting.md). Missing
data is never good data: a pack whose alarms could not be read gets a finding
saying so, not a clean bill of health. What the master says on CAN is judged by
`check protocol`'s own rules (`checks.protocol.battery_findings`), so a scan and
a protocol check never disagree about one observation.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Final

from active_cli import spec
from active_cli.checks.protocol import (
    NO_BATTERY_FRAMES,
    Heartbeat,
    area_code,
    battery_findings,
    judge_heartbeat,
)
from active_cli.checks.verdict import Verdict, sort_findings, summarize
from active_cli.model import (
    AddressStatus,
    CanObservation,
    Finding,
    PackReading,
    Severity,
    StackSnapshot,
)

# Finding codes: stable identifiers that tests, JSON consumers, the report and
# the CLI match on (import these, never spell the string again).
CAN_HEARTBEAT: Final = "can.heartbeat"
LINK_ERRORS: Final = "link.errors"
LINK_NOISE: Final = "link.noise"
LINK_LATE: Final = "link.late-replies"
LINK_BABBLE: Final = "link.babbling"
PACK_ALARMS_UNKNOWN: Final = "pack.alarms-unknown"
PACK_BMS_ALARM: Final = "pack.bms-alarm"
PACK_BMS_PROTECTION: Final = "pack.bms-protection"
PACK_CELL_HIGH: Final = "pack.cell-high"
PACK_CELL_LOW: Final = "pack.cell-low"
PACK_CELL_OVER_VOLTAGE: Final = "pack.cell-over-voltage"
PACK_CELL_SPREAD: Final = "pack.cell-spread"
PACK_CELL_UNDER_VOLTAGE: Final = "pack.cell-under-voltage"
PACK_DEAD_SENSOR: Final = "pack.dead-sensor"
PACK_NO_CELLS: Final = "pack.no-cells"
PACK_NO_TEMPERATURES: Final = "pack.no-temperatures"
PACK_SERIAL_UNKNOWN: Final = "pack.serial-unknown"
PACK_TEMPERATURE: Final = "pack.temperature"
PACK_VOLTAGE_RANGE: Final = "pack.voltage-range"
DUPLICATE_ADDRESS: Final = "scan.duplicate-address"
EXPECTED_COUNT: Final = "scan.expected-count"
GAP: Final = "scan.gap"
MASTER_COUNT: Final = "scan.master-count"
NO_PACKS: Final = "scan.no-packs"
PACKS_FOUND: Final = "scan.packs-found"
RANGE_SHORTENED: Final = "scan.range-shortened"
REFUSED: Final = "scan.refused"
STOPPED_ANSWERING: Final = "scan.stopped-answering"
STACK_DUPLICATE_SERIAL: Final = "stack.duplicate-serial"
STACK_MIXED_FIRMWARE: Final = "stack.mixed-firmware"
STACK_SOC_SPREAD: Final = "stack.soc-spread"
STACK_VOLTAGE_SPREAD: Final = "stack.voltage-spread"
# The shared battery rules on CAN (`checks.protocol.battery_findings`, area "can").
CAN_NO_BATTERY_FRAMES: Final = area_code("can", NO_BATTERY_FRAMES)


FAIL, WARN, INFO, OK = Severity.FAIL, Severity.WARN, Severity.INFO, Severity.OK


def scan_findings(
    snapshot: StackSnapshot, *, expected_packs: int | None = None, rs485: bool = True
) -> list[Finding]:
    findings: list[Finding] = []
    if rs485:
        findings += _address_findings(snapshot, expected_packs)
        for pack in snapshot.packs:
            findings += pack_findings(pack)
        findings += _stack_findings(snapshot.packs)
        findings += _line_findings(snapshot)
    if snapshot.can is not None:
        findings += can_findings(snapshot.can, expected_packs=expected_packs)
    return findings


def _ranges(numbers: Iterable[int]) -> str:
    values = sorted(numbers)
    if not values:
        return "none"
    runs: list[list[int]] = []
    for n in values:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def _address_findings(snapshot: StackSnapshot, expected: int | None) -> list[Finding]:
    out: list[Finding] = []
    by_status: dict[AddressStatus, list[int]] = {}
    for result in snapshot.addresses:
        by_status.setdefault(result.status, []).append(result.address)
    found = sorted(p.address for p in snapshot.packs)
    polled = snapshot.addresses_polled
    if not found:
        # Inverter-facing ports run 9600, a Pylontech console 115200 (reference §3.1).
        other_baud = 115200 if snapshot.baud == 9600 else 9600
        out.append(
            Finding(
                FAIL,
                NO_PACKS,
                "No pack answered",
                f"polled address(es) {_ranges(polled)} at {snapshot.baud or '?'} baud",
                fix="wiring: battery COM port pin 1 RS485-B, pin 2 RS485-A (swap A/B if unsure); "
                f"baud: try {other_baud} baud; address: poll more addresses (e.g. 0-20); "
                "adapter: the right port, powered, packs switched on",
            )
        )
        return out
    master = snapshot.master_address
    convention = (
        "Pylontech convention (master at 2)"
        if master == 2
        else "sequential addressing (master at 1)"
        if master == 1
        else f"master at {master}"
    )
    out.append(
        Finding(
            OK,
            PACKS_FOUND,
            f"{len(found)} pack(s) answered at address(es) {_ranges(found)}",
            f"{convention}; polled {_ranges(polled)}",
        )
    )
    silent = set(by_status.get(AddressStatus.SILENT, []))
    for a, b in itertools.pairwise(found):
        missing = [n for n in range(a + 1, b) if n in silent]
        if missing:
            out.append(
                Finding(
                    WARN,
                    GAP,
                    f"Address {_ranges(missing)} missing between {a} and {b}",
                    "packs are usually numbered without gaps",
                    fix="check that pack is switched on and linked (Link out -> Link in), "
                    "and its address setting",
                )
            )
    for result in snapshot.addresses:
        if result.status is AddressStatus.GARBLED:
            out.append(
                Finding(
                    FAIL,
                    DUPLICATE_ADDRESS,
                    f"Two packs may answer at address {result.address}",
                    "every reply at this address was garbled while other addresses answer "
                    "cleanly: that is what two packs talking at once look like",
                    evidence=(result.detail,) if result.detail else (),
                    fix=f"give each pack its own address; power packs on one at a time to find the "
                    f"second pack at {result.address}",
                )
            )
        elif result.status is AddressStatus.STOPPED:
            out.append(
                Finding(
                    FAIL,
                    STOPPED_ANSWERING,
                    f"Pack at address {result.address} answered, then stopped",
                    result.detail,
                    fix="check the pack's power and its link cable; an intermittent pack must not "
                    "be commissioned",
                )
            )
        elif result.status is AddressStatus.REFUSED:
            out.append(
                Finding(
                    WARN,
                    REFUSED,
                    f"Address {result.address} answered with an error code",
                    result.detail,
                    fix="the master may not reach this slave over the BMS link (RTN 91): check the "
                    "link cables",
                )
            )
    group = snapshot.group_count
    if group is not None:
        if group > len(found):
            out.append(
                Finding(
                    FAIL,
                    MASTER_COUNT,
                    f"The master sees {group} packs but only {len(found)} answered",
                    f"group read at address {master}",
                    fix="the other packs are on the BMS link but not answering at the polled "
                    "addresses: poll more addresses, check their address settings",
                )
            )
        elif group < len(found):
            out.append(
                Finding(
                    WARN,
                    MASTER_COUNT,
                    f"The master reports {group} pack(s) but {len(found)} answered",
                    fix="check the Link out -> Link in cables between packs",
                )
            )
        skipped = by_status.get(AddressStatus.NOT_POLLED, [])
        if skipped:
            out.append(
                Finding(
                    INFO,
                    RANGE_SHORTENED,
                    f"Addresses {_ranges(skipped)} not polled",
                    # Facts only: discovery stops once as many packs were read as
                    # the master reports; GARBLED or REFUSED addresses do not count.
                    f"the master reports {group} pack(s) and {len(found)} were read",
                    fix="to poll them anyway, ask for every address to be polled",
                )
            )
    if expected is not None and expected != len(found):
        out.append(
            Finding(
                FAIL,
                EXPECTED_COUNT,
                f"Expected {expected} packs, found {len(found)}",
                fix="only the master answering usually means the Link out -> Link in cabling is "
                "wrong or the slaves are off",
            )
        )
    return out


def pack_findings(pack: PackReading) -> list[Finding]:
    """Cell, temperature, voltage and BMS-alarm rules for one pack."""
    out: list[Finding] = []
    name = f"pack {pack.address}"
    cells = pack.cell_voltages_v
    if not cells:
        out.append(
            Finding(
                FAIL,
                PACK_NO_CELLS,
                f"{name.capitalize()} reports no cell voltages",
                "its 0x42 reply has a cell count of 0: nothing about its cells can be checked",
                fix="check the BMS's cell sampling harness; the pack needs service",
            )
        )
    if not pack.temperatures_c:
        out.append(
            Finding(
                FAIL,
                PACK_NO_TEMPERATURES,
                f"{name.capitalize()} reports no temperatures",
                "its 0x42 reply has a temperature count of 0: the BMS cannot protect the "
                "cells from heat or cold it does not see",
                fix="check the temperature sensors' collection lines; the pack needs service",
            )
        )
    for number, volts in enumerate(cells, 1):
        if volts >= spec.CELL_OVER_VOLTAGE_PROTECT_V:
            out.append(
                Finding(
                    FAIL,
                    PACK_CELL_OVER_VOLTAGE,
                    f"Cell {number} of {name} at {volts:.3f} V: over-voltage protection",
                    f"protection at {spec.CELL_OVER_VOLTAGE_PROTECT_V:.2f} V, "
                    f"the manual's range ends at {spec.CELL_MAX_V:.2f} V per cell",
                    fix="stop charging; let the BMS balance, or discharge the pack a little; "
                    "a cell that keeps running high needs service",
                )
            )
        elif volts >= spec.CELL_OVER_VOLTAGE_ALARM_V:
            out.append(
                Finding(
                    WARN,
                    PACK_CELL_HIGH,
                    f"Cell {number} of {name} at {volts:.3f} V: high",
                    f"alarm at {spec.CELL_OVER_VOLTAGE_ALARM_V:.2f} V",
                )
            )
        elif volts <= spec.CELL_UNDER_VOLTAGE_PROTECT_V:
            out.append(
                Finding(
                    FAIL,
                    PACK_CELL_UNDER_VOLTAGE,
                    f"Cell {number} of {name} at {volts:.3f} V: under-voltage protection",
                    f"protection at {spec.CELL_UNDER_VOLTAGE_PROTECT_V:.2f} V",
                    fix="charge the pack (manual, Common Issues 1: startup after charging "
                    "activation)",
                )
            )
        elif volts <= spec.CELL_UNDER_VOLTAGE_ALARM_V:
            out.append(
                Finding(
                    WARN,
                    PACK_CELL_LOW,
                    f"Cell {number} of {name} at {volts:.3f} V: low",
                    f"alarm at {spec.CELL_UNDER_VOLTAGE_ALARM_V:.2f} V",
                )
            )
    spread, lowest, highest = pack.cell_spread_mv, pack.min_cell_v, pack.max_cell_v
    if (
        spread is not None
        and lowest is not None
        and highest is not None
        and spread >= spec.CELL_SPREAD_WARN_MV
    ):
        severity = FAIL if spread >= spec.CELL_SPREAD_FAIL_MV else WARN
        low = cells.index(lowest) + 1
        high = cells.index(highest) + 1
        out.append(
            Finding(
                severity,
                PACK_CELL_SPREAD,
                f"Cell spread of {name}: {spread:.0f} mV (cell {low} lowest, cell {high} highest)",
                f"warn at {spec.CELL_SPREAD_WARN_MV:.0f} mV, fail at "
                f"{spec.CELL_SPREAD_FAIL_MV:.0f} mV",
                fix="charge fully and leave the pack to balance; a spread that stays needs service",
            )
        )
    out += _temperature_findings(pack, name)
    if not spec.MIN_VOLTAGE_V <= pack.voltage_v <= spec.MAX_VOLTAGE_V:
        out.append(
            Finding(
                FAIL,
                PACK_VOLTAGE_RANGE,
                f"{name.capitalize()} at {pack.voltage_v:.2f} V is outside "
                f"{spec.MIN_VOLTAGE_V}–{spec.MAX_VOLTAGE_V} V",
                "manual, Technical Parameters: voltage range",
            )
        )
    if pack.protections:
        out.append(
            Finding(
                FAIL,
                PACK_BMS_PROTECTION,
                f"{name.capitalize()} BMS protection: {', '.join(pack.protections)}",
                fix="find the cause before linking or powering the inverter",
            )
        )
    if pack.alarms:
        out.append(
            Finding(
                WARN,
                PACK_BMS_ALARM,
                f"{name.capitalize()} BMS alarm: {', '.join(pack.alarms)}",
            )
        )
    if not pack.alarm_read:
        out.append(
            Finding(
                WARN,
                PACK_ALARMS_UNKNOWN,
                f"The alarm state of {name} could not be read",
                "so 'no alarms' cannot be claimed for it",
                fix="scan again; if it persists, check the line (error counts below)",
            )
        )
    if pack.serial is None:
        out.append(
            Finding(WARN, PACK_SERIAL_UNKNOWN, f"The serial number of {name} could not be read")
        )
    return out


def _temperature_findings(pack: PackReading, name: str) -> list[Finding]:
    """Each sensor by its role (`spec.temperature_labels`), against its own limits.

    Cell sensors are judged against the cells' operating and charging ranges;
    the BMS board and MOSFET sensors against electronics limits (a power stage
    at 52 °C is normal, a cell at 52 °C is not).
    """
    out: list[Finding] = []
    charging = pack.current_a > 0.5
    for label, temp in zip(pack.temperature_labels, pack.temperatures_c, strict=True):
        sensor = f"{label} of {name}"
        if temp <= spec.DEAD_SENSOR_TEMP_C:
            out.append(
                Finding(
                    FAIL,
                    PACK_DEAD_SENSOR,
                    f"Temperature {sensor} reads {temp:.1f} °C: dead or open sensor",
                    "manual, Common Issues 5: damaged temperature-sensing head",
                    fix="replace the sensor's collection line; the BMS cannot protect the cells "
                    "it watches",
                )
            )
        elif label in ("MOSFET", "BMS board"):
            warn_c, fail_c = (
                (spec.MOSFET_TEMP_WARN_C, spec.MOSFET_TEMP_FAIL_C)
                if label == "MOSFET"
                else (spec.BOARD_TEMP_WARN_C, spec.BOARD_TEMP_FAIL_C)
            )
            if temp >= warn_c:
                out.append(
                    Finding(
                        FAIL if temp >= fail_c else WARN,
                        PACK_TEMPERATURE,
                        f"Temperature {sensor} at {temp:.1f} °C: the electronics run hot",
                        f"{label}: warn from {warn_c:.0f} °C, fail from {fail_c:.0f} °C (our "
                        "choice; manual, Common Issues 7: MOS temperature abnormal)",
                        fix="reduce the current and check the pack's ventilation; a power stage "
                        "that stays hot needs service",
                    )
                )
        elif temp > spec.DISCHARGE_TEMP_MAX_C or temp < spec.DISCHARGE_TEMP_MIN_C:
            out.append(
                Finding(
                    FAIL,
                    PACK_TEMPERATURE,
                    f"Temperature {sensor} at {temp:.1f} °C is outside the operating range",
                    f"discharge {spec.DISCHARGE_TEMP_MIN_C:.0f}–{spec.DISCHARGE_TEMP_MAX_C:.0f} °C "
                    "(manual, Technical Parameters)",
                    fix="stop and let the pack reach a normal temperature; check ventilation",
                )
            )
        elif temp > spec.CHARGE_TEMP_MAX_C or temp < spec.CHARGE_TEMP_MIN_C:
            out.append(
                Finding(
                    FAIL if charging else WARN,
                    PACK_TEMPERATURE,
                    f"Temperature {sensor} at {temp:.1f} °C: outside the charging range",
                    f"charge {spec.CHARGE_TEMP_MIN_C:.0f}–{spec.CHARGE_TEMP_MAX_C:.0f} °C "
                    "(manual, Technical Parameters)",
                    fix="do not charge until the pack is back in its charging range",
                )
            )
    return out


def _stack_findings(packs: tuple[PackReading, ...]) -> list[Finding]:
    out: list[Finding] = []
    if len(packs) < 2:
        return out
    by_serial: dict[str, list[int]] = {}
    for pack in packs:
        if pack.serial:
            by_serial.setdefault(pack.serial, []).append(pack.address)
    for serial, addresses in by_serial.items():
        if len(addresses) > 1:
            out.append(
                Finding(
                    FAIL,
                    STACK_DUPLICATE_SERIAL,
                    f"Addresses {_ranges(addresses)} report the same serial {serial}",
                    "one pack answering at several addresses (replies credited to the wrong "
                    "address), or a BMS with a copied serial: the packs cannot be told apart",
                    fix="power the packs on one at a time and scan each: every pack must answer at "
                    "exactly one address with its own serial (label on the pack)",
                )
            )
    firmwares = {p.firmware for p in packs if p.firmware}
    if len(firmwares) > 1:
        detail = ", ".join(f"pack {p.address}: {p.firmware}" for p in packs)
        out.append(
            Finding(
                WARN,
                STACK_MIXED_FIRMWARE,
                f"Mixed firmware in one stack: {', '.join(sorted(firmwares))}",
                detail,
                fix="bring every pack to the same firmware (checklist 1.4 Latest Firmware)",
            )
        )
    volts = [p.voltage_v for p in packs]
    # Packs report mV: round to it, so 52.2 - 52.0 is 0.200 V, not 0.2000000000000028.
    spread = round(max(volts) - min(volts), 3)
    if spread > spec.PARALLEL_SPREAD_WARN_V:
        low = min(packs, key=lambda p: p.voltage_v)
        high = max(packs, key=lambda p: p.voltage_v)
        out.append(
            Finding(
                FAIL if spread > spec.PARALLEL_SPREAD_FAIL_V else WARN,
                STACK_VOLTAGE_SPREAD,
                f"Pack voltages differ by {spread:.2f} V (pack {low.address} "
                f"{low.voltage_v:.2f} V, pack {high.address} {high.voltage_v:.2f} V)",
                "linked packs sit at one voltage; a spread means they are not linked yet or a "
                "pack is isolated by its BMS",
                fix="before linking, run `active check parallel`",
            )
        )
    # A pack that reports no full capacity has no SOC: left out, not taken as 0 %.
    socs = [soc for p in packs if (soc := p.soc_pct) is not None]
    if len(socs) >= 2 and max(socs) - min(socs) > 10:
        out.append(
            Finding(
                INFO,
                STACK_SOC_SPREAD,
                f"SOC differs by {max(socs) - min(socs):.0f} % between packs",
                "LiFePO4 rest voltage is flat between ~20 and 90 % SOC: a small voltage spread "
                "can hide a large SOC difference",
            )
        )
    return out


def _line_findings(snapshot: StackSnapshot) -> list[Finding]:
    out: list[Finding] = []
    for result in snapshot.addresses:
        failures = result.timeouts + result.corrupted
        if result.status is AddressStatus.ANSWERED and failures:
            out.append(
                Finding(
                    WARN,
                    LINK_ERRORS,
                    f"Address {result.address}: {failures} of {result.requests} requests failed "
                    f"({100 * result.error_rate:.0f} %)",
                    f"{result.corrupted} corrupted, {result.timeouts} timed out; each was retried",
                    fix="intermittent RS485: use an isolated adapter, shorten the cable, check "
                    "ground and A/B",
                )
            )
    if snapshot.late_reply_ms:
        worst = max(snapshot.late_reply_ms)
        out.append(
            Finding(
                WARN,
                LINK_LATE,
                f"Replies arrive late ({worst:.0f} ms): {len(snapshot.late_reply_ms)} reply(ies) "
                "began after the reply budget",
                "a slow BMS or gateway, not a wiring fault: the replies were whole and the link "
                "waited longer for the rest of the scan",
                fix="raise the reply timeout",
            )
        )
    if snapshot.babbling_reads:
        out.append(
            Finding(
                WARN,
                LINK_BABBLE,
                f"Bytes kept arriving but never formed a frame ({snapshot.babbling_reads} read(s))",
                "another master on the line, the wrong baud rate, or A/B swapped",
                fix="unplug the inverter's BMS cable while polling; check the baud rate and A/B",
            )
        )
    if snapshot.noise_bytes:
        out.append(
            Finding(
                WARN,
                LINK_NOISE,
                f"{snapshot.noise_bytes} byte(s) of noise on the line",
                "bytes outside any frame, or frames that answered another address or request: "
                "a wrong baud rate, swapped A/B, a late reply, or a second master (the "
                "inverter) talking on the same line",
                fix="poll RS485 with the inverter's BMS cable unplugged, or read CAN passively",
            )
        )
    return out


def can_findings(can: CanObservation, *, expected_packs: int | None = None) -> list[Finding]:
    """What the master says on CAN, and whether the inverter answers.

    The battery's side (message set, cycle, limits, flags, module count against
    `expected_packs`) is `check protocol`'s own rules (`battery_findings`), so
    both commands give the same verdict; codes are ``can.*`` here. The
    heartbeat is judged as there too, but only warned about: during a scan the
    inverter may well be off on purpose.
    """
    out = battery_findings(can, area="can", expected_packs=expected_packs)
    if can.state is None:
        return out  # no battery on CAN: an inverter has nothing to answer
    verdict = judge_heartbeat(can)
    match verdict.state:
        case Heartbeat.STEADY:
            out.append(
                Finding(
                    OK,
                    CAN_HEARTBEAT,
                    f"Inverter heartbeat 0x305 present, every {can.heartbeat_period_s:.2f} s",
                    verdict.seen,
                )
            )
        case Heartbeat.MISSING:
            out.append(
                Finding(
                    WARN,
                    CAN_HEARTBEAT,
                    f"No inverter heartbeat (0x305) in {can.duration_s:.1f} s",
                    "the inverter is off, not wired to CAN, or set to another battery protocol",
                    fix="power the inverter after the batteries and pick the Pylon / lithium CAN "
                    "setting; `active check protocol` says which for your inverter",
                )
            )
        case Heartbeat.STOPPED | Heartbeat.SPARSE:
            out.append(
                Finding(
                    WARN,
                    CAN_HEARTBEAT,
                    "Inverter heartbeat 0x305 "
                    + ("stopped" if verdict.state is Heartbeat.STOPPED else "is not steady"),
                    verdict.seen,
                    fix="a heartbeat that comes and goes is a loose CAN plug, missing "
                    "termination or an inverter restarting; `active check protocol` judges it",
                )
            )
        case Heartbeat.UNTIMED:
            out.append(
                Finding(
                    INFO,
                    CAN_HEARTBEAT,
                    f"Inverter heartbeat 0x305 present, {can.heartbeat_count} time(s) in "
                    f"{can.duration_s:.1f} s: too short a window to time it",
                    verdict.seen,
                    fix="listen longer (at least 5.5 s)",
                )
            )
        case Heartbeat.IRREGULAR:
            out.append(
                Finding(
                    WARN,
                    CAN_HEARTBEAT,
                    f"Inverter heartbeat 0x305 every {can.heartbeat_period_s:.2f} s "
                    "(about 1 s expected)",
                    verdict.seen,
                )
            )
    return out


def scan_verdict(snapshot: StackSnapshot) -> Verdict:
    """One line: every pack answered and nothing failed, or the first thing to fix."""
    packs = len(snapshot.packs)
    if snapshot.packs:
        ok = f"{packs} pack(s) answered, nothing failed"
    elif snapshot.can is not None and snapshot.can.state is not None:
        ok = "the battery answered on CAN, nothing failed"
    else:
        ok = "nothing failed"
    return summarize(sort_findings(snapshot.findings), ok=ok)
