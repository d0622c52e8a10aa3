"""Power-on of the linked stack, pack by pack, and the address plan it leaves.

Manual, POWER-ON SEQUENCE: "start each battery one by one". Each pack is
switched on in turn and the bus is watched until it answers at an address of
its own; the join log records where and when. What can go wrong shows at the
pack that causes it: a pack set to an address already taken makes the
replies there collide, a pack that never answers is named by its position,
a master that sees fewer packs than have joined points at a Link cable.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

from active_cli.checks.scan import CAN_HEARTBEAT
from active_cli.commissioning import results as codes
from active_cli.commissioning.context import Commissioning
from active_cli.commissioning.results import StepResult, finding
from active_cli.commissioning.session import PackJoin, PackRecord
from active_cli.discovery import (
    RequestLink,
    ScanOptions,
    master_pack_count,
    probe_status,
    read_address,
)
from active_cli.model import AddressStatus, Finding, PackReading, Severity
from active_cli.procedures.packs import wait_for
from active_cli.procedures.scanning import scan_links


@dataclasses.dataclass(frozen=True)
class _Seen:
    """What a round of polling saw: a new pack, or replies colliding at a taken address."""

    reading: PackReading | None = None
    collision_at: int | None = None


def _instruction(position: int, count: int) -> str:
    if position == 1:
        return "Switch on pack 1 (the one wired to the inverter, the master)"
    return f"Switch on pack {position} of {count}"


def run_power_on(c: Commissioning) -> StepResult:
    """Switch on each pack in turn; wait until it answers at an address of its own."""
    link = c.links.rs485
    if link is None:
        return StepResult(
            (
                finding(
                    Severity.FAIL,
                    codes.PACK_MISSING,
                    "no RS485 line to watch the packs join on",
                    fix="connect the RS485 adapter to pack 1's COM port",
                ),
            )
        )
    count = c.session.site.packs_expected
    joins = list(c.session.joins)
    found: list[Finding] = []
    evidence: list[str] = [_join_line(j) for j in joins]
    for position in range(len(joins) + 1, count + 1):
        c.actuator.switch_on_pack(position, _instruction(position, count))
        started = c.clock()
        with c.prompter.waiting(
            f"waiting for pack {position} to answer", c.options.join_timeout_s
        ) as display:
            got = wait_for(
                functools.partial(_new_pack, link, c.options.addresses, tuple(joins)),
                c.options.join_timeout_s,
                clock=c.clock,
                sleep=c.sleep,
                interval_s=0.5,
                on_tick=display.update,
            )
        waited = c.clock() - started
        if got is None:
            found.append(_never_answered(position, waited, joins))
            break
        if got.collision_at is not None or got.reading is None:
            found.append(_collision(position, got.collision_at or 0, joins))
            break
        reading = got.reading
        serial_owner = next(
            (j for j in joins if reading.serial is not None and j.serial == reading.serial), None
        )
        if serial_owner is not None:
            found.append(
                finding(
                    Severity.FAIL,
                    codes.SERIAL_SEEN,
                    f"pack {position} answers with the serial of pack {serial_owner.position} "
                    f"({reading.serial})",
                    fix="the same BMS answered twice: check that pack "
                    f"{position} is really on and linked (Link-out of pack {position - 1} -> "
                    f"Link-in of pack {position})",
                )
            )
            break
        join = PackJoin(
            position=position,
            address=reading.address,
            serial=reading.serial,
            firmware=reading.firmware,
            voltage_v=reading.voltage_v,
            joined_at=c.stamp(),
            waited_s=round(waited, 2),
        )
        joins.append(join)
        c.session = dataclasses.replace(c.session, joins=tuple(joins))
        c.save()  # each join is evidence the moment it happens
        evidence.append(_join_line(join))
        c.prompter.say(_join_line(join))
        seen = master_pack_count(link, joins[0].address) if joins[0].address is not None else None
        if seen is not None and seen < len(joins):
            found.append(
                finding(
                    Severity.WARN,
                    codes.MASTER_COUNT,
                    f"after pack {position} joined, the master sees {seen} pack(s), not "
                    f"{len(joins)}",
                    fix=f"check the Link cable from pack {position - 1}'s Link-out to pack "
                    f"{position}'s Link-in",
                )
            )
    if len(joins) == count and not any(f.failed for f in found):
        found.append(
            finding(
                Severity.OK,
                codes.JOINED,
                f"all {count} pack(s) joined, each at an address of its own",
                evidence=tuple(evidence),
            )
        )
    return StepResult(tuple(found), tuple(evidence))


def _new_pack(
    link: RequestLink, addresses: Sequence[int], joins: Sequence[PackJoin]
) -> _Seen | None:
    """A pack at an address nobody has yet, or a collision at one that is taken."""
    taken = {j.address for j in joins}
    for address in sorted(a for a in taken if a is not None):
        # Two BMSes at one address answer at once: their replies garble each other.
        if probe_status(link, address) is AddressStatus.GARBLED:
            return _Seen(collision_at=address)
    # Packs are addressed in order along the Link chain, so the next one is
    # most likely just above the highest taken address: ask there first.
    highest = max((a for a in taken if a is not None), default=0)
    order = sorted(addresses, key=lambda a: (a <= highest, a))
    for address in order:
        if address in taken:
            continue
        if probe_status(link, address) is AddressStatus.ANSWERED:
            reading = read_address(link, address)
            if reading is not None:
                return _Seen(reading=reading)
    return None


def _join_line(join: PackJoin) -> str:
    volts = "?" if join.voltage_v is None else f"{join.voltage_v:.2f} V"
    return (
        f"pack {join.position} joined at address {join.address}: serial {join.serial or '?'}, "
        f"firmware {join.firmware or '?'}, {volts}, after {join.waited_s:.1f} s"
    )


def _never_answered(position: int, waited: float, joins: Sequence[PackJoin]) -> Finding:
    previous = (
        f"pack {position - 1}'s Link-out to pack {position}'s Link-in" if position > 1 else ""
    )
    fix = f"check that pack {position} is switched on (power switch, breaker)"
    if previous:
        fix += f", the Link cable from {previous},"
    fix += f" and its address switches; then run the step again ({len(joins)} pack(s) joined)"
    return finding(
        Severity.FAIL,
        codes.PACK_MISSING,
        f"pack {position} did not answer within {waited:.0f} s of being switched on",
        fix=fix,
    )


def _collision(position: int, address: int, joins: Sequence[PackJoin]) -> Finding:
    owner = next((j for j in joins if j.address == address), None)
    free = _next_free(joins)
    return finding(
        Severity.FAIL,
        codes.ADDRESS_TAKEN,
        f"pack {position} is set to address {address}, already taken by pack "
        f"{owner.position if owner else '?'}",
        detail="both BMSes answer at once and their replies collide",
        fix=f"switch pack {position} off, set its address switches to {free} and switch it on "
        "again",
    )


def _next_free(joins: Sequence[PackJoin]) -> int:
    taken = {j.address for j in joins}
    return next(a for a in range(1, 256) if a not in taken)


def run_address_plan(c: Commissioning) -> StepResult:
    """A full scan once every pack is on: each pack once, where the join log says."""
    count = c.session.site.packs_expected
    c.fresh_counts()
    outcome = scan_links(
        c.links,
        ScanOptions(addresses=c.options.addresses),
        expected_packs=count,
        can_window_s=1.5,  # the master's own CAN set; the inverter is not on yet
    )
    snapshot = outcome.snapshot
    # The inverter is still off at this step, by the manual's order: its
    # heartbeat is judged once it is on, not missed here.
    found: list[Finding] = [f for f in snapshot.findings if f.code != CAN_HEARTBEAT]
    scanned = {p.serial: p for p in snapshot.packs if p.serial}
    for join in c.session.joins:
        if join.serial and join.serial not in scanned:
            found.append(
                finding(
                    Severity.FAIL,
                    codes.NOT_JOINED_PACK,
                    f"pack {join.position} ({join.serial}) joined at address {join.address} but "
                    "is missing from the full scan",
                    fix=f"check pack {join.position}'s Link cables and that it is still on",
                )
            )
    master = snapshot.master_address
    records = tuple(
        PackRecord.from_reading(p, position=joined_position(c, p), read_at=c.stamp())
        for p in snapshot.packs
    )
    c.session = dataclasses.replace(c.session, master_address=master)
    evidence = tuple(
        f"address {r.address}: serial {r.serial or '?'}, firmware {r.firmware or '?'}"
        + (" (master)" if r.address == master else "")
        for r in records
    )
    return StepResult(tuple(found), evidence)


def joined_position(c: Commissioning, reading: PackReading) -> int | None:
    """The power-on position of the pack that joined with this serial, if one did."""
    return next(
        (j.position for j in c.session.joins if reading.serial and j.serial == reading.serial),
        None,
    )
