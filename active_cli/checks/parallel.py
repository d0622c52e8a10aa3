"""`check parallel`: may these packs be linked, and what flows when they are?

Pure: one reading per pack in — from a multimeter, an RS485 read or the
simulator, the caller decides — and an assessment with findings out. The manual
only asks that the voltages be "consistent" before linking; our thresholds
(docs/checks.md) make that concrete: warn above 0.2 V spread, fail above 0.5 V,
warn above 20 SOC points and fail above 40 (LiFePO4's flat curve hides SOC
differences behind small voltage ones), and fail when the estimated equalising
current of the worst pair exceeds the 100 A recommended continuous current
(manual, Maintenance 12). The estimate is Ohm's law over the loop the current
takes: I = dV / (R_pack_a + R_pack_b + R_cable), with the resistances stated in
the result and overridable, because the manual gives none; it is the initial
peak, taken at the low end of the pack resistance (the safe side), and shown
with the high end as a range.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from active_cli import spec
from active_cli.checks.scan import (
    PACK_ALARMS_UNKNOWN,
    PACK_BMS_PROTECTION,
    PACK_VOLTAGE_RANGE,
    STACK_SOC_SPREAD,
    STACK_VOLTAGE_SPREAD,
)
from active_cli.checks.verdict import Verdict, sort_findings, summarize
from active_cli.model import Finding, PackReading, Severity, worst

# Finding codes: stable identifiers that tests, JSON consumers, the report and
# the CLI match on (import these, never spell the string again).
ALARMS_UNKNOWN: Final = "parallel.alarms-unknown"
BMS_PROTECTION: Final = "parallel.bms-protection"
COUNT: Final = "parallel.count"
CURRENT: Final = "parallel.current"
NOT_AT_REST: Final = "parallel.not-at-rest"
PLAN: Final = "parallel.plan"
READ_TWICE: Final = "parallel.read-twice"
SOC_SPREAD: Final = "parallel.soc-spread"
SPREAD: Final = "parallel.spread"
VOLTAGE_RANGE: Final = "parallel.voltage-range"


# Readings are rounded to the millivolt before comparing with thresholds, so that
# 53.2 - 52.7 counts as the 0.5 V it is and not as 0.50000000000001 V.
_MV = 3


@dataclass(frozen=True)
class PackVoltage:
    """One pack's reading before linking.

    SOC, current, serial, alarm state and protections only when read over
    RS485; ``alarm_read`` is None for a multimeter reading (not applicable),
    False when the RS485 read could not get the alarms.
    """

    label: str
    voltage_v: float
    soc_pct: float | None = None
    current_a: float | None = None
    source: str = "multimeter"
    serial: str | None = None
    alarm_read: bool | None = None
    protections: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not math.isfinite(self.voltage_v):
            raise ValueError(f"{self.label}: {self.voltage_v} is not a voltage")

    @classmethod
    def from_reading(cls, reading: PackReading, label: str | None = None) -> PackVoltage:
        return cls(
            label=label or f"ADR {reading.address}",
            voltage_v=reading.voltage_v,
            soc_pct=reading.soc_pct,  # None when the pack gave no full capacity
            current_a=reading.current_a,
            source="rs485",
            serial=reading.serial,
            alarm_read=reading.alarm_read,
            protections=reading.protections,
        )


_ASSUMPTION_NAMES = {
    "pack_resistance_ohm": "pack resistance",
    "link_cable_m": "link cable length",
    "cable_mm2": "cable cross-section",
    "resistivity_ohm_mm2_per_m": "cable resistivity",
    "spread_warn_v": "warning spread",
    "spread_fail_v": "failing spread",
    "soc_spread_warn_pct": "warning SOC spread",
    "soc_spread_fail_pct": "failing SOC spread",
    "pack_resistance_high_ohm": "high-end pack resistance",
}

# Scan findings the parallel check judges itself, from the same data (and with
# its own thresholds): carrying them as well would say the same thing twice.
_JUDGED_HERE = frozenset(
    {
        PACK_VOLTAGE_RANGE,
        PACK_BMS_PROTECTION,
        PACK_ALARMS_UNKNOWN,
        STACK_VOLTAGE_SPREAD,
        STACK_SOC_SPREAD,
    }
)


@dataclass(frozen=True)
class ParallelAssumptions:
    """The figures the current estimate rests on (all shown in the output)."""

    pack_resistance_ohm: float = spec.PACK_INTERNAL_RESISTANCE_OHM
    link_cable_m: float = spec.PARALLEL_LINK_CABLE_M  # one way, between two packs
    cable_mm2: float = spec.POWER_CABLE_MM2
    resistivity_ohm_mm2_per_m: float = spec.COPPER_RESISTIVITY_OHM_MM2_PER_M
    spread_warn_v: float = spec.PARALLEL_SPREAD_WARN_V
    spread_fail_v: float = spec.PARALLEL_SPREAD_FAIL_V
    soc_spread_warn_pct: float = spec.PARALLEL_SOC_SPREAD_WARN_PCT  # SOC points
    soc_spread_fail_pct: float = spec.PARALLEL_SOC_SPREAD_FAIL_PCT
    # The other end of the range the current is shown with (never below the
    # one the verdict uses: the verdict stays on the safe side).
    pack_resistance_high_ohm: float = spec.PACK_INTERNAL_RESISTANCE_HIGH_OHM

    def __post_init__(self) -> None:
        # NaN passes every "<= 0" test and inf makes the current 0 A: both would
        # print a confident verdict about nothing.
        for name, what in _ASSUMPTION_NAMES.items():
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{what} must be a finite number, not {value}")
        if self.pack_resistance_ohm <= 0:
            raise ValueError("pack resistance must be above 0")
        if self.link_cable_m < 0:
            raise ValueError("link cable length cannot be negative")
        if self.cable_mm2 <= 0 or self.resistivity_ohm_mm2_per_m <= 0:
            raise ValueError("cable cross-section and resistivity must be above 0")
        if not 0 < self.spread_warn_v <= self.spread_fail_v:
            raise ValueError("need 0 < warning spread <= failing spread")
        if not 0 < self.soc_spread_warn_pct <= self.soc_spread_fail_pct:
            raise ValueError("need 0 < warning SOC spread <= failing SOC spread")

    @property
    def cable_resistance_ohm(self) -> float:
        # The equalising current leaves on + and returns on -: both conductors.
        return self.resistivity_ohm_mm2_per_m * 2 * self.link_cable_m / self.cable_mm2

    @property
    def loop_resistance_ohm(self) -> float:
        return 2 * self.pack_resistance_ohm + self.cable_resistance_ohm

    @property
    def loop_resistance_high_ohm(self) -> float:
        high = max(self.pack_resistance_high_ohm, self.pack_resistance_ohm)
        return 2 * high + self.cable_resistance_ohm

    def spread_rule(self) -> str:
        return (
            f"spread: warn above {self.spread_warn_v:g} V, fail above {self.spread_fail_v:g} V "
            "(our thresholds, docs/checks.md)"
        )

    def soc_rule(self) -> str:
        return (
            f"SOC spread: warn above {self.soc_spread_warn_pct:g} points, fail above "
            f"{self.soc_spread_fail_pct:g} (our thresholds: the flat LiFePO4 curve hides SOC "
            "differences)"
        )

    def describe(self) -> tuple[str, ...]:
        return (
            f"pack internal resistance {self.pack_resistance_ohm * 1000:g} mohm each, "
            "BMS switches included (assumed: the manual gives none; the low end of "
            "public 314 Ah cell data, so the current is not underestimated)",
            f"link cable {self.link_cable_m:g} m each way, {self.cable_mm2:g} mm2 copper "
            f"({self.resistivity_ohm_mm2_per_m:g} ohm mm2/m), both conductors: "
            f"{self.cable_resistance_ohm * 1000:.2f} mohm",
            f"loop: 2 x {self.pack_resistance_ohm * 1000:g} + "
            f"{self.cable_resistance_ohm * 1000:.2f} = {self.loop_resistance_ohm * 1000:.2f} mohm",
            self.spread_rule(),
            self.soc_rule(),
            "current: the initial peak right after linking (the BMS may limit it); fail above "
            f"{spec.RECOMMENDED_CONTINUOUS_CURRENT_A:g} A recommended continuous "
            "(manual, Maintenance 12); "
            f"{spec.MAX_CURRENT_A:g} A is the pack maximum",
        )


class Action(enum.Enum):
    CHARGE = "charge"
    DISCHARGE = "discharge"
    NONE = "none"


@dataclass(frozen=True)
class PackAdvice:
    label: str
    voltage_v: float
    action: Action
    target_v: float


@dataclass(frozen=True)
class ParallelAssessment:
    packs: tuple[PackVoltage, ...]
    assumptions: ParallelAssumptions
    spread_v: float
    highest: PackVoltage | None  # the worst pair: highest and lowest voltage
    lowest: PackVoltage | None
    equalising_current_a: float
    target_v: float | None
    advice: tuple[PackAdvice, ...]
    soc_spread_pct: float | None
    findings: tuple[Finding, ...]

    @property
    def verdict(self) -> Severity:
        return worst(self.findings)

    @property
    def equalising_current_range_a(self) -> tuple[float, float]:
        """(least, most) initial current: high-end and assumed pack resistance."""
        least = equalising_current_a(self.spread_v, self.assumptions, high=True)
        return (least, self.equalising_current_a)

    @property
    def failed(self) -> bool:
        return any(f.failed for f in self.findings)


def equalising_current_a(
    delta_v: float, assumptions: ParallelAssumptions, *, high: bool = False
) -> float:
    """Current that flows right after linking two packs `delta_v` apart.

    At the assumed (low) pack resistance: the most it can be. ``high`` takes the
    high end of the resistance range instead: the least it is likely to be.
    """
    loop = assumptions.loop_resistance_high_ohm if high else assumptions.loop_resistance_ohm
    return abs(delta_v) / loop


def check_parallel(
    packs: list[PackVoltage] | tuple[PackVoltage, ...],
    assumptions: ParallelAssumptions | None = None,
    *,
    scan_findings: Sequence[Finding] = (),
) -> ParallelAssessment:
    """Judge whether `packs` may be linked; say which to charge or discharge if not.

    `scan_findings` are the findings of the RS485 scan(s) the readings came
    from: the failing ones are carried into the result (see the module doc).
    """
    rules = assumptions or ParallelAssumptions()
    packs = tuple(packs)
    findings: list[Finding] = []
    findings.extend(_range_findings(packs))
    findings.extend(_read_findings(packs))
    findings.extend(
        f for f in scan_findings if f.failed and f.code not in _JUDGED_HERE and f not in findings
    )
    if len(packs) > spec.MAX_PACKS_IN_PARALLEL:
        findings.append(
            Finding(
                Severity.FAIL,
                COUNT,
                f"{len(packs)} packs: the manual allows at most "
                f"{spec.MAX_PACKS_IN_PARALLEL} in parallel",
            )
        )
    if len(packs) < 2:
        # Nothing to compare is not a pass: the installer asked about linking,
        # and one reading cannot say whether the packs may be linked.
        findings.append(
            Finding(
                Severity.FAIL,
                COUNT,
                ("Only one pack" if packs else "No pack") + " read: nothing to compare",
                detail="Packs that are not linked yet are not on one RS485 bus, so one "
                "read finds only the pack the cable is plugged into.",
                fix="Read every pack: one by one over RS485 (move the cable when asked), "
                "or measure each with a multimeter.",
            )
        )
        return ParallelAssessment(
            packs, rules, 0.0, None, None, 0.0, None, (), None, tuple(findings)
        )

    highest = max(packs, key=lambda p: p.voltage_v)
    lowest = min(packs, key=lambda p: p.voltage_v)
    spread_v = round(highest.voltage_v - lowest.voltage_v, _MV)
    current_a = equalising_current_a(spread_v, rules)
    pair = f"{highest.label} {highest.voltage_v:.2f} V and {lowest.label} {lowest.voltage_v:.2f} V"
    findings.append(_spread_finding(spread_v, pair, rules))
    findings.append(_current_finding(spread_v, current_a, pair, rules))
    target_v: float | None = None
    advice: tuple[PackAdvice, ...] = ()
    if spread_v > rules.spread_warn_v:
        target_v, advice = plan_equalising(packs, rules.spread_warn_v)
        findings.append(_advice_finding(advice, target_v, rules))
    soc_spread = _soc_spread(packs)
    if soc_spread is not None:
        findings.append(_soc_finding(packs, soc_spread, rules))
    moving = [
        p
        for p in packs
        if p.current_a is not None and abs(p.current_a) > spec.PARALLEL_REST_CURRENT_A
    ]
    if moving:
        findings.append(
            Finding(
                Severity.WARN,
                NOT_AT_REST,
                "Some packs were read while current flowed: not rest voltages",
                detail="A pack under load or charge reads off by I x R; compare rest voltages.",
                evidence=tuple(f"{p.label}: {p.current_a:+.1f} A" for p in moving),
                fix="Stop charging and discharging, wait a few minutes, read again.",
            )
        )
    return ParallelAssessment(
        packs=packs,
        assumptions=rules,
        spread_v=spread_v,
        highest=highest,
        lowest=lowest,
        equalising_current_a=current_a,
        target_v=target_v,
        advice=advice,
        soc_spread_pct=soc_spread,
        findings=tuple(findings),
    )


def plan_equalising(
    packs: tuple[PackVoltage, ...], window_v: float
) -> tuple[float, tuple[PackAdvice, ...]]:
    """Pick the target voltage that needs the fewest packs moved, and say how.

    Candidates are the packs' own voltages. A pack within half the window of the
    target stays, so afterwards the spread is at most `window_v`. Ties go to the
    target that needs no discharging (charging with the inverter or a charger is
    the easy direction), then to the smallest total change.
    """
    half = window_v / 2

    def cost(target: float) -> tuple[int, int, float]:
        moved = [p for p in packs if abs(p.voltage_v - target) > half + 1e-9]
        discharged = sum(1 for p in moved if p.voltage_v > target)
        return len(moved), discharged, sum(abs(p.voltage_v - target) for p in moved)

    target = min((p.voltage_v for p in packs), key=lambda v: (cost(v), v))
    advice = []
    for pack in packs:
        if abs(pack.voltage_v - target) <= half + 1e-9:
            action = Action.NONE
        elif pack.voltage_v < target:
            action = Action.CHARGE
        else:
            action = Action.DISCHARGE
        advice.append(PackAdvice(pack.label, pack.voltage_v, action, round(target, 2)))
    return round(target, 2), tuple(advice)


def _range_findings(packs: tuple[PackVoltage, ...]) -> list[Finding]:
    out = []
    for pack in packs:
        if not spec.MIN_VOLTAGE_V <= pack.voltage_v <= spec.MAX_VOLTAGE_V:
            low = pack.voltage_v < spec.MIN_VOLTAGE_V
            out.append(
                Finding(
                    Severity.FAIL,
                    VOLTAGE_RANGE,
                    f"{pack.label} reads {pack.voltage_v:.2f} V, outside the pack's "
                    f"{spec.MIN_VOLTAGE_V:g}-{spec.MAX_VOLTAGE_V:g} V range",
                    detail="Manual, Technical Parameters: voltage range "
                    f"{spec.MIN_VOLTAGE_V:g} V-{spec.MAX_VOLTAGE_V:g} V.",
                    fix=(
                        "Check the reading (meter range, typo). If it is real, charge this "
                        "pack on its own before linking it."
                        if low
                        else "Check the reading (meter range, typo). If it is real, do not "
                        "link this pack: have it inspected."
                    ),
                )
            )
    return out


def _read_findings(packs: tuple[PackVoltage, ...]) -> list[Finding]:
    """What an RS485 read adds: a repeated serial, unknown alarms, BMS protections."""
    out: list[Finding] = []
    by_serial: dict[str, list[PackVoltage]] = {}
    for pack in packs:
        if pack.serial:
            by_serial.setdefault(pack.serial, []).append(pack)
    for serial, same in by_serial.items():
        if len(same) > 1:
            out.append(
                Finding(
                    Severity.FAIL,
                    READ_TWICE,
                    f"Pack read twice: {' and '.join(p.label for p in same)} report serial "
                    f"{serial}",
                    detail="Serial numbers are unique, so the same pack was read again (the "
                    "cable was not moved) and another pack was never read.",
                    fix="Read again, moving the cable to the next pack's COM port each time.",
                )
            )
    unknown = [p for p in packs if p.alarm_read is False]
    if unknown:
        out.append(
            Finding(
                Severity.FAIL,
                ALARMS_UNKNOWN,
                "Alarm state not read: "
                + ", ".join(p.label for p in unknown)
                + " - 'no alarm' cannot be claimed",
                detail="A pack in alarm may be isolated by its BMS or about to be; its "
                "voltage alone does not say it may be linked.",
                fix="Read again; if the alarms still cannot be read, check the RS485 line "
                "and the pack before linking it.",
            )
        )
    for pack in packs:
        if pack.protections:
            out.append(
                Finding(
                    Severity.FAIL,
                    BMS_PROTECTION,
                    f"{pack.label}: BMS protection active ({', '.join(pack.protections)})",
                    detail="A protecting BMS has switched the pack off or limited it; linking "
                    "it now would equalise through a pack that is not in a normal state.",
                    fix="Find and clear the cause of the protection before linking this pack.",
                )
            )
    return out


def _spread_finding(spread_v: float, pair: str, rules: ParallelAssumptions) -> Finding:
    if spread_v > rules.spread_fail_v:
        severity, verdict = Severity.FAIL, f"above the {rules.spread_fail_v:g} V limit"
    elif spread_v > rules.spread_warn_v:
        severity, verdict = Severity.WARN, f"above the {rules.spread_warn_v:g} V warning"
    else:
        severity, verdict = Severity.OK, f"within {rules.spread_warn_v:g} V"
    return Finding(
        severity,
        SPREAD,
        f"Voltage spread {spread_v:.3f} V: {verdict}",
        detail=f"Worst pair: {pair}.",
        evidence=(rules.spread_rule(),),
        fix={
            Severity.FAIL: "Equalise first (see the plan); do not link yet.",
            Severity.WARN: "Better equalise first (see the plan); linking now is allowed.",
        }.get(severity, ""),
    )


def _current_finding(
    spread_v: float, current_a: float, pair: str, rules: ParallelAssumptions
) -> Finding:
    limit = spec.RECOMMENDED_CONTINUOUS_CURRENT_A
    over = current_a > limit + 1e-9
    beyond_max = current_a > spec.MAX_CURRENT_A + 1e-9
    title = f"Equalising current about {current_a:.1f} A when linked"
    if beyond_max:
        title += f": above the {spec.MAX_CURRENT_A:g} A pack maximum"
    elif over:
        title += f": above the {limit:g} A recommended continuous current"
    return Finding(
        Severity.FAIL if over else Severity.OK,
        CURRENT,
        title,
        detail=f"Worst pair {pair}: I = dV / (R_a + R_b + R_cable) = {spread_v:.3f} V / "
        f"{rules.loop_resistance_ohm * 1000:.2f} mohm = {current_a:.1f} A. That is the "
        "initial peak right after linking; it falls as the packs equalise, and the BMS may "
        f"limit it. With {rules.pack_resistance_high_ohm * 1000:g} mohm packs it would be "
        f"{equalising_current_a(spread_v, rules, high=True):.1f} A.",
        evidence=rules.describe()[:3],
        fix="Bring the packs closer together before linking (see the plan)." if over else "",
    )


def _advice_finding(
    advice: tuple[PackAdvice, ...], target_v: float, rules: ParallelAssumptions
) -> Finding:
    steps = tuple(
        f"{a.action.value} {a.label} from {a.voltage_v:.2f} V to about {a.target_v:.2f} V"
        for a in advice
        if a.action is not Action.NONE
    )
    return Finding(
        Severity.INFO,
        PLAN,
        f"Bring every pack to within {rules.spread_warn_v / 2:g} V of {target_v:.2f} V",
        detail="Charge or discharge each listed pack on its own (not linked), let it rest, "
        "then measure again.",
        evidence=steps,
        fix="; ".join(steps),
    )


def _soc_spread(packs: tuple[PackVoltage, ...]) -> float | None:
    socs = [p.soc_pct for p in packs]
    if any(s is None for s in socs):
        return None
    known = [s for s in socs if s is not None]
    return round(max(known) - min(known), 1)


def _soc_finding(
    packs: tuple[PackVoltage, ...], soc_spread: float, rules: ParallelAssumptions
) -> Finding:
    # Rounded as shown, so "40.0 points" is never a FAIL "above 40".
    spread = round(soc_spread, 1)
    if spread > rules.soc_spread_fail_pct:
        severity, verdict = Severity.FAIL, f"above the {rules.soc_spread_fail_pct:g}-point limit"
    elif spread > rules.soc_spread_warn_pct:
        severity, verdict = Severity.WARN, f"above the {rules.soc_spread_warn_pct:g}-point warning"
    else:
        severity, verdict = Severity.OK, f"within {rules.soc_spread_warn_pct:g} points"
    low = min(packs, key=lambda p: p.soc_pct or 0.0)
    high = max(packs, key=lambda p: p.soc_pct or 0.0)
    return Finding(
        severity,
        SOC_SPREAD,
        f"SOC spread {spread:.1f} points: {verdict}",
        detail="LiFePO4 rest voltage is nearly flat between about 20 and 90 % SOC, so a "
        "small voltage spread can hide a large SOC difference, and the packs then "
        f"equalise for a long time once linked. Lowest {low.label} ({low.soc_pct:.1f}%), "
        f"highest {high.label} ({high.soc_pct:.1f}%).",
        evidence=(rules.soc_rule(), *(f"{p.label}: {p.soc_pct:.1f} %" for p in packs)),
        fix={
            Severity.FAIL: f"Charge {low.label} on its own until its SOC is within "
            f"{rules.soc_spread_warn_pct:g} points of the others; do not link yet.",
            Severity.WARN: f"Better charge {low.label} on its own first; linking now is allowed.",
        }.get(severity, ""),
    )


def parallel_verdict(result: ParallelAssessment) -> Verdict:
    """One line: link, or do not and what to do first.

    When the voltages are what stops the linking, the verdict names the packs
    to charge or discharge (``do not link - pack 3 is 1.05 V low: charge it to
    about 53.05 V``); any other failure is said with its own fix.
    """
    ordered = sort_findings(result.findings)
    failing = [f for f in ordered if f.failed]
    moves = [a for a in result.advice if a.action is not Action.NONE]
    # The plan is the fix for the voltages, and charging the low pack also
    # narrows the SOC spread; any other failure is counted after it.
    planned = (SPREAD, CURRENT, SOC_SPREAD)
    others = [f for f in failing if f.code not in planned]
    if moves and any(f.code in (SPREAD, CURRENT) for f in failing):
        if len(moves) == 1:
            (move,) = moves
            off = abs(move.voltage_v - move.target_v)
            way = "low" if move.action is Action.CHARGE else "high"
            text = (
                f"do not link - {move.label} is {off:.2f} V {way}: {move.action.value} it to "
                f"about {move.target_v:.2f} V"
            )
        else:
            steps = "; ".join(f"{a.action.value} {a.label}" for a in moves)
            text = (
                f"do not link - {len(moves)} packs are off: {steps}, each to about "
                f"{moves[0].target_v:.2f} V"
            )
        if others:
            text += f" (and {len(others)} more failed: see the findings)"
        return Verdict(Severity.FAIL, text, SPREAD)
    if len(result.packs) >= 2:
        low, high = result.equalising_current_range_a
        ok = (
            f"the packs may be linked: spread {result.spread_v:.2f} V, about "
            f"{low:.0f}-{high:.0f} A at first"
        )
    else:
        ok = "nothing failed"
    return summarize(ordered, ok=ok, fail="do not link - ", warn="you may link, but ")
