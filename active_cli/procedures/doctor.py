"""`active doctor`: a step-by-step diagnosis of the RS485 line and the CAN bus.

`run_doctor` opens what the connection names (the simulator first, then the
CAN bus; the RS485 port is opened by the diagnosis itself, once per baud rate
it tries, because a port that does not open is the first thing to diagnose),
runs `doctor_rs485.diagnose_rs485` and `doctor_can.diagnose_can`, optionally
the guided meter check, and returns a `Diagnosis` whose findings put the cause
first (FAIL, WARN, OK, INFO, each bus in turn) and whose verdict is the one
line to end on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from active_cli.checks.verdict import Verdict, sort_findings, summarize
from active_cli.connection import Connection, open_links
from active_cli.model import Finding
from active_cli.procedures.doctor_can import (
    BATTERY_OK,
    DEFAULT_WINDOW_S,
    CanDiagnosis,
    diagnose_can,
    meter_check,
)
from active_cli.procedures.doctor_rs485 import (
    LINE_OK,
    Rs485Diagnosis,
    Rs485DoctorOptions,
    diagnose_rs485,
    is_gateway,
    open_serial,
)
from active_cli.procedures.prompting import Prompter

if TYPE_CHECKING:
    from active_cli.links.serial_link import SerialPort
    from active_cli.sim.site import SimulatedSite


@dataclass(frozen=True)
class DoctorOptions:
    rs485: Rs485DoctorOptions = field(default_factory=Rs485DoctorOptions)
    can_window_s: float = DEFAULT_WINDOW_S
    meter: bool = False  # ask for the CAN-H/CAN-L resistance (power off)


@dataclass(frozen=True)
class Diagnosis:
    """Both buses' diagnoses; `findings` in display order, the cause first."""

    rs485: Rs485Diagnosis | None
    can: CanDiagnosis | None
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    @property
    def answered(self) -> bool:
        """Did a battery answer on any bus diagnosed? (No: the CLI exits 3.)"""
        return any(d is not None and d.answered for d in (self.rs485, self.can))

    @property
    def verdict(self) -> Verdict:
        return doctor_verdict(self.findings)


def doctor_verdict(findings: tuple[Finding, ...]) -> Verdict:
    found = [f.title for f in findings if f.code in (LINE_OK, BATTERY_OK)]
    ok = "the line is fine" + (": " + "; ".join(found) if found else "")
    return summarize(findings, ok=ok)


def run_doctor(
    connection: Connection,
    options: DoctorOptions,
    prompter: Prompter,
) -> Diagnosis:
    """Diagnose RS485 (when a port or the simulator is named) and CAN (when a bus is)."""
    rs485: Rs485Diagnosis | None = None
    can_result: CanDiagnosis | None = None
    with open_links(connection, rs485=False) as links:
        site = links.site
        url = site.rs485_url if site is not None else connection.port
        if url is not None:
            rs485_options = options.rs485
            if is_gateway(url) and site is None and connection.port is not None:
                # A network gateway's baud is its own setting: sweeping here changes nothing.
                rs485_options = _no_sweep(rs485_options)
            prompter.say(f"RS485: probing {url} at {_bauds(rs485_options)} baud ...")
            rs485 = diagnose_rs485(url, _Opener(url, site), rs485_options)
        if links.can is not None:
            described = (
                f"simulator {connection.sim}"
                if site is not None
                else connection.can_options().describe()
            )
            prompter.say(f"CAN: listening {options.can_window_s:.1f} s on {described} ...")
            can_result = diagnose_can(links.can, described, options.can_window_s)
        notes = tuple(links.notes)
    findings: list[Finding] = []
    if rs485 is not None:
        findings.extend(rs485.findings)
    if can_result is not None:
        findings.extend(can_result.findings)
    if options.meter:
        ohm, meter = meter_check(prompter)
        if meter is not None:
            findings.append(meter)
            if can_result is not None:
                from dataclasses import replace

                can_result = replace(can_result, resistance_ohm=ohm)
    return Diagnosis(rs485, can_result, sort_findings(findings), notes)


def _no_sweep(options: Rs485DoctorOptions) -> Rs485DoctorOptions:
    from dataclasses import replace

    return replace(options, sweep=False)


def _bauds(options: Rs485DoctorOptions) -> str:
    bauds = options.bauds if options.sweep else (options.expected_baud,)
    return ", ".join(str(b) for b in bauds)


@dataclass
class _Opener:
    """Opens `url` at a baud; with the simulator, its adapter is retuned to that baud first."""

    url: str
    site: SimulatedSite | None

    @contextlib.contextmanager
    def __call__(self, baud: int) -> Iterator[SerialPort]:
        if self.site is not None:
            self.site.set_adapter_baud(baud)
        with open_serial(self.url, baud) as port:
            yield port
