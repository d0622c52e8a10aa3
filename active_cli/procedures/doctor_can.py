"""Why the CAN bus is quiet: listen two broadcast periods, read the controller's view, measure.

`diagnose_can` listens on an open bus for two of the battery's broadcast
periods and sorts what it heard: the battery's set (the master speaks), the
inverter's 0x305, error frames (the controller saw bits it could not make a
frame of) and the bus state python-can reports (error-passive, bus-off) where
the interface tells it. Silence gets its causes in the order they happen on
site. `meter_check` asks the installer, through the Prompter, for the
resistance across CAN-H and CAN-L with the power off, which tells the
terminators apart: two in parallel read about 60 ohm, one about 120 ohm,
none an open circuit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from active_cli.model import Finding, Severity
from active_cli.procedures.prompting import Prompter
from active_cli.protocols import can_ids  # the ids only: pylon_can loads cantools

if TYPE_CHECKING:
    import can

    from active_cli.links.can_link import CanRecord

SILENT = "doctor.can.silent"
ERRORS_ONLY = "doctor.can.errors-only"
BUS_ERRORS = "doctor.can.bus-errors"
BUS_STATE = "doctor.can.bus-state"
BATTERY_OK = "doctor.can.battery"
INVERTER = "doctor.can.inverter"
METER = "doctor.can.termination"

BROADCAST_PERIOD_S = 1.0  # Pylon LV CAN: the master sends its set once a second
DEFAULT_WINDOW_S = 2 * BROADCAST_PERIOD_S + 0.5  # two periods, and a margin for the phase

# Two 120 ohm terminators in parallel make 60; a tolerance for meters and cables.
TWO_TERMINATORS_OHM = (50.0, 70.0)
ONE_TERMINATOR_OHM = (100.0, 140.0)
OPEN_OHM = 1000.0  # above this, nothing terminates the bus


@dataclass(frozen=True)
class CanDiagnosis:
    """What two broadcast periods on the bus showed, and its findings (the cause first)."""

    bus: str
    window_s: float
    frames: int = 0
    battery_frames: int = 0
    heartbeats: int = 0
    error_frames: int = 0
    ids_seen: dict[int, int] = field(default_factory=dict)
    bus_state: str | None = None
    resistance_ohm: float | None = None
    findings: tuple[Finding, ...] = ()

    @property
    def answered(self) -> bool:
        return self.battery_frames > 0


def bus_state(bus: can.BusABC) -> str | None:
    """python-can's BusState of the controller, where the interface reports it."""
    try:
        state = bus.state
    except (NotImplementedError, AttributeError, OSError):
        return None
    return getattr(state, "name", None)


def diagnose_can(
    bus: can.BusABC, described: str, window_s: float = DEFAULT_WINDOW_S
) -> CanDiagnosis:
    """Listen `window_s` on `bus` (never sending) and say what the silence or the errors mean."""
    from active_cli.links.can_link import listen

    records = listen(bus, window_s=window_s)
    return judge_can(records, described, window_s, bus_state(bus))


def judge_can(
    records: list[CanRecord], described: str, window_s: float, state: str | None
) -> CanDiagnosis:
    """The findings of what was heard (pure)."""
    ids: dict[int, int] = {}
    errors = 0
    for record in records:
        if record.is_error_frame:
            errors += 1
            continue
        ids[record.arbitration_id] = ids.get(record.arbitration_id, 0) + 1
    battery = sum(n for i, n in ids.items() if i in can_ids.BATTERY_IDS)
    heartbeats = ids.get(can_ids.HEARTBEAT_ID, 0)
    seen = ", ".join(f"0x{i:03X}" for i in sorted(ids)) or "none"
    evidence = (
        f"listened {window_s:.1f} s on {described}",
        f"frames: {sum(ids.values())} ({seen}), error frames: {errors}",
    ) + ((f"bus state: {state}",) if state else ())
    findings: list[Finding] = []
    if errors and battery:
        findings.append(
            Finding(
                Severity.FAIL,
                BUS_ERRORS,
                f"The CAN bus carries errors: {errors} error frame(s) beside {battery} good ones",
                "The bitrate is right (the battery's frames do arrive), but most are lost: "
                "reflections on a bus without its terminators, a loose CAN-H/CAN-L pair, or "
                "a stub too long.",
                evidence,
                "check the termination: about 60 ohm across CAN-H and CAN-L with the power "
                "off; fit the missing 120 ohm terminator (the inverter's BMS port usually "
                "has one, the battery end needs the other)",
            )
        )
    elif errors:
        findings.append(
            Finding(
                Severity.FAIL,
                ERRORS_ONLY,
                f"Only error frames on the CAN bus ({errors})",
                "Something transmits, but the adapter cannot make frames of it: a bitrate "
                "other than the battery's, or a bus with no termination, or CAN-H and CAN-L "
                "swapped.",
                evidence,
                "set the adapter to 500 kbit/s (Pylon LV CAN), then check the termination "
                "(about 60 ohm across CAN-H/CAN-L with the power off) and the H/L pins "
                "(4 CAN-H, 5 CAN-L)",
            )
        )
    if state in ("PASSIVE", "ERROR"):
        findings.append(
            Finding(
                Severity.FAIL if state == "ERROR" else Severity.WARN,
                BUS_STATE,
                f"The CAN controller is {'bus-off' if state == 'ERROR' else 'error-passive'}",
                "It counted so many errors that it stopped (bus-off) or stopped "
                "acknowledging (error-passive): wrong bitrate, missing termination or "
                "swapped wires.",
                evidence,
                "check the bitrate (500 kbit/s), the termination and the H/L wiring, then "
                "restart the adapter",
            )
        )
    if not records:
        findings.append(
            Finding(
                Severity.FAIL,
                SILENT,
                f"Nothing on the CAN bus in {window_s:.1f} s (two broadcast periods)",
                "In order of likelihood: the battery is not the master or not on (only the "
                "master pack speaks on CAN, and only when its address switch makes it "
                "master); the adapter's bitrate is not 500 kbit/s; the bus has no "
                "termination; CAN-H and CAN-L are swapped.",
                evidence,
                "switch the master pack on and check its address switch, set the adapter to "
                "500 kbit/s, check the termination (about 60 ohm across CAN-H/CAN-L, power "
                "off), then the H/L pins (4 CAN-H, 5 CAN-L)",
            )
        )
    if battery and not errors:
        findings.append(
            Finding(
                Severity.OK,
                BATTERY_OK,
                f"The battery broadcasts on CAN ({battery} frames in {window_s:.1f} s)",
                evidence=evidence,
            )
        )
    if battery:
        if heartbeats:
            findings.append(
                Finding(
                    Severity.OK,
                    INVERTER,
                    f"The inverter answers on CAN (0x305, {heartbeats} heard)",
                )
            )
        else:
            findings.append(
                Finding(
                    Severity.INFO,
                    INVERTER,
                    "No 0x305 from the inverter",
                    "The battery speaks, the inverter does not (yet): it is off, set to "
                    "another battery protocol, or not on this bus.",
                    fix="switch the inverter on and set its battery type to a Pylon-compatible "
                    "lithium setting",
                )
            )
    return CanDiagnosis(
        described,
        window_s,
        frames=len(records),
        battery_frames=battery,
        heartbeats=heartbeats,
        error_frames=errors,
        ids_seen=dict(sorted(ids.items())),
        bus_state=state,
        findings=tuple(findings),
    )


METER_QUESTION = (
    "With everything switched off, measure the resistance between CAN-H (pin 4) and "
    "CAN-L (pin 5) at the inverter's end of the cable. Ohms, 'open', or empty to skip"
)


def meter_check(prompter: Prompter) -> tuple[float | None, Finding | None]:
    """Ask for the H/L resistance and say what it means (None, None: skipped)."""
    answer = prompter.ask_value(METER_QUESTION, default="").strip().lower()
    if not answer:
        return None, None
    if answer in ("open", "ol", "inf", "oo"):
        ohm = float("inf")
    else:
        try:
            ohm = float(answer.replace("ohm", "").replace("Ω", "").strip())
        except ValueError:
            prompter.say(f"{answer!r} is not a number of ohms: meter check skipped")
            return None, None
    return (None if ohm == float("inf") else ohm), judge_resistance(ohm)


def judge_resistance(ohm: float) -> Finding:
    reading = "open circuit" if ohm == float("inf") else f"{ohm:.0f} ohm"
    if TWO_TERMINATORS_OHM[0] <= ohm <= TWO_TERMINATORS_OHM[1]:
        return Finding(
            Severity.OK,
            METER,
            f"Termination is right: {reading} across CAN-H/CAN-L (two 120 ohm terminators)",
        )
    if ONE_TERMINATOR_OHM[0] <= ohm <= ONE_TERMINATOR_OHM[1]:
        return Finding(
            Severity.FAIL,
            METER,
            f"One CAN terminator is missing: {reading} across CAN-H/CAN-L",
            "One 120 ohm terminator reads 120 ohm; both ends terminated read about 60.",
            (reading,),
            "fit a 120 ohm terminator at the other end of the bus (the inverter's BMS port "
            "setting or a terminated plug at the battery)",
        )
    if ohm >= OPEN_OHM:
        return Finding(
            Severity.FAIL,
            METER,
            f"No CAN termination at all: {reading} across CAN-H/CAN-L",
            "With no terminator the reading is open (or the meter is not on CAN-H/CAN-L).",
            (reading,),
            "fit a 120 ohm terminator at each end of the bus; check the meter is on pins 4 and 5",
        )
    if ohm < TWO_TERMINATORS_OHM[0]:
        return Finding(
            Severity.FAIL,
            METER,
            f"Too many terminators or a short: {reading} across CAN-H/CAN-L",
            "Three terminators read about 40 ohm; a few ohm is a short between H and L.",
            (reading,),
            "keep exactly two 120 ohm terminators, one at each end; look for a crushed cable",
        )
    return Finding(
        Severity.WARN,
        METER,
        f"Unusual termination: {reading} across CAN-H/CAN-L",
        "Neither 60 ohm (both ends terminated) nor 120 ohm (one end).",
        (reading,),
        "measure again with everything off; check each end's terminator",
    )
