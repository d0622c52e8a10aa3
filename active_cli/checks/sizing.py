"""`check sizing`: is this stack big enough, and wired right, for this inverter?

Pure: inverter power, pack count and an optional load in; an assessment with
findings out. Every rule is the manual's: current per pack against 100 A
recommended continuous (Maintenance 12) and 200 A maximum (Technical Parameters),
both terminal holes above 5 kW (Single machine installation, step 3), a busbar
instead of the battery terminals above 10 kW in parallel (Parallel installation),
at most 16 packs, and 14.47 kWh usable per pack. The current is taken at the low
end of the voltage range, 44.8 V, where a given power draws the most current;
the packs are assumed to share it equally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from active_cli import spec
from active_cli.checks.verdict import Verdict, sort_findings, summarize
from active_cli.model import Finding, Severity

# Finding codes: stable identifiers that tests, JSON consumers, the report and
# the CLI match on (import these, never spell the string again).
BACKUP: Final = "sizing.backup"
BUSBAR: Final = "sizing.busbar"
CURRENT: Final = "sizing.current"
LOAD: Final = "sizing.load"
MIN_PACKS: Final = "sizing.min-packs"
PACK_COUNT: Final = "sizing.pack-count"
TERMINALS: Final = "sizing.terminals"


# Currents are compared after rounding to the microampere so that 4480 W / 44.8 V
# is exactly the 100 A it means, whatever the float division gives.
_DIGITS = 6


@dataclass(frozen=True)
class SizingAssessment:
    inverter_power_w: float
    packs: int
    load_w: float | None
    busbar: bool
    voltage_v: float  # the voltage the currents are computed at
    stack_current_a: float
    current_per_pack_a: float
    min_packs_recommended: int  # for <= 100 A per pack
    min_packs_max: int  # for <= 200 A per pack
    both_terminals_needed: bool
    busbar_needed: bool
    usable_energy_kwh: float
    backup_hours: float | None
    assumptions: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return any(f.failed for f in self.findings)


def min_packs(power_w: float, per_pack_a: float, voltage_v: float = spec.MIN_VOLTAGE_V) -> int:
    """Fewest packs that keep each pack at or below `per_pack_a` at `voltage_v`."""
    return max(1, math.ceil(round(power_w / voltage_v / per_pack_a, _DIGITS)))


def check_sizing(
    inverter_power_w: float,
    packs: int,
    *,
    load_w: float | None = None,
    busbar: bool = False,
) -> SizingAssessment:
    """Apply the manual's sizing rules; `busbar` = the stack is wired through a busbar."""
    # NaN passes "<= 0" and inf has no pack count: both are typos, not powers.
    if not math.isfinite(inverter_power_w) or inverter_power_w <= 0:
        raise ValueError(f"inverter power must be a number above 0 W, not {inverter_power_w:g}")
    if packs < 1:
        raise ValueError("need at least one pack")
    if load_w is not None and (not math.isfinite(load_w) or load_w <= 0):
        raise ValueError(f"load must be a number above 0 W, not {load_w:g}")
    voltage_v = spec.MIN_VOLTAGE_V
    stack_a = round(inverter_power_w / voltage_v, _DIGITS)
    per_pack_a = round(stack_a / packs, _DIGITS)
    rec = min_packs(inverter_power_w, spec.RECOMMENDED_CONTINUOUS_CURRENT_A)
    most = min_packs(inverter_power_w, spec.MAX_CURRENT_A)
    # "greater than 5kw": at exactly 5 kW one hole is still enough.
    both_terminals = inverter_power_w > spec.BOTH_TERMINALS_ABOVE_W
    busbar_needed = packs >= 2 and inverter_power_w > spec.MAX_POWER_THROUGH_TERMINALS_W
    energy_kwh = spec.usable_energy_kwh(packs)
    hours = None if load_w is None else energy_kwh * 1000.0 / load_w

    findings = [
        _count_finding(packs),
        _current_finding(inverter_power_w, packs, stack_a, per_pack_a, rec, most),
        Finding(
            Severity.INFO,
            MIN_PACKS,
            f"{inverter_power_w:g} W needs at least {rec} pack(s) at "
            f"{spec.RECOMMENDED_CONTINUOUS_CURRENT_A:g} A each "
            f"({most} at the {spec.MAX_CURRENT_A:g} A maximum)",
            detail=f"{stack_a:.1f} A at {voltage_v:g} V shared by the packs.",
        ),
        _terminal_finding(inverter_power_w, both_terminals),
        _busbar_finding(inverter_power_w, packs, busbar_needed, busbar),
        _energy_finding(packs, energy_kwh, load_w, hours),
    ]
    if load_w is not None and load_w > inverter_power_w:
        findings.append(
            Finding(
                Severity.WARN,
                LOAD,
                f"The load ({load_w:g} W) is above the inverter's power ({inverter_power_w:g} W)",
                detail="The inverter cannot deliver it; the backup time assumes it could.",
            )
        )
    assumptions = (
        f"currents at {voltage_v:g} V, the low end of the pack's range (manual, Technical "
        f"Parameters), not at {spec.NOMINAL_VOLTAGE_V:g} V nominal",
        "the packs share the current equally",
        f"rated usable capacity {spec.USABLE_ENERGY_KWH:g} kWh per pack (manual, "
        f"{spec.MAX_DEPTH_OF_DISCHARGE_PCT:g} % depth of discharge); backup time before "
        "inverter losses",
    )
    return SizingAssessment(
        inverter_power_w=inverter_power_w,
        packs=packs,
        load_w=load_w,
        busbar=busbar,
        voltage_v=voltage_v,
        stack_current_a=stack_a,
        current_per_pack_a=per_pack_a,
        min_packs_recommended=rec,
        min_packs_max=most,
        both_terminals_needed=both_terminals,
        busbar_needed=busbar_needed,
        usable_energy_kwh=energy_kwh,
        backup_hours=hours,
        assumptions=assumptions,
        findings=tuple(findings),
    )


def _count_finding(packs: int) -> Finding:
    limit = spec.MAX_PACKS_IN_PARALLEL
    if packs > limit:
        return Finding(
            Severity.FAIL,
            PACK_COUNT,
            f"{packs} packs: the manual allows at most {limit} in parallel",
            fix=f"Use at most {limit} packs per stack.",
        )
    return Finding(Severity.OK, PACK_COUNT, f"{packs} pack(s): within the {limit} allowed")


def _current_finding(
    power_w: float, packs: int, stack_a: float, per_pack_a: float, rec: int, most: int
) -> Finding:
    recommended = spec.RECOMMENDED_CONTINUOUS_CURRENT_A
    maximum = spec.MAX_CURRENT_A
    detail = (
        f"{power_w:g} W / {spec.MIN_VOLTAGE_V:g} V = {stack_a:.1f} A, / {packs} pack(s) = "
        f"{per_pack_a:.1f} A per pack."
    )
    evidence = (
        f"recommended continuous {recommended:g} A (manual, Maintenance 12)",
        f"maximum {maximum:g} A (manual, Technical Parameters)",
    )
    if per_pack_a > maximum:
        return Finding(
            Severity.FAIL,
            CURRENT,
            f"{per_pack_a:.1f} A per pack: above the {maximum:g} A maximum",
            detail=detail,
            evidence=evidence,
            fix=f"Use at least {most} packs (better {rec}), or limit the inverter's "
            "battery discharge current.",
        )
    if per_pack_a > recommended:
        return Finding(
            Severity.WARN,
            CURRENT,
            f"{per_pack_a:.1f} A per pack: above the {recommended:g} A recommended continuous",
            detail=detail,
            evidence=evidence,
            fix=f"Use {rec} packs, or limit the inverter's battery discharge current to "
            f"{recommended * packs:g} A.",
        )
    return Finding(
        Severity.OK,
        CURRENT,
        f"{per_pack_a:.1f} A per pack: within the {recommended:g} A recommended continuous",
        detail=detail,
        evidence=evidence,
    )


def _terminal_finding(power_w: float, both: bool) -> Finding:
    limit = spec.BOTH_TERMINALS_ABOVE_W
    if both:
        return Finding(
            Severity.WARN,
            TERMINALS,
            f"Above {limit / 1000:g} kW: wire both terminal holes, + and -",
            detail="Manual, Single machine installation: 'If the inverter power is greater "
            "than 5kw, both terminals need to be connected.'",
            fix="Connect both holes of the + and of the - terminal where the inverter "
            "cables land, each with 1 AWG (42.4 mm2) cable.",
        )
    return Finding(
        Severity.OK,
        TERMINALS,
        f"Up to {limit / 1000:g} kW: one terminal hole each for + and - is enough",
    )


def _busbar_finding(power_w: float, packs: int, needed: bool, busbar: bool) -> Finding:
    limit_kw = spec.MAX_POWER_THROUGH_TERMINALS_W / 1000
    if needed and not busbar:
        return Finding(
            Severity.FAIL,
            BUSBAR,
            f"Above {limit_kw:g} kW in parallel: do not wire through the battery terminals",
            detail="Manual, Parallel installation: each terminal carries "
            f"{spec.TERMINAL_CURRENT_A:g} A, so parallel use through the battery terminals "
            f"is limited to {limit_kw:g} kW.",
            fix="Wire every pack to a busbar and the inverter to the busbar, then run again "
            "saying the stack is wired through a busbar.",
        )
    if needed:
        return Finding(
            Severity.OK,
            BUSBAR,
            f"Above {limit_kw:g} kW in parallel, wired through a busbar (as stated)",
        )
    if packs == 1:
        return Finding(
            Severity.OK,
            BUSBAR,
            "Single pack: the busbar rule for parallel stacks does not apply",
        )
    return Finding(
        Severity.OK,
        BUSBAR,
        f"Up to {limit_kw:g} kW: the packs may be linked terminal to terminal",
    )


def _energy_finding(
    packs: int, energy_kwh: float, load_w: float | None, hours: float | None
) -> Finding:
    # Capacity, not charge left: the rating of the stack, whatever its SOC now.
    title = f"Rated usable capacity {energy_kwh:.2f} kWh ({packs} x {spec.USABLE_ENERGY_KWH:g} kWh)"
    detail = ""
    if load_w is not None and hours is not None:
        title += f": about {hours:.1f} h at {load_w:g} W"
        detail = "From full to the 90 % depth-of-discharge limit, before inverter losses."
    return Finding(Severity.INFO, BACKUP, title, detail=detail)


def sizing_verdict(result: SizingAssessment) -> Verdict:
    """One line: the stack fits the inverter, or the first thing to change."""
    return summarize(
        sort_findings(result.findings),
        ok=f"{result.packs} pack(s) carry {result.inverter_power_w:g} W within the "
        f"{spec.RECOMMENDED_CONTINUOUS_CURRENT_A:g} A recommended per pack",
    )
