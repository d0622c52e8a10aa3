"""What the session says about each checklist item: a tick with its evidence, a flag, or nothing.

Every rule named in `active_cli.commissioning.checklists.FILL_RULES` is a function here from
the session to a `Fill`. A rule only restates what the record holds: where
the record is silent the item stays an empty box for the installer, never a
guess ("latest firmware" cannot be known from the bus, so 1.4 shows the
inventory and stays unticked). A ``fills`` that is a session field path
(``site.installer.company``) is read straight from the record.

`Mark` is how the box is drawn: DONE ticked, PROBLEM flagged, INFO unticked
with evidence beside it, BLANK empty.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from active_cli.commissioning.session import PackRecord, Session, StepRecord, StepStatus
from active_cli.model import Finding, Severity


class Mark(enum.Enum):
    DONE = "done"
    PROBLEM = "problem"
    INFO = "info"
    BLANK = "blank"


@dataclass(frozen=True)
class Fill:
    mark: Mark = Mark.BLANK
    value: str | None = None  # what goes in a field's box
    evidence: tuple[str, ...] = ()
    answer: bool | None = None  # a yes/no item's answer


BLANK = Fill()


@dataclass(frozen=True)
class FillContext:
    session: Session
    photo_count: int = 0


def _step(session: Session, step_id: str) -> StepRecord | None:
    try:
        return session.step(step_id)
    except KeyError:
        return None


def _packs(session: Session) -> tuple[PackRecord, ...]:
    """The latest full reading of the stack: the final snapshot, else the before-linking one."""
    return session.final_packs or session.before_linking


def _name(pack: PackRecord) -> str:
    if pack.position is not None:
        return f"pack {pack.position}"
    return f"address {pack.address}" if pack.address is not None else "pack ?"


def _all_findings(session: Session) -> list[tuple[StepRecord, Finding]]:
    return [(step, f) for step in session.steps for f in step.findings]


def _step_mark(step: StepRecord | None) -> Mark:
    if step is None or step.status in (StepStatus.PENDING, StepStatus.RUNNING):
        return Mark.BLANK
    if step.status is StepStatus.OK:
        return Mark.DONE
    if step.status is StepStatus.FAIL:
        return Mark.PROBLEM
    return Mark.INFO  # warned or skipped: the installer decides


def _step_fill(step: StepRecord | None, *extra: str) -> Fill:
    mark = _step_mark(step)
    if step is None or mark is Mark.BLANK:
        return BLANK
    evidence = [*extra, *step.evidence]
    evidence += [f.title for f in step.findings if f.severity in (Severity.WARN, Severity.FAIL)]
    if step.status is StepStatus.SKIPPED:
        evidence.append(f"skipped: {step.note}" if step.note else "skipped")
    return Fill(mark, evidence=tuple(evidence))


def _v(value: float | None, digits: int = 2) -> str:
    return "?" if value is None else f"{value:.{digits}f}"


# --- the rules --------------------------------------------------------------------------


def inverter_setting(ctx: FillContext) -> Fill:
    s = ctx.session
    if s.inverter_setting is None:
        return BLANK
    profile = f"{s.site.inverter_name} (profile {s.site.inverter_profile})"
    step = _step(s, "inverter")
    # The step's own evidence usually quotes the setting already; say it once.
    quoted = step is not None and any(s.inverter_setting in line for line in step.evidence)
    fill = _step_fill(step, profile) if quoted else _step_fill(step, s.inverter_setting, profile)
    if fill.mark is Mark.BLANK:
        return Fill(Mark.INFO, evidence=(s.inverter_setting, profile))
    return fill


def stack_type(ctx: FillContext) -> Fill:
    s = ctx.session
    packs = _packs(s)
    if not packs:
        return Fill(Mark.INFO, evidence=(f"{s.site.packs_expected} packs expected, none read",))
    models = Counter(p.model for p in packs if p.model)
    model = models.most_common(1)[0][0] if models else "pack"
    text = f"1 × {model}, single" if len(packs) == 1 else f"{len(packs)} × {model} in parallel"
    if s.master_address is not None:
        text += f", master at address {s.master_address}"
    plan = _step(s, "address-plan")
    mark = _step_mark(plan)
    if len(packs) != s.site.packs_expected:
        mark = Mark.PROBLEM
        text += f" ({s.site.packs_expected} expected)"
    elif mark is Mark.BLANK:
        mark = Mark.INFO
    return Fill(mark, value=text, evidence=(text,))


def wiring(ctx: FillContext) -> Fill:
    return _step_fill(_step(ctx.session, "wiring"))


def _firmware_counts(packs: tuple[PackRecord, ...]) -> Counter[str]:
    return Counter(p.firmware or "not read" for p in packs)


def firmware_inventory(ctx: FillContext) -> Fill:
    packs = _packs(ctx.session)
    if not packs:
        return BLANK
    counts = _firmware_counts(packs)
    if len(counts) == 1:
        (firmware,) = counts
        return Fill(
            Mark.INFO,
            evidence=(
                f"{firmware} on all {len(packs)} packs",
                "whether that is the latest release is not known to the tool",
            ),
        )
    lines = []
    for firmware in sorted(counts):
        names = ", ".join(_name(p) for p in packs if (p.firmware or "not read") == firmware)
        lines.append(f"{firmware}: {names}")
    return Fill(Mark.PROBLEM, evidence=("mixed firmware in one stack", *lines))


_YES = frozenset({"yes", "y", "true", "1", "ja", "j", "ok", "done"})
_NO = frozenset({"no", "n", "false", "0", "nein"})


def restart(ctx: FillContext) -> Fill:
    step = _step(ctx.session, "inverter")
    if step is None:
        return BLANK
    for key, answer in step.answers:
        if "restart" not in key.lower():
            continue
        word = answer.strip().lower()
        when = f" ({step.ended_at})" if step.ended_at else ""
        if word in _YES:
            return Fill(Mark.DONE, evidence=(f"installer confirmed the inverter restart{when}",))
        if word in _NO:
            return Fill(Mark.PROBLEM, evidence=("installer: the inverter was not restarted",))
        return Fill(Mark.INFO, evidence=(f"installer's answer: {answer}",))
    return BLANK


def acceptance(ctx: FillContext) -> Fill:
    s = ctx.session
    extra = []
    if s.inverter_display_matches is True:
        extra.append("the inverter's battery page matches the battery (installer)")
    elif s.inverter_display_matches is False:
        extra.append("the inverter's battery page does NOT match the battery (installer)")
    fill = _step_fill(_step(s, "acceptance"), *extra)
    if s.inverter_display_matches is False and fill.mark is not Mark.BLANK:
        return Fill(Mark.PROBLEM, evidence=fill.evidence)
    return fill


def _events(session: Session) -> list[str]:
    out = []
    for pack in _packs(session):
        words = [*pack.alarms, *(f"{p} (protection)" for p in pack.protections)]
        if words:
            where = _name(pack) + (f" (addr {pack.address})" if pack.address is not None else "")
            out.append(f"{where}: {', '.join(words)}")
    can = session.can_state
    if can is not None and (can.alarms or can.protections):
        words = [*can.alarms, *(f"{p} (protection)" for p in can.protections)]
        out.append(f"stack on CAN: {', '.join(words)}")
    return out


def event_codes(ctx: FillContext) -> Fill:
    s = ctx.session
    events = _events(s)
    if events:
        return Fill(Mark.PROBLEM, value="; ".join(events), evidence=tuple(events))
    packs = _packs(s)
    if packs and all(p.alarms_read for p in packs):
        text = f"no alarm or protection on any of the {len(packs)} packs"
        return Fill(Mark.DONE, value=text, evidence=(text,))
    return BLANK  # alarms not read: "none" would be a guess


def power_on(ctx: FillContext) -> Fill:
    s = ctx.session
    step = _step(s, "power-on-batteries")
    mark = _step_mark(step)
    if step is None or mark is Mark.BLANK:
        return BLANK
    # The join log itself is printed in full further down; here only the verdict.
    lines = [f"{len(s.joins)} of {s.site.packs_expected} packs switched on one by one and answered"]
    lines += [f.title for f in step.findings if f.severity in (Severity.WARN, Severity.FAIL)]
    if step.status is StepStatus.SKIPPED:
        lines.append(f"skipped: {step.note}" if step.note else "skipped")
    return Fill(mark, evidence=tuple(lines))


def _soc_problem(session: Session) -> list[str]:
    return [
        f.title
        for _, f in _all_findings(session)
        if f.code.endswith("soc-spread") and f.severity in (Severity.WARN, Severity.FAIL)
    ]


def soc(ctx: FillContext) -> Fill:
    packs = [p for p in _packs(ctx.session) if p.soc_pct is not None]
    if not packs:
        return BLANK
    values = [p.soc_pct for p in packs if p.soc_pct is not None]
    text = f"SOC {min(values):.0f}-{max(values):.0f} % (spread {max(values) - min(values):.0f} %)"
    problems = _soc_problem(ctx.session)
    return Fill(Mark.PROBLEM if problems else Mark.DONE, evidence=(text, *problems))


def pack_data(ctx: FillContext) -> Fill:
    packs = _packs(ctx.session)
    if not packs:
        return BLANK
    return Fill(
        Mark.INFO,
        evidence=(
            f"data of all {len(packs)} packs read over RS485 by `active`: see Data of the battery",
            "not read with the Active Link program",
        ),
    )


def one_by_one(ctx: FillContext) -> Fill:
    packs = ctx.session.before_linking
    if not packs:
        return BLANK
    sources = {p.source for p in packs}
    how = "typed from a multimeter" if sources == {"multimeter"} else "read on its own over RS485"
    return Fill(Mark.DONE, evidence=(f"each of the {len(packs)} packs {how} before linking",))


def _voltage_lines(packs: tuple[PackRecord, ...]) -> tuple[str, ...]:
    values = [p.voltage_v for p in packs if p.voltage_v is not None]
    lines = ", ".join(f"{_name(p)} {_v(p.voltage_v)} V" for p in packs)
    if len(values) >= 2:
        return (lines, f"spread {max(values) - min(values):.2f} V")
    return (lines,)


def before_linking_voltages(ctx: FillContext) -> Fill:
    s = ctx.session
    if not s.before_linking:
        return BLANK
    step = _step(s, "before-linking")
    mark = Mark.PROBLEM if step is not None and step.status is StepStatus.FAIL else Mark.DONE
    extra = () if step is None else tuple(f.title for f in step.findings if f.failed)
    return Fill(mark, evidence=(*_voltage_lines(s.before_linking), *extra))


_UNDERVOLTAGE_CODES = ("pack.cell-under-voltage", "pack.cell-low")


def undervoltage(ctx: FillContext) -> Fill:
    s = ctx.session
    packs = [p for p in _packs(s) if p.cell_voltages_v]
    flagged = [f.title for _, f in _all_findings(s) if f.code in _UNDERVOLTAGE_CODES]
    flagged += [e for e in _events(s) if "under-voltage" in e]
    if not packs and not flagged:
        return BLANK
    evidence = list(flagged)
    if packs:
        low = min(packs, key=lambda p: min(p.cell_voltages_v))
        cell = min(low.cell_voltages_v)
        evidence.append(
            f"lowest cell {cell:.3f} V ({_name(low)}, cell {low.cell_voltages_v.index(cell) + 1})"
        )
        volts = [p for p in packs if p.voltage_v is not None]
        if volts:
            lowest = min(volts, key=lambda p: p.voltage_v or 0.0)
            evidence.append(f"lowest pack {_v(lowest.voltage_v)} V ({_name(lowest)})")
    return Fill(Mark.PROBLEM if flagged else Mark.DONE, evidence=tuple(evidence))


def configuration(ctx: FillContext) -> Fill:
    s = ctx.session
    parts = []
    stack = stack_type(ctx).value
    if stack:
        parts.append(stack)
    inverter = f"inverter {s.site.inverter_name} (profile {s.site.inverter_profile})"
    if s.site.inverter_power_w is not None:
        inverter += f", {s.site.inverter_power_w:.0f} W"
    parts.append(inverter)
    if s.inverter_setting:
        parts.append(s.inverter_setting)
    return Fill(Mark.DONE, value="; ".join(parts))


def bms_serials(ctx: FillContext) -> Fill:
    packs = _packs(ctx.session)
    if not packs or all(p.serial is None for p in packs):
        return BLANK
    if len(packs) == 1:
        return Fill(Mark.DONE, value=packs[0].serial or "not read")
    text = ", ".join(f"{p.position or '?'}: {p.serial or 'not read'}" for p in packs)
    return Fill(Mark.DONE, value=text)


def bms_firmware(ctx: FillContext) -> Fill:
    packs = _packs(ctx.session)
    if not packs or all(p.firmware is None for p in packs):
        return BLANK
    counts = _firmware_counts(packs)
    if len(counts) == 1:
        (firmware,) = counts
        return Fill(Mark.DONE, value=f"{firmware} (all {len(packs)} packs)")
    text = ", ".join(f"{fw} ×{n}" for fw, n in sorted(counts.items())) + " (mixed)"
    return Fill(Mark.PROBLEM, value=text)


def commissioning_date(ctx: FillContext) -> Fill:
    return Fill(Mark.DONE, value=ctx.session.created_at[:10])


def photos(ctx: FillContext) -> Fill:
    if not ctx.photo_count:
        return BLANK
    return Fill(Mark.DONE, evidence=(f"{ctx.photo_count} photo(s) attached: see Photos",))


def problems(ctx: FillContext) -> Fill:
    s = ctx.session
    lines = [
        f"{step.title}: {f.title}"
        for step, f in _all_findings(s)
        if f.severity in (Severity.WARN, Severity.FAIL)
    ]
    lines += [
        f"{step.title}: skipped ({step.note or 'no reason given'})"
        for step in s.steps
        if step.status is StepStatus.SKIPPED
    ]
    if lines:
        return Fill(Mark.PROBLEM, value="\n".join(lines))
    if s.outcome.value == "completed":
        return Fill(
            Mark.DONE, value=f"no problem found: all {len(s.steps)} commissioning steps passed"
        )
    return BLANK


def additional(ctx: FillContext) -> Fill:
    packs = _packs(ctx.session)
    if not packs:
        return BLANK
    return Fill(
        Mark.DONE,
        value=(
            "module voltages, currents, SOC, cell voltages and temperatures of every pack: "
            "see Data of the battery; what each commissioning step measured: see "
            "Commissioning steps"
        ),
    )


RULES: dict[str, Callable[[FillContext], Fill]] = {
    "inverter-setting": inverter_setting,
    "stack-type": stack_type,
    "wiring": wiring,
    "firmware-inventory": firmware_inventory,
    "restart": restart,
    "acceptance": acceptance,
    "event-codes": event_codes,
    "power-on": power_on,
    "soc": soc,
    "pack-data": pack_data,
    "one-by-one": one_by_one,
    "before-linking-voltages": before_linking_voltages,
    "undervoltage": undervoltage,
    "configuration": configuration,
    "bms-serials": bms_serials,
    "bms-firmware": bms_firmware,
    "commissioning-date": commissioning_date,
    "photos": photos,
    "problems": problems,
    "additional": additional,
}


def field_value(session: Session, dotted: str) -> object:
    value: object = session
    for part in dotted.split("."):
        if value is None:
            return None
        value = getattr(value, part)
    return value


def fill(fills: str | None, ctx: FillContext) -> Fill:
    """The fill of one item: its rule's verdict, a session field's value, or BLANK."""
    if fills is None:
        return BLANK
    rule = RULES.get(fills)
    if rule is not None:
        return rule(ctx)
    value = field_value(ctx.session, fills)
    if value is None or value == "":
        return BLANK
    if isinstance(value, bool):
        return Fill(Mark.DONE, answer=value)
    if isinstance(value, float):
        return Fill(Mark.DONE, value=f"{value:g}")
    return Fill(Mark.DONE, value=str(value))
