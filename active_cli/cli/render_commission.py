"""What ``active commission`` prints at its end: the steps, the join log, one verdict line."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from active_cli.checks.parallel import PLAN
from active_cli.cli.output import stdout
from active_cli.commissioning.session import Outcome, Session, StepRecord, StepStatus
from active_cli.model import Severity
from active_cli.sanitize import printable, printable_or

_STYLE = {
    StepStatus.OK: "green",
    StepStatus.WARN: "yellow",
    StepStatus.FAIL: "bold red",
    StepStatus.SKIPPED: "cyan",
    StepStatus.PENDING: "dim",
    StepStatus.RUNNING: "dim",
}


def steps_table(session: Session) -> Table:
    table = Table(title="Commissioning", title_justify="left", expand=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("step", max_width=44)
    table.add_column("result", no_wrap=True)
    table.add_column("note", max_width=22)
    for number, step in enumerate(session.steps, start=1):
        style = _STYLE[step.status]
        table.add_row(
            str(number),
            escape(step.title),
            f"[{style}]{step.status.value.upper()}[/]",
            escape(printable(_note(step))),
        )
    return table


def _note(step: StepRecord) -> str:
    if step.note:
        return step.note
    counts = {s: sum(1 for f in step.findings if f.severity is s) for s in Severity}
    parts = [f"{counts[s]} {s.value}" for s in (Severity.FAIL, Severity.WARN) if counts[s]]
    return ", ".join(parts)


def join_table(session: Session) -> Table:
    table = Table(title="Power-on, pack by pack", title_justify="left", expand=False)
    for column in ("pack", "address", "serial", "firmware", "V", "after"):
        table.add_column(column, no_wrap=True)
    for join in session.joins:
        table.add_row(
            str(join.position),
            "?" if join.address is None else str(join.address),
            escape(printable_or(join.serial)),
            escape(printable_or(join.firmware)),
            "?" if join.voltage_v is None else f"{join.voltage_v:.2f}",
            f"{join.waited_s:.1f} s",
        )
    return table


def verdict(session: Session) -> str:
    """One line: the outcome and the one thing to do next."""
    if session.outcome is Outcome.COMPLETED:
        warned = [s for s in session.steps if s.status is StepStatus.WARN]
        skipped = [s for s in session.steps if s.status is StepStatus.SKIPPED]
        if not warned and not skipped:
            return (
                f"OK: commissioning complete: {session.site.packs_expected} pack(s), "
                f"the {session.site.inverter_name} accepts the battery"
            )
        what = ", ".join(s.id for s in (*warned, *skipped))
        return f"WARN: commissioning complete with warnings or skipped steps ({what}): read them"
    failed = next((s for s in session.steps if s.status is StepStatus.FAIL), None)
    if failed is None:
        return "STOPPED: the run did not finish: continue it with --resume"
    first = next((f for f in failed.findings if f.failed), None)
    if first is None:
        return f"FAIL: stopped at {failed.title.lower()}"
    plan = next((f for f in failed.findings if f.code == PLAN and f.fix), None)
    if plan is not None:
        return f"FAIL: do not link: {first.title}: {plan.fix}"
    fix = f": {first.fix}" if first.fix else ""
    return f"FAIL: stopped at '{failed.id}': {first.title}{fix}"


def show(session: Session, path: Path) -> None:
    console = stdout()
    console.print(steps_table(session))
    if session.joins:
        console.print(join_table(session))
    for step in session.steps:
        for finding in step.findings:
            if finding.code == PLAN and step.status is StepStatus.FAIL:
                for line in finding.evidence:
                    console.print(f"      plan: {escape(printable(line))}", soft_wrap=True)
            elif finding.severity in (Severity.FAIL, Severity.WARN):
                label = "FAIL" if finding.failed else "WARN"
                style = "bold red" if finding.failed else "yellow"
                console.print(
                    f"[{style}]{label}[/] [{escape(step.id)}] {escape(printable(finding.title))}",
                )
                if finding.fix:
                    console.print(Padding(f"-> {escape(printable(finding.fix))}", (0, 0, 0, 6)))
    console.print(f"Session record: {escape(str(path))}", soft_wrap=True)
    line = verdict(session)
    style = (
        "green" if line.startswith("OK") else "yellow" if line.startswith("WARN") else "bold red"
    )
    console.print(f"[{style}]{escape(line)}[/]")
