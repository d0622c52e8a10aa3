"""The steps before anything is linked: site, sizing, the packs one by one, wiring.

Manual, "Parallel installation": "Use a multimeter to check if the voltage of
each battery is consistent" before the packs are linked. Here each pack is
switched on on its own and read over RS485 (voltage, SOC, serial, firmware,
model), or its multimeter voltage is typed in; the parallel check then
decides, and a FAIL stops the run with what to charge or discharge.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from active_cli.checks.parallel import PackVoltage, check_parallel
from active_cli.checks.sizing import check_sizing
from active_cli.checks.wiring import check_wiring
from active_cli.commissioning import results as codes
from active_cli.commissioning.context import Commissioning
from active_cli.commissioning.results import StepResult, finding
from active_cli.commissioning.session import Installer, PackRecord, SiteInfo
from active_cli.model import Finding, PackReading, Severity
from active_cli.procedures.packs import ReadPack, read_packs, wait_for

# Reading one pack on its own: it has just been switched on (BMS boot) or the
# cable was just moved; half a minute, then the installer is asked again.
SINGLE_PACK_TIMEOUT_S = 30.0


def run_site(c: Commissioning) -> StepResult:
    """Who, where, which inverter, how many packs."""
    site = c.session.site
    installer = Installer(
        name=c.text("installer.name", "Installer name", default=site.installer.name),
        company=c.text("installer.company", "Company", default=site.installer.company),
        phone=c.text("installer.phone", "Phone", default=site.installer.phone),
        email=c.text("installer.email", "Email", default=site.installer.email),
    )
    filled = SiteInfo(
        installer=installer,
        ticket=c.text("site.ticket", "Service ticket number or system ID", default=site.ticket),
        street=c.text("site.street", "Site street / no.", default=site.street),
        zip_city=c.text("site.zip_city", "Site ZIP / city", default=site.zip_city),
        portal_name=c.text(
            "site.portal_name", "System name on the inverter portal", default=site.portal_name
        ),
        inverter_profile=site.inverter_profile,
        inverter_name=site.inverter_name,
        inverter_serial=c.text(
            "inverter.serial", "Inverter serial number", default=site.inverter_serial
        ),
        inverter_firmware=c.text(
            "inverter.firmware", "Inverter firmware", default=site.inverter_firmware
        ),
        inverter_power_w=site.inverter_power_w,
        packs_expected=site.packs_expected,
        bms_internet=site.bms_internet,
    )
    c.session = dataclasses.replace(c.session, site=filled)
    evidence = [
        f"inverter: {filled.inverter_name} (profile {filled.inverter_profile})",
        f"packs expected: {filled.packs_expected}",
    ]
    missing = [
        label
        for label, value in (
            ("installer", installer.name),
            ("company", installer.company),
            ("ticket / system ID", filled.ticket),
        )
        if not value
    ]
    found: list[Finding] = []
    if missing:
        found.append(
            finding(
                Severity.INFO,
                codes.SITE,
                "Not given: " + ", ".join(missing),
                fix="fill them in on the ticket by hand, or give them with --answers",
            )
        )
    return StepResult(tuple(found), tuple(evidence))


def run_sizing(c: Commissioning) -> StepResult:
    """The manual's current, terminal and busbar rules for this inverter and stack."""
    power = c.options.inverter_power_w or c.session.site.inverter_power_w
    if power is None:
        power = c.power("inverter.power_w", "Inverter rated power (8000, 8000W or 8kW)")
    if power is None:
        return StepResult(skipped="inverter power not given")
    c.session = dataclasses.replace(
        c.session, site=dataclasses.replace(c.session.site, inverter_power_w=power)
    )
    try:
        result = check_sizing(power, c.session.site.packs_expected)
    except ValueError as e:
        return StepResult(
            (
                finding(
                    Severity.FAIL,
                    "commission.sizing-input",
                    str(e),
                    fix="give the inverter's rated power in W",
                ),
            )
        )
    evidence = (
        f"inverter {power:g} W, {c.session.site.packs_expected} pack(s) at "
        f"{result.voltage_v:g} V: {result.stack_current_a:.0f} A for the stack, "
        f"{result.current_per_pack_a:.0f} A per pack",
        *result.assumptions,
    )
    return StepResult(result.findings, evidence)


def run_before_linking(c: Commissioning) -> StepResult:
    """Every pack on its own, then the parallel check (voltage and SOC spread)."""
    count = c.session.site.packs_expected
    if c.options.voltages:
        if len(c.options.voltages) != count:
            return StepResult(
                (
                    finding(
                        Severity.FAIL,
                        codes.PACK_NOT_READ,
                        f"{len(c.options.voltages)} voltage(s) given for {count} pack(s)",
                        fix="measure every pack with the multimeter and give one voltage each",
                    ),
                )
            )
        records = tuple(
            PackRecord(
                position=i, address=None, source="multimeter", read_at=c.stamp(), voltage_v=v
            )
            for i, v in enumerate(c.options.voltages, start=1)
        )
        packs = [PackVoltage(f"pack {r.position}", r.voltage_v or 0.0) for r in records]
        c.session = dataclasses.replace(c.session, before_linking=records)
        result = check_parallel(packs, c.options.parallel)
        return StepResult(result.findings, _parallel_evidence(packs))
    read, missing, scan_findings = _read_each(c, count)
    records = tuple(
        PackRecord.from_reading(p.reading, position=i, read_at=stamp)
        for i, (p, stamp) in sorted(read.items())
    )
    c.session = dataclasses.replace(c.session, before_linking=records)
    c.save()
    found: list[Finding] = list(scan_findings)
    for position in missing:
        found.append(
            finding(
                Severity.FAIL,
                codes.PACK_NOT_READ,
                f"pack {position} was not read before linking",
                fix=f"switch pack {position} on on its own, plug the laptop cable into its COM "
                "port and run the step again (or measure it with a multimeter)",
            )
        )
    readings = [p for p, _ in (read[k] for k in sorted(read))]
    packs = [PackVoltage.from_reading(p.reading, p.label) for p in readings]
    if count == 1 and len(packs) == 1:
        # One pack links to nothing: there is no spread to judge, only the pack.
        found.append(
            finding(Severity.OK, codes.SINGLE_PACK, "a single pack: nothing to link in parallel")
        )
    elif packs:
        result = check_parallel(packs, c.options.parallel, scan_findings=tuple(found))
        found = list(result.findings)
    found.extend(_inventory([p.reading for p in readings]))
    return StepResult(tuple(found), _parallel_evidence(packs) + _inventory_evidence(records))


def _read_each(
    c: Commissioning, count: int
) -> tuple[dict[int, tuple[ReadPack, str]], list[int], list[Finding]]:
    """Switch each pack on alone, read it where the laptop cable is, switch it off again."""
    read: dict[int, tuple[ReadPack, str]] = {}
    missing: list[int] = []
    failures: list[Finding] = []
    done = {r.position: r for r in c.session.before_linking if r.position is not None}
    for position in range(1, count + 1):
        c.actuator.switch_on_pack(
            position,
            f"Pack {position}: switch it on on its own (not linked to any other pack) and plug "
            "the laptop's cable into its COM port",
        )
        got = _read_single(c, position, read)
        if got is not None:
            pack = got[0]
            soc = "unknown" if pack.reading.soc_pct is None else f"{pack.reading.soc_pct:.0f} %"
            c.prompter.say(f"{pack.label}: {pack.reading.voltage_v:.2f} V, SOC {soc}")
        c.actuator.switch_off_pack(
            position, f"Pack {position}: switch it off again (packs are linked while off)"
        )
        if got is None:
            if position in done:
                c.prompter.say(f"pack {position}: kept the reading recorded earlier")
            missing.append(position)
            continue
        pack, scan = got
        read[position] = (pack, c.stamp())
        failures.extend(
            dataclasses.replace(f, title=f"pack {position}: {f.title}") for f in scan if f.failed
        )
    return read, missing, failures


def _read_single(
    c: Commissioning, position: int, read: dict[int, tuple[ReadPack, str]]
) -> tuple[ReadPack, tuple[Finding, ...]] | None:
    """The one pack on the cable now; a serial already read means the cable did not move."""

    link = c.links.rs485
    if link is None:
        return None

    def probe() -> tuple[ReadPack, tuple[Finding, ...]] | None:
        # The laptop's port stays open while the RJ45 end moves from pack to
        # pack, so the link keeps what it learned of the line's timing.
        result = read_packs(link, c.options.addresses)
        if not result.packs:
            return None
        return result.packs[0], result.findings

    while True:
        got = wait_for(probe, SINGLE_PACK_TIMEOUT_S, clock=c.clock, sleep=c.sleep, interval_s=1.0)
        if got is None:
            c.prompter.say(f"pack {position}: no pack answered on the cable")
            return None
        pack, scan = got
        again = next(
            (
                p
                for p, _ in read.values()
                if pack.reading.serial and p.reading.serial == pack.reading.serial
            ),
            None,
        )
        if again is None:
            return ReadPack(f"pack {position} ({pack.label})", pack.reading), scan
        c.prompter.say(
            f"That is {again.label} again (serial {pack.reading.serial}): move the cable to "
            f"pack {position}."
        )
        if c.options.assume_yes:
            return None  # nobody to move the cable: leave it unread rather than loop


def _parallel_evidence(packs: list[PackVoltage]) -> tuple[str, ...]:
    lines = []
    for pack in packs:
        soc = "" if pack.soc_pct is None else f", SOC {pack.soc_pct:.0f} %"
        lines.append(f"{pack.label}: {pack.voltage_v:.2f} V{soc} ({pack.source})")
    return tuple(lines)


def _inventory(readings: list[PackReading]) -> list[Finding]:
    """Firmware and model of every pack: a mixed stack is worth knowing before it is linked."""
    found: list[Finding] = []
    by_address = Counter(r.address for r in readings)
    for address, n in by_address.items():
        if n > 1:
            found.append(
                finding(
                    Severity.WARN,
                    codes.SAME_ADDRESS_UNLINKED,
                    f"{n} packs are set to address {address}",
                    detail="each pack of a linked stack needs its own address",
                    fix="set the address switches so that every pack has its own address "
                    "before linking (manual: address setting)",
                )
            )
    for attribute, code, what in (
        ("firmware", codes.MIXED_FIRMWARE, "firmware"),
        ("device_name", codes.MIXED_MODEL, "model"),
    ):
        values = {getattr(r, attribute) for r in readings if getattr(r, attribute)}
        if len(values) > 1:
            found.append(
                finding(
                    Severity.WARN,
                    code,
                    f"mixed {what} in one stack: {', '.join(sorted(values))}",
                    fix=f"bring every pack to the same {what} before linking, or confirm with "
                    "the manufacturer that they may run together",
                )
            )
    return found


def _inventory_evidence(records: tuple[PackRecord, ...]) -> tuple[str, ...]:
    return tuple(
        f"pack {r.position}: serial {r.serial or '?'}, firmware {r.firmware or '?'}, "
        f"model {r.model or '?'}, address {r.address if r.address is not None else '?'}"
        for r in records
    )


def run_wiring(c: Commissioning) -> StepResult:
    """The cable for this inverter, shown; the installer confirms it is wired so."""
    result = check_wiring(c.profile, packs=c.session.site.packs_expected)
    cable = result.cable
    evidence = [
        f"{w.line.value}: battery pin {w.battery_pin} -> inverter pin "
        f"{w.inverter_pin if w.inverter_pin is not None else '? (confirm)'}"
        for w in cable.wires
    ]
    evidence += [
        f"leave open at the inverter: pin {p.pin} ({p.function.value})"
        for p in cable.inverter_open_pins
    ]
    for line in evidence:
        c.prompter.say(f"  {line}")
    answer = c.confirm(
        "Wire the battery's COM port (pack 1) to the inverter's "
        f"{c.profile.port.label.value or 'BMS port'} as shown, and link the packs "
        "(Link-out -> Link-in) while they are off"
    )
    found = list(result.findings)
    if answer is not None:
        return StepResult(tuple(found), tuple(evidence), skipped=answer)
    found.append(
        finding(
            Severity.INFO,
            codes.WIRING_CONFIRMED,
            "wired as shown" + (" (assumed with --yes)" if c.options.assume_yes else ""),
        )
    )
    return StepResult(tuple(found), tuple(evidence))
