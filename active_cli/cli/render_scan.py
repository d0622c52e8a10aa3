"""Tables for ``active scan``: packs, stack summary, CAN, findings."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from active_cli import spec
from active_cli.cli.output import findings_table, stderr, stdout
from active_cli.model import PackReading, Severity, StackSnapshot

if TYPE_CHECKING:
    from active_cli.cli.connect import Connection


@contextlib.contextmanager
def progress(*, enabled: bool) -> Iterator[Callable[[int, str], None] | None]:
    """A one-line spinner on stderr while polling (only on a terminal)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    console = stderr()
    with console.status("scanning ...") as status:

        def update(address: int, what: str) -> None:
            status.update(f"{what} address {address} ..." if address else f"{what} ...")

        yield update


def describe_connection(snapshot: StackSnapshot, connection: Connection) -> StackSnapshot:
    port = f"simulator ({connection.sim})" if connection.sim else connection.port
    can = connection.can_options().describe() if connection.interface else None
    if connection.sim:
        can = "simulator (python-can virtual)"
    return dataclasses.replace(
        snapshot,
        port=port if connection.wants_rs485 else None,
        # The link's own baud (discovery sets it) wins: with --sim it is the site's.
        baud=snapshot.baud or (connection.baud if connection.wants_rs485 else None),
        can_interface=can if connection.wants_can else None,
    )


def _alarm_words(pack: PackReading) -> str:
    words = [*pack.protections, *pack.alarms]
    if not pack.alarm_read:
        words.append("alarms not read")
    return ", ".join(words) if words else "none"


def _known(value: float | None, fmt: str) -> str:
    """`value` formatted, or "?" when the pack did not report it (never a made-up 0)."""
    return "?" if value is None else format(value, fmt)


def _cells(pack: PackReading) -> str:
    low, high, spread = pack.min_cell_v, pack.max_cell_v, pack.cell_spread_mv
    if low is None or high is None or spread is None:
        return "?"
    text = f"{low:.3f}–{high:.3f} ({spread:.0f} mV)"
    if low < spec.CELL_UNDER_VOLTAGE_ALARM_V or high >= spec.CELL_OVER_VOLTAGE_ALARM_V:
        return f"[bold red]{text}[/]"
    return text


def packs_table(snapshot: StackSnapshot) -> Table:
    table = Table(title="Packs", title_justify="left")
    for name in ("addr", "serial", "firmware", "V", "A", "SOC %", "SOH %", "cycles"):
        table.add_column(name, justify="right" if name in ("V", "A", "SOC %", "SOH %") else "left")
    table.add_column("cells min–max V (spread)")
    table.add_column("max °C", justify="right")
    table.add_column("alarms")
    for pack in snapshot.packs:
        table.add_row(
            str(pack.address),
            escape(pack.serial or "?"),
            escape(pack.firmware or "?"),
            f"{pack.voltage_v:.2f}",
            f"{pack.current_a:+.1f}",
            _known(pack.soc_pct, ".0f"),
            _known(pack.soh_pct, ".0f"),
            str(pack.cycles),
            _cells(pack),
            _known(pack.max_temp_c, ".1f"),
            escape(_alarm_words(pack)),
        )
    return table


def summary_lines(snapshot: StackSnapshot) -> list[str]:
    lines: list[str] = []
    if snapshot.port:
        lines.append(
            f"RS485: {snapshot.port}" + (f" at {snapshot.baud} baud" if snapshot.baud else "")
        )
    packs = snapshot.packs
    if packs:
        total_a = sum(p.current_a for p in packs)
        volts = sum(p.voltage_v for p in packs) / len(packs)
        socs = [soc for p in packs if (soc := p.soc_pct) is not None]
        lowest = "lowest SOC " + (f"{min(socs):.0f} %" if socs else "?")
        if socs and len(socs) < len(packs):
            lowest += f" ({len(packs) - len(socs)} unknown)"
        lines.append(
            f"Stack: {len(packs)} pack(s), {volts:.2f} V, {total_a:+.1f} A, "
            f"{lowest}, {spec.usable_energy_kwh(len(packs)):.2f} kWh usable"
        )
        if snapshot.group_count is not None:
            master, count = snapshot.master_address, snapshot.group_count
            lines.append(f"Master at address {master} reports {count} pack(s)")
    can = snapshot.can
    if can is not None:
        lines.append(f"CAN: {snapshot.can_interface or ''}")
        state = can.state
        if state is not None:
            limits = state.limits
            lim = (
                f"CVL {limits.charge_voltage_v:.1f} V, CCL {limits.charge_current_a:.0f} A, "
                f"DCL {limits.discharge_current_a:.0f} A"
                if limits
                else "no limits message"
            )
            lines.append(
                f"  {state.protocol}: {state.voltage_v} V, {state.current_a} A, "
                f"SOC {state.soc_pct} %, {state.module_count} module(s); {lim}"
            )
        beat = (
            f"every {can.heartbeat_period_s:.2f} s"
            if can.heartbeat_period_s
            else ("once" if can.heartbeat_count else "none")
        )
        lines.append(f"  inverter heartbeat 0x305: {beat}")
    lines.append(f"Scan took {snapshot.duration_s:.1f} s")
    return lines


def show(snapshot: StackSnapshot) -> None:
    console = stdout()
    if snapshot.packs:
        console.print(packs_table(snapshot))
    for line in summary_lines(snapshot):
        console.print(escape(line))
    findings = sorted(snapshot.findings, key=lambda f: -f.severity.rank)
    console.print(findings_table(findings, title="Findings"))
    failed = sum(1 for f in findings if f.severity is Severity.FAIL)
    if failed:
        console.print(f"[bold red]{failed} finding(s) failed.[/]")


def show_no_reply(snapshot: StackSnapshot) -> None:
    """One line per silent path on stderr, with its hint (exit 3 follows).

    Printed even with --json, where the findings table is not: someone piping
    the JSON still sees why the command failed.
    """
    console = stderr()
    for finding in snapshot.findings:
        if finding.code in ("scan.no-packs", "can.no-battery-frames"):
            where = f" ({finding.detail})" if finding.detail else ""
            console.print(f"[bold red]error:[/] {escape(finding.title + where)}", soft_wrap=True)
            if finding.fix:
                console.print(f"[dim]hint:[/] {escape(finding.fix)}", soft_wrap=True)
