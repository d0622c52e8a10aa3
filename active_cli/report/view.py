"""The ticket as the template sees it: every value decided and formatted, nothing computed there.

`build_ticket` walks the checklist, asks `fill` what the session says about
each item, formats the pack table, the cell charts, the steps with their
findings (and the COMMON ISSUES rows they match), the join log and the
acceptance evidence. Strings stay as the session holds them: the template's
one output hook passes every value through `sanitize.printable` and then
jinja2's autoescape, so no value reaches the page unescaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from active_cli import __version__
from active_cli.commissioning.checklists import Checklist, ChecklistItem
from active_cli.commissioning.session import PackRecord, Session, StepStatus, iso_utc
from active_cli.model import CanStackState, Finding
from active_cli.report.chart import CellChart, cell_chart
from active_cli.report.fill import FillContext, Mark, fill
from active_cli.report.issues import issues_for_alarm, issues_for_finding
from active_cli.report.photos import Photo


@dataclass(frozen=True)
class ItemView:
    id: str
    label: str
    kind: str
    mandatory: bool
    mark: str  # Mark value: done | problem | info | blank
    value: str | None
    evidence: tuple[str, ...]
    answer: bool | None
    group: str | None

    @property
    def missing_mandatory(self) -> bool:
        return self.mandatory and not self.value

    @property
    def pairs(self) -> bool:
        """Short enough to share a row with another field."""
        short_value = len(self.value or "") <= 48
        return self.kind in ("field", "yes_no") and len(self.label) <= 36 and short_value


@dataclass(frozen=True)
class SectionView:
    id: str
    title: str
    kind: str
    intro: str
    items: tuple[ItemView, ...]

    @property
    def groups(self) -> tuple[tuple[str | None, tuple[tuple[ItemView, ...], ...]], ...]:
        """Items under their sub-headings, in rows: two short fields side by side, as on
        the paper form; long labels, text boxes and checkboxes take a row of their own."""
        out: list[tuple[str | None, list[list[ItemView]]]] = []
        for item in self.items:
            if not out or out[-1][0] != item.group:
                out.append((item.group, []))
            rows = out[-1][1]
            if item.pairs and rows and len(rows[-1]) == 1 and rows[-1][0].pairs:
                rows[-1].append(item)
            else:
                rows.append([item])
        return tuple((g, tuple(tuple(r) for r in rows)) for g, rows in out)


@dataclass(frozen=True)
class IssueView:
    number: str
    symptom: str
    cause: str
    solution: str


@dataclass(frozen=True)
class FindingView:
    severity: str
    code: str
    title: str
    detail: str
    evidence: tuple[str, ...]
    fix: str
    issues: tuple[IssueView, ...]


@dataclass(frozen=True)
class StepView:
    number: int
    id: str
    title: str
    status: str
    started_at: str
    ended_at: str
    evidence: tuple[str, ...]
    findings: tuple[FindingView, ...]
    answers: tuple[tuple[str, str], ...]
    note: str


@dataclass(frozen=True)
class PackView:
    position: str
    address: str
    serial: str
    model: str
    firmware: str
    voltage: str
    current: str
    soc: str
    soh: str
    cycles: str
    cell_min_max: str
    temperatures: str
    alarms: str
    chart: CellChart | None
    issues: tuple[IssueView, ...]


@dataclass(frozen=True)
class JoinView:
    position: str
    address: str
    serial: str
    firmware: str
    voltage: str
    joined_at: str
    waited: str


@dataclass(frozen=True)
class PhotoView:
    caption: str
    data_uri: str


@dataclass(frozen=True)
class Ticket:
    lang: str
    labels: dict[str, str]
    title: str
    note: str
    closing: str
    ticket_id: str
    generated_at: str
    tool_version: str
    session_sha256: str
    session_id: str
    simulated: str | None
    outcome: str
    sections: tuple[SectionView, ...]
    packs: tuple[PackView, ...]
    pack_source: str  # which reading the table shows, in the checklist's words
    can_lines: tuple[str, ...]
    steps: tuple[StepView, ...]
    joins: tuple[JoinView, ...]
    inverter_setting: str | None
    inverter_name: str
    display_matches: bool | None
    acceptance_evidence: tuple[str, ...]
    photos: tuple[PhotoView, ...]


def _num(value: float | int | None, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN: not known, never 0
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _issue_view(item: ChecklistItem) -> IssueView:
    return IssueView(item.id, item.label, item.cause or "", item.solution or "")


def _finding_view(checklist: Checklist, finding: Finding) -> FindingView:
    return FindingView(
        severity=finding.severity.value,
        code=finding.code,
        title=finding.title,
        detail=finding.detail,
        evidence=finding.evidence,
        fix=finding.fix,
        issues=tuple(_issue_view(i) for i in issues_for_finding(checklist, finding)),
    )


def _pack_view(checklist: Checklist, pack: PackRecord) -> PackView:
    cells = pack.cell_voltages_v
    temps = pack.temperatures_c
    if temps:
        t_text = (
            _num(min(temps)) if min(temps) == max(temps) else f"{min(temps):.1f}–{max(temps):.1f}"
        )
    else:
        t_text = ""
    words = [*pack.alarms, *(f"{p} (protection)" for p in pack.protections)]
    issues: dict[str, IssueView] = {}
    for word in words:
        for item in issues_for_alarm(checklist, word):
            issues[item.id] = _issue_view(item)
    if words:
        alarms = ", ".join(words)
    elif pack.alarms_read:
        alarms = checklist.label("none")
    else:
        alarms = ""
    return PackView(
        position=_num(pack.position),
        address=_num(pack.address),
        serial=pack.serial or "",
        model=pack.model or "",
        firmware=pack.firmware or "",
        voltage=_num(pack.voltage_v, 2),
        current=_num(pack.current_a, 1),
        soc=_num(pack.soc_pct, 0),
        soh=_num(pack.soh_pct, 0),
        cycles=_num(pack.cycles),
        cell_min_max=f"{min(cells):.3f} / {max(cells):.3f}" if cells else "",
        temperatures=t_text,
        alarms=alarms,
        chart=cell_chart(cells),
        issues=tuple(issues.values()),
    )


def _can_lines(can: CanStackState | None, master: int | None) -> tuple[str, ...]:
    if can is None:
        return ()
    lines = [f"protocol {can.protocol}"]
    if can.module_count is not None:
        lines.append(
            f"{can.module_count} modules reported by the master"
            + (f" (address {master})" if master is not None else "")
        )
    if can.voltage_v is not None or can.soc_pct is not None:
        lines.append(
            f"{_num(can.voltage_v, 2)} V, {_num(can.current_a)} A, "
            f"SOC {_num(can.soc_pct, 0)} %, SOH {_num(can.soh_pct, 0)} %"
        )
    if can.limits is not None:
        limits = can.limits
        text = (
            f"charge {limits.charge_voltage_v:.1f} V / {limits.charge_current_a:.0f} A, "
            f"discharge {limits.discharge_current_a:.0f} A"
        )
        if limits.discharge_voltage_v is not None:
            text += f" / {limits.discharge_voltage_v:.1f} V"
        lines.append(text)
    if can.request is not None:
        r = can.request
        charge = "enabled" if r.charge_enable else "DISABLED"
        discharge = "enabled" if r.discharge_enable else "DISABLED"
        lines.append(f"charge {charge}, discharge {discharge}")
    if can.alarms or can.protections:
        lines.append("alarms: " + ", ".join([*can.alarms, *can.protections]))
    return tuple(lines)


def build_ticket(
    session: Session,
    checklist: Checklist,
    *,
    session_sha256: str,
    generated_at: datetime,
    photos: tuple[Photo, ...] = (),
) -> Ticket:
    ctx = FillContext(session, photo_count=len(photos))
    sections = []
    for section in checklist.sections:
        if section.kind in ("issues", "steps"):
            continue  # issues print beside findings; steps have their own part
        items = []
        for item in section.items:
            result = fill(item.fills, ctx)
            items.append(
                ItemView(
                    id=item.id,
                    label=item.label,
                    kind=item.kind,
                    mandatory=item.mandatory,
                    mark=result.mark.value,
                    value=result.value,
                    evidence=tuple(dict.fromkeys(result.evidence)),  # each line once
                    answer=result.answer,
                    group=item.group,
                )
            )
        sections.append(
            SectionView(section.id, section.title, section.kind, section.intro, tuple(items))
        )
    packs = session.final_packs or session.before_linking
    steps = tuple(
        StepView(
            number=n,
            id=step.id,
            title=step.title,
            status=step.status.value,
            started_at=step.started_at or "",
            ended_at=step.ended_at or "",
            evidence=step.evidence,
            findings=tuple(_finding_view(checklist, f) for f in step.findings),
            answers=step.answers,
            note=step.note,
        )
        for n, step in enumerate(session.steps, start=1)
    )
    try:
        acceptance = session.step("acceptance")
        acceptance_evidence = (
            acceptance.evidence if acceptance.status is not StepStatus.PENDING else ()
        )
    except KeyError:
        acceptance_evidence = ()
    simulated = None
    if session.sim_scenario is not None:
        simulated = f"{checklist.label('simulated')} ({session.sim_scenario})"
    return Ticket(
        lang=checklist.lang,
        labels=checklist.labels,
        title=checklist.title,
        note=checklist.note,
        closing=checklist.closing,
        ticket_id=session.site.ticket or session.session_id,
        generated_at=iso_utc(generated_at),
        tool_version=__version__,
        session_sha256=session_sha256,
        session_id=session.session_id,
        simulated=simulated,
        outcome=session.outcome.value,
        sections=tuple(sections),
        packs=tuple(_pack_view(checklist, p) for p in packs),
        pack_source=checklist.label("packs_final" if session.final_packs else "packs_before"),
        can_lines=_can_lines(session.can_state, session.master_address),
        steps=steps,
        joins=tuple(
            JoinView(
                position=str(j.position),
                address=_num(j.address),
                serial=j.serial or "",
                firmware=j.firmware or "",
                voltage=_num(j.voltage_v, 2),
                joined_at=j.joined_at,
                waited=_num(j.waited_s, 1),
            )
            for j in session.joins
        ),
        inverter_setting=session.inverter_setting,
        inverter_name=f"{session.site.inverter_name} (profile {session.site.inverter_profile})",
        display_matches=session.inverter_display_matches,
        acceptance_evidence=acceptance_evidence,
        photos=tuple(PhotoView(p.caption, p.data_uri) for p in photos),
    )


__all__ = ["Mark", "Ticket", "build_ticket"]
