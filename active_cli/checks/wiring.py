"""`check wiring`: which lead joins the battery's COM port to an inverter's BMS port.

Pure: an inverter profile in, a cable mapping and findings out. The battery
side is the manual's (pin 1 RS485-B, 2 RS485-A, 4 CAN-H, 5 CAN-L, the rest NC,
so no signal ground); the inverter side is the profile's, with its confidence.
The mapping always lists the minimal cable (only the two lines of the bus the
inverter uses) and separately judges whether a straight T568B patch lead also
fits: every battery pin that carries a signal must land on the same function or
on an unused pin. Anything below two sources is reported as "unverified", and an
unknown inverter pin is never filled in by guessing. Without a claim the check
only warns; with ``straight_lead`` (the installer has a straight lead in hand)
a lead that does not fit, or whose fit cannot be confirmed because the bus or
the pins are unknown, fails.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from active_cli import spec
from active_cli.checks.verdict import Verdict, sort_findings, summarize
from active_cli.inverter_profile import (
    BUS_LINES,
    Bus,
    Confidence,
    InverterProfile,
    PinFunction,
    PortPin,
    QuirkTopic,
    weakest,
)
from active_cli.model import Finding, Severity

# Finding codes: stable identifiers that tests, JSON consumers, the report and
# the CLI match on (import these, never spell the string again).
BUS: Final = "wiring.bus"
CABLE: Final = "wiring.cable"
LINK: Final = "wiring.link"
OPEN_PINS: Final = "wiring.open-pins"
PINS: Final = "wiring.pins"
TERMINATION: Final = "wiring.termination"


# TIA-568 T568B: the colour of the wire on each pin of a T568B-crimped plug.
T568B_COLOURS: dict[int, str] = {
    1: "white-orange",
    2: "orange",
    3: "white-green",
    4: "blue",
    5: "white-blue",
    6: "green",
    7: "white-brown",
    8: "brown",
}

BATTERY_PORT: dict[int, PinFunction] = {
    pin: PinFunction(function) for pin, function in spec.INVERTER_PORT_PINS
}
LINK_PORT: dict[int, PinFunction] = {
    pin: PinFunction(function) for pin, function in spec.LINK_PORT_PINS
}

UNVERIFIED = "unverified: confirm with a meter / the inverter's manual"


def battery_pin(function: PinFunction) -> int:
    """The battery COM pin that carries `function` (each appears once)."""
    return next(pin for pin, f in BATTERY_PORT.items() if f is function)


class StraightLead(enum.Enum):
    """Does a straight T568B patch lead work between the two ports?"""

    FITS = "fits"
    DOES_NOT_FIT = "does-not-fit"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Wire:
    """One conductor of the cable: battery pin -> inverter pin (None: not known)."""

    line: PinFunction
    battery_pin: int
    inverter_pin: int | None
    confidence: Confidence

    @property
    def battery_colour(self) -> str:
        return T568B_COLOURS[self.battery_pin]

    @property
    def inverter_colour(self) -> str | None:
        return None if self.inverter_pin is None else T568B_COLOURS[self.inverter_pin]


@dataclass(frozen=True)
class OpenPin:
    """An inverter pin that must stay unconnected, and why."""

    pin: int
    function: PinFunction
    reason: str
    confidence: Confidence


@dataclass(frozen=True)
class CableMapping:
    """The battery-to-inverter cable for one profile."""

    inverter: str
    bus: Bus | None
    wires: tuple[Wire, ...]  # the minimal cable; empty when the bus is unknown
    inverter_open_pins: tuple[OpenPin, ...]
    battery_unused_pins: tuple[int, ...]  # battery pins the minimal cable leaves open
    straight: StraightLead
    straight_confidence: Confidence
    straight_reasons: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Every needed line has a known inverter pin."""
        return bool(self.wires) and all(w.inverter_pin is not None for w in self.wires)

    @property
    def confidence(self) -> Confidence:
        return weakest([w.confidence for w in self.wires]) if self.wires else Confidence.UNKNOWN


@dataclass(frozen=True)
class LinkLead:
    """One straight patch lead of the BMS parallel chain."""

    from_pack: int  # its Link out
    to_pack: int  # its Link in


@dataclass(frozen=True)
class WiringAssessment:
    inverter: str
    name: str
    family: str
    cable: CableMapping
    link_leads: tuple[LinkLead, ...]
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return any(f.failed for f in self.findings)


def _pick(candidates: tuple[PortPin, ...], prefer: int) -> PortPin | None:
    # Several pins may carry the same line (Deye: RS485-B on 1 and 8); prefer the
    # best-sourced one, then the battery's own pin number so a straight lead agrees.
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.confidence.rank, p.pin == prefer, -p.pin))


def map_cable(profile: InverterProfile) -> CableMapping:
    """The minimal cable, the pins to leave open, and the straight-lead verdict."""
    bus = profile.bus.kind.value
    wires: list[Wire] = []
    if bus is not None:
        for line in BUS_LINES[bus]:
            ours = battery_pin(line)
            theirs = _pick(profile.port.pins_for(line), ours)
            wires.append(
                Wire(
                    line,
                    ours,
                    None if theirs is None else theirs.pin,
                    Confidence.UNKNOWN if theirs is None else theirs.confidence,
                )
            )
    used = {w.inverter_pin for w in wires}
    open_pins = tuple(
        OpenPin(p.pin, p.function, _open_reason(p), p.confidence)
        for p in profile.port.pins
        if p.pin not in used
        and (p.must_not_connect or p.function in (PinFunction.GND, PinFunction.POWER))
    )
    unused = tuple(pin for pin in range(1, 9) if pin not in {w.battery_pin for w in wires})
    straight, confidence, reasons = _straight_verdict(profile, bus)
    return CableMapping(
        inverter=profile.id,
        bus=bus,
        wires=tuple(wires),
        inverter_open_pins=open_pins,
        battery_unused_pins=unused,
        straight=straight,
        straight_confidence=confidence,
        straight_reasons=reasons,
    )


def _open_reason(pin: PortPin) -> str:
    if pin.function is PinFunction.POWER:
        return "carries power" + (f" ({pin.note})" if pin.note else "")
    if pin.function is PinFunction.GND:
        return "ground; the Active16 COM port has no signal ground, so it stays open"
    if pin.function is PinFunction.RESERVED:
        return "reserved by the maker" + (f" ({pin.note})" if pin.note else "")
    return "marked must-not-connect" + (f" ({pin.note})" if pin.note else "")


def _straight_verdict(
    profile: InverterProfile, bus: Bus | None
) -> tuple[StraightLead, Confidence, tuple[str, ...]]:
    needed = BUS_LINES[bus] if bus is not None else ()
    reasons: list[str] = []
    unknown = False
    misfit = False
    confidences: list[Confidence] = []
    if bus is None:
        unknown = True
        reasons.append("the bus this inverter uses is not known")
    # Battery pins 3, 6, 7, 8 are NC: in a straight lead their wires end in
    # nothing at our side, so only pins 1, 2, 4 and 5 can cause trouble.
    for pin, ours in sorted(BATTERY_PORT.items()):
        theirs = profile.port.pin(pin)
        if theirs is None or theirs.function is PinFunction.UNKNOWN:
            unknown = True
            reasons.append(
                f"battery pin {pin} ({ours.value}) would meet inverter pin {pin}: unknown"
            )
            continue
        confidences.append(theirs.confidence)
        if theirs.function is ours:
            continue
        if ours not in needed and theirs.function is PinFunction.NC and not theirs.must_not_connect:
            continue
        misfit = True
        what = "needed" if ours in needed else "not used"
        reasons.append(
            f"battery pin {pin} ({ours.value}, {what}) would meet inverter pin {pin} "
            f"({theirs.function.value}{', must not connect' if theirs.must_not_connect else ''})"
        )
    if misfit:
        return StraightLead.DOES_NOT_FIT, weakest(confidences), tuple(reasons)
    lead = profile.port.straight_lead
    if unknown and bus is not None and lead.value is True:
        # The maker settles it for the whole port (Solis: "CAN only"), not pin by pin.
        return StraightLead.FITS, weakest([*confidences, lead.confidence]), (lead.note,)
    if unknown:
        return StraightLead.UNVERIFIED, Confidence.UNKNOWN, tuple(reasons)
    return StraightLead.FITS, weakest(confidences), tuple(reasons)


def link_leads(packs: int) -> tuple[LinkLead, ...]:
    """The parallel chain: pack 1 (the master) Link out -> pack 2 Link in, and so on."""
    return tuple(LinkLead(n, n + 1) for n in range(1, packs))


def check_wiring(
    profile: InverterProfile, *, packs: int = 1, straight_lead: bool = False
) -> WiringAssessment:
    """Judge the cabling for `profile`; `straight_lead` = the installer has a straight lead."""
    cable = map_cable(profile)
    findings = [
        _bus_finding(profile),
        _cable_finding(profile, cable, straight_lead),
    ]
    pins = _pins_finding(cable)
    if pins is not None:
        findings.append(pins)
    if cable.inverter_open_pins:
        findings.append(_open_pins_finding(profile, cable))
    findings.append(_termination_finding(profile))
    leads = link_leads(packs)
    findings.append(_link_finding(packs, leads))
    for quirk in profile.quirks_for(QuirkTopic.WIRING):
        detail = "" if quirk.confidence.verified else f"{quirk.confidence.marker} {UNVERIFIED}"
        findings.append(
            Finding(
                quirk.severity,
                f"wiring.{quirk.code}",
                quirk.text,
                detail=detail,
                evidence=tuple(f"source: {profile.source(s).text}" for s in quirk.sources),
                fix=quirk.fix,
            )
        )
    return WiringAssessment(
        inverter=profile.id,
        name=profile.name,
        family=profile.family,
        cable=cable,
        link_leads=leads,
        findings=tuple(findings),
    )


def _bus_finding(profile: InverterProfile) -> Finding:
    kind, bitrate = profile.bus.kind, profile.bus.bitrate
    if kind.value is None:
        return Finding(
            Severity.WARN,
            BUS,
            f"Which bus {profile.name} uses for the battery is not known",
            detail=kind.note or "No public source found.",
            fix="Find the BMS port in the inverter's manual: CAN (H/L) or RS485 (A/B). The "
            "Active16 offers both: CAN-H on pin 4, CAN-L on 5, RS485-A on 2, RS485-B on 1.",
        )
    unit = "kbit/s" if kind.value is Bus.CAN else "baud"
    rate = bitrate.value if kind.value is Bus.RS485 else (bitrate.value or 0) // 1000
    speed = f" at {rate} {unit}" if bitrate.value is not None else ", speed unknown"
    weakest_fact = weakest([kind.confidence, bitrate.confidence])
    unused = "RS485" if kind.value is Bus.CAN else "CAN"
    return Finding(
        Severity.INFO if weakest_fact.verified else Severity.WARN,
        BUS,
        f"{profile.name} talks to the battery over {kind.value.value}{speed}",
        detail=f"The battery's {unused} pins are not needed. Bus {kind.confidence.marker}, "
        f"speed {bitrate.confidence.marker}"
        + ("" if weakest_fact.verified else f" - {UNVERIFIED}."),
    )


def _cable_finding(profile: InverterProfile, cable: CableMapping, straight_lead: bool) -> Finding:
    evidence = cable.straight_reasons
    name = profile.name
    if cable.straight is StraightLead.FITS:
        if cable.straight_confidence.verified:
            return Finding(
                Severity.OK,
                CABLE,
                f"A straight T568B patch lead fits {name}",
                detail="Every signal pin of the battery meets the same signal (or an unused "
                "pin) on the inverter. The two-wire cable in the cable table works too.",
            )
        return Finding(
            Severity.WARN,
            CABLE,
            f"A straight T568B patch lead probably fits {name} - {UNVERIFIED}",
            detail=f"Based on facts rated {cable.straight_confidence.marker}, below two sources.",
            fix="Ring out the inverter's BMS port, or use the two-wire cable in the cable table.",
        )
    if cable.straight is StraightLead.DOES_NOT_FIT:
        return Finding(
            Severity.FAIL if straight_lead else Severity.WARN,
            CABLE,
            f"A straight patch lead does NOT work with {name}",
            detail="Make (or buy) the custom cable of the cable table.",
            evidence=evidence,
            fix="Use the cable table: wire only the listed pins, leave every other pin open.",
        )
    if straight_lead:
        # The installer asked "does my straight lead fit?": an unknown bus or
        # unknown pins cannot answer yes, and a WARN with exit 0 reads as yes.
        return Finding(
            Severity.FAIL,
            CABLE,
            f"Cannot confirm that a straight patch lead fits {name}: "
            + (
                "the bus it uses is not known"
                if cable.bus is None
                else "its BMS port is not fully known"
            ),
            detail="Do not plug in a straight lead on trust: a pin carrying power or ground "
            "on the inverter side could meet a signal pin of the battery.",
            evidence=evidence,
            fix="Confirm in the inverter's manual (or with a meter) "
            + ("which bus its BMS port uses (CAN or RS485) and " if cable.bus is None else "")
            + "what its pins 1, 2, 4 and 5 carry; then wire only the two lines of that bus "
            "(see the cable table), or use the straight lead once it is known to fit.",
        )
    return Finding(
        Severity.WARN,
        CABLE,
        f"Whether a straight patch lead fits {name} is {UNVERIFIED}",
        detail="The inverter side of the port is not fully known.",
        evidence=evidence,
        fix="Find the BMS port's pin table in the inverter's manual, then wire only the "
        "battery pins the bus needs (see the cable table) to the matching inverter pins.",
    )


def _pins_finding(cable: CableMapping) -> Finding | None:
    weak = [w for w in cable.wires if not w.confidence.verified]
    if cable.bus is None:
        return Finding(
            Severity.WARN,
            PINS,
            f"Inverter pins unknown - {UNVERIFIED}",
            detail="Battery side (manual): pin 1 RS485-B, pin 2 RS485-A, pin 4 CAN-H, "
            "pin 5 CAN-L; pins 3, 6, 7, 8 not connected.",
            fix="Wire the two lines of the inverter's bus to the matching inverter pins, "
            "nothing else.",
        )
    if not weak:
        return None
    lines = tuple(
        f"{w.line.value}: battery pin {w.battery_pin} -> "
        + (
            "inverter pin unknown"
            if w.inverter_pin is None
            else f"inverter pin {w.inverter_pin} {w.confidence.marker}"
        )
        for w in weak
    )
    return Finding(
        Severity.WARN,
        PINS,
        f"Inverter pins {UNVERIFIED}",
        detail="These inverter-side pins rest on fewer than two sources or are unknown.",
        evidence=lines,
        fix="Confirm them in the inverter's manual before crimping.",
    )


def _open_pins_finding(profile: InverterProfile, cable: CableMapping) -> Finding:
    lines = tuple(
        f"inverter pin {p.pin} ({p.function.value}) {p.confidence.marker}: {p.reason}"
        for p in cable.inverter_open_pins
    )
    return Finding(
        Severity.INFO,
        OPEN_PINS,
        f"Leave {profile.name} pins {', '.join(str(p.pin) for p in cable.inverter_open_pins)} "
        "unconnected",
        evidence=lines,
    )


def _termination_finding(profile: InverterProfile) -> Finding:
    bus = profile.bus.kind.value
    term = profile.termination
    if bus is Bus.RS485:
        side = term.rs485
        return Finding(
            Severity.INFO,
            TERMINATION,
            "RS485 termination",
            detail=f"Inverter side: {side.value or 'not known'} {side.confidence.marker}.",
        )
    if bus is None:
        return Finding(
            Severity.INFO,
            TERMINATION,
            "Termination depends on the bus, which is not known",
            detail="CAN needs a 120 ohm terminator at each end of the bus; RS485 usually needs "
            "none on a short lead.",
            evidence=(
                "CAN meter check, everything off: across CAN-H/CAN-L about 60 ohm = both ends "
                "terminated; about 120 ohm = one missing; open = none",
            ),
        )
    side = term.can
    inverter_side = (
        f"{side.value} {side.confidence.marker}"
        if side.value
        else f"not known {side.confidence.marker}"
    )
    needs_plug = term.external_terminator.value is True
    return Finding(
        Severity.WARN if needs_plug else Severity.INFO,
        TERMINATION,
        "CAN needs a 120 ohm terminator at each end of the bus"
        + (f": fit one at the {profile.name} end" if needs_plug else ""),
        detail=f"Inverter end: {inverter_side}. Battery end: the Active16 manual does not "
        "say whether its COM port is terminated [?].",
        evidence=(
            "meter check, everything off: across CAN-H/CAN-L about 60 ohm = both ends "
            "terminated; about 120 ohm = one missing; open = none",
            "with traffic, CAN-H and CAN-L idle near 2.5 V; both at 2.5 V and still = "
            "nothing is talking",
        ),
        fix=f"Fit {side.value}." if needs_plug and side.value else "",
    )


def _link_finding(packs: int, leads: tuple[LinkLead, ...]) -> Finding:
    if packs <= 1:
        return Finding(
            Severity.INFO,
            LINK,
            "Single pack: the BMS parallel ports (Link in / Link out) stay empty",
        )
    chain = ", ".join(
        f"pack {lead.from_pack} Link out -> pack {lead.to_pack} Link in" for lead in leads
    )
    return Finding(
        Severity.FAIL if packs > spec.MAX_PACKS_IN_PARALLEL else Severity.INFO,
        LINK,
        f"Chain the {packs} packs with {packs - 1} straight T568B patch leads",
        detail="Link in / Link out carry CAN-H on pin 1 and CAN-L on pin 2 (manual), so any "
        "straight lead works. Pack 1 is the master: the one wired to the inverter. Its "
        "Link in and the last pack's Link out stay empty [d]. The manual says nothing "
        "about terminators on the link [?]: add none unless the maker says so.",
        evidence=(chain,),
        fix=(
            f"The manual allows at most {spec.MAX_PACKS_IN_PARALLEL} packs in parallel."
            if packs > spec.MAX_PACKS_IN_PARALLEL
            else ""
        ),
    )


def cable_summary(cable: CableMapping) -> str:
    """One cell for tables: which lead to use, with its confidence."""
    pins = ", ".join(
        f"{w.battery_pin}->{'?' if w.inverter_pin is None else w.inverter_pin}" for w in cable.wires
    )
    if cable.straight is StraightLead.FITS:
        marker = cable.straight_confidence.marker
        return f"straight {marker}" + ("" if cable.straight_confidence.verified else " unverified")
    if cable.straight is StraightLead.DOES_NOT_FIT and cable.complete:
        return f"custom: {pins} {cable.confidence.marker}"
    if cable.wires and any(w.inverter_pin is not None for w in cable.wires):
        return f"unverified: {pins}"
    return "unknown"


def wiring_verdict(result: WiringAssessment) -> Verdict:
    """One line: make the cable shown, or what stops it."""
    return summarize(
        sort_findings(result.findings),
        ok=f"make the cable as shown and plug it into the {result.name}'s BMS port",
        warn="make the cable as shown, but ",
    )
