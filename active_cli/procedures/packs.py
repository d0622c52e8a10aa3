"""Reading packs: all on one line, one by one with the cable moved, or awaited.

`read_packs` scans one RS485 line (linked packs, or the simulator);
`read_one_by_one` reads unlinked packs, each on its own, while the installer
moves the cable from pack to pack; `wait_for_pack` polls one address until a
pack answers there (a pack being switched on), on an injectable clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from active_cli.discovery import RequestLink, ScanOptions, read_address, scan
from active_cli.model import Finding, PackReading, StackSnapshot
from active_cli.procedures.prompting import Aborted, Prompter, StepAnswer

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class ReadPack:
    """One pack as read, with the name it goes by in findings and prompts."""

    label: str
    reading: PackReading


@dataclass(frozen=True)
class PacksRead:
    """What reading the packs gave: the packs, and the findings of the scans behind them."""

    packs: tuple[ReadPack, ...]
    findings: tuple[Finding, ...]
    snapshot: StackSnapshot | None = None  # read_packs: the scan itself

    @property
    def answered(self) -> bool:
        return bool(self.packs)


def pack_label(reading: PackReading) -> str:
    return f"ADR {reading.address}" + (f", {reading.serial}" if reading.serial else "")


def read_packs(link: RequestLink, addresses: Sequence[int]) -> PacksRead:
    """Every pack that answers on one RS485 line, and the scan's findings."""
    snapshot = scan(link, None, ScanOptions(addresses=tuple(addresses)))
    packs = tuple(ReadPack(pack_label(p), p) for p in snapshot.packs)
    return PacksRead(packs, snapshot.findings, snapshot)


def read_one_by_one(
    open_link: Callable[[], contextlib.AbstractContextManager[RequestLink]],
    prompter: Prompter,
    addresses: Sequence[int],
) -> PacksRead:
    """Ask the installer to move the cable to each pack in turn; read the one there.

    A serial already read means the cable was not moved: that read is not
    counted and the installer is asked again (the parallel check would fail
    it as "pack read twice" anyway). Each read's failing findings are kept,
    named after the pack, because every pack read this way sits at the same
    address. "done" ends the reading; "abort" stops the workflow.
    """
    packs: list[ReadPack] = []
    findings: list[Finding] = []
    number = 1
    while True:
        answer = prompter.ask_step(
            f"Plug the cable into pack {number}'s COM port, then press Enter "
            "(type 'done' when every pack was read)",
            choices=(StepAnswer.GO, StepAnswer.DONE, StepAnswer.ABORT),
        )
        if answer is StepAnswer.ABORT:
            raise Aborted("stopped by the installer while reading packs one by one")
        if answer is StepAnswer.DONE:
            break
        with open_link() as link:
            snapshot = scan(link, None, ScanOptions(addresses=tuple(addresses)))
        if not snapshot.packs:
            prompter.say("No pack answered; check the cable and try again.")
            continue
        reading = snapshot.packs[0]
        again = next(
            (p for p in packs if reading.serial and p.reading.serial == reading.serial), None
        )
        if again is not None:
            prompter.say(
                f"That is {again.label} again (serial {reading.serial}): move the "
                "cable to the next pack and press Enter."
            )
            continue
        label = f"pack {number} ({pack_label(reading)})"
        packs.append(ReadPack(label, reading))
        findings.extend(
            dataclasses.replace(f, title=f"{label}: {f.title}")
            for f in snapshot.findings
            if f.failed
        )
        soc = "unknown" if reading.soc_pct is None else f"{reading.soc_pct:.0f} %"
        prompter.say(f"{label}: {reading.voltage_v:.2f} V, SOC {soc}")
        number += 1
    return PacksRead(tuple(packs), tuple(findings))


def wait_for(
    probe: Callable[[], T | None],
    timeout_s: float,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    interval_s: float = 0.5,
    on_tick: Callable[[float], None] | None = None,
) -> T | None:
    """Call `probe` until it returns something, or `timeout_s` has passed on `clock`.

    The probe is tried once more at the deadline, so a pack that appears
    just then is not missed. `on_tick` gets the time left (for a countdown).
    """
    deadline = clock() + timeout_s
    while True:
        found = probe()
        if found is not None:
            return found
        remaining = deadline - clock()
        if remaining <= 0:
            return None
        if on_tick is not None:
            on_tick(remaining)
        sleep(min(interval_s, remaining))


def wait_for_pack(
    link: RequestLink,
    address: int,
    timeout_s: float,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    interval_s: float = 0.5,
    on_tick: Callable[[float], None] | None = None,
) -> PackReading | None:
    """Poll `address` until a pack answers there (and is read), or the time is up."""
    return wait_for(
        lambda: read_address(link, address),
        timeout_s,
        clock=clock,
        sleep=sleep,
        interval_s=interval_s,
        on_tick=on_tick,
    )
